"""The events explorer's recommendation funnel: serves recorded as they are served, section events counted per
store, section and request (seeded through the collectors' HTTP endpoints), the SVG chart, and answers that stay
bounded whatever the database holds."""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.catalog import CATALOG
from demo_store.funnel import FUNNEL_MAX_BYTES, MAX_TEXT, STAGES, funnel_bytes, funnel_svg, store_of
from demo_store.store_db import Serve

BASE = "http://127.0.0.1:8000"
SECTIONS = "/api/storefront/v3/headless/sections"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
FUNNEL = "/_collector/funnel.json"
X_SHOP = {"x-shop": "demo-store.myshopify.com"}
SHIRT = CATALOG.product("classic-oxford-shirt")
assert SHIRT is not None
SVG = "{http://www.w3.org/2000/svg}"


def serve(client: TestClient, page_url: str, page_type: str, **extra: Any) -> dict[str, Any]:
    response = client.post(SECTIONS, json={"page_url": page_url, "page_type": page_type, "locale": "en", **extra},
                           headers=X_SHOP)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def glood(client: TestClient, name: str, page_url: str, section: Any, request_id: Any) -> None:
    """One Glood section event naming (section, request_id), posted like the tracker does."""
    track = {"section": section, "sectionServeId": str(uuid.uuid4()), "requestId": request_id, "products": []}
    body = {"event": {"id": str(uuid.uuid4()), "name": name, "type": "custom", "timestamp": "2026-04-16T10:29:58.123Z",
                      "data": {}, "customData": {"track": track}},
            "session_id": "visit-1", "shop_domain": "demo-store.myshopify.com", "channel": "headless",
            "page_type": "home", "page_url": page_url}
    assert client.post(GLOOD, json=body).status_code == 200


def genlook(client: TestClient, name: str, page_url: str, section: str, request_id: str) -> None:
    body = {"events": [{"event": name, "timestamp": "2026-04-16T10:29:58Z", "$insert_id": str(uuid.uuid4()),
                        "properties": {"glood_event": "glood:" + name, "section_id": section,
                                       "request_id": request_id}}],
            "context": {"$session_id": "visit-1", "$current_url": page_url}}
    assert client.post(GENLOOK, json=body).status_code == 200


def funnel(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get(FUNNEL, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    data: dict[str, Any] = response.json()
    return data


def by_store(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["store"]: entry for entry in data["stores"]}


def counts(*values: int) -> dict[str, int]:
    return dict(zip(STAGES, values, strict=True))


def test_store_of_reads_the_path() -> None:
    assert [store_of(u) for u in (f"{BASE}/headless/", f"{BASE}/headless", f"{BASE}/headless/cart?x=1",
                                  "/headless/products/x")] == ["headless"] * 4
    assert [store_of(u) for u in (f"{BASE}/", f"{BASE}/headlessly", f"{BASE}/products/x?h=/headless/", None, 7,
                                  "http://[::1")] == ["classic"] * 6


def test_sections_answers_and_page_renders_are_recorded_as_served(client: TestClient) -> None:
    """The stand-in's answer (request id, sections, product counts) and the sections a classic page renders are
    each recorded when served, under their store."""
    answer = serve(client, f"{BASE}/headless/products/{SHIRT.handle}", "product", product_id=int(SHIRT.id))
    client.get(SHIRT.url)
    client.get("/")
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    served = db.serves()
    api = [s for s in served if s.source == "api"]
    assert [(s.request_id, s.section_id, s.products) for s in api] == [
        (answer["request_id"], section["id"], len(section["products"])) for section in answer["sections"]]
    assert {s.page_type for s in api} == {"product"} and {store_of(s.page_url) for s in api} == {"headless"}
    page = [s for s in served if s.source == "page"]
    assert sorted(s.section_id for s in page) == ["221901", "221939", "221952"]
    assert {store_of(s.page_url) for s in page} == {"classic"}
    data = funnel(client)
    stores = by_store(data)
    assert stores["headless"]["counts"] == counts(3, 0, 0, 0, 0)
    assert stores["classic"]["counts"] == counts(3, 0, 0, 0, 0)
    assert data["requests_total"] == 3  # the API answer, the product page and the home page
    assert data["requests"][-1]["request_id"] == answer["request_id"]  # newest first
    assert data["requests"][-1]["sections"][0]["products"] == len(answer["sections"][0]["products"])


def test_funnel_counts_serves_reaching_each_stage_per_store_section_and_request(client: TestClient) -> None:
    """served -> rendered -> viewed -> clicked -> added to cart: serves with at least one such event (repeats
    counted as events only), rates of what was served; events naming no serve are counted apart."""
    home = f"{BASE}/headless/"
    product = f"{BASE}/headless/products/{SHIRT.handle}"
    first = serve(client, home, "home")
    second = serve(client, product, "product", product_id=int(SHIRT.id))
    trending = first["sections"][0]["id"]
    similar, fbt, below = (s["id"] for s in second["sections"])
    for name in ("glood:section:render", "glood:section:render", "glood:section:view", "glood:section:click",
                 "glood:section:add_to_cart"):
        glood(client, name, home, trending, first["request_id"])
    for section in (similar, fbt, below):
        glood(client, "glood:section:render", product, section, second["request_id"])
    glood(client, "glood:section:view", product, similar, second["request_id"])
    glood(client, "glood:section:click", product, similar, second["request_id"])
    glood(client, "glood:section:view", product, "221939", "not-a-served-request")
    glood(client, "page_viewed", product, similar, second["request_id"])  # not a section event

    data = funnel(client, destination="glood")
    headless = by_store(data)["headless"]
    assert headless["counts"] == counts(4, 4, 2, 2, 1)
    assert headless["rates"] == {"served": 1.0, "rendered": 1.0, "viewed": 0.5, "clicked": 0.5,
                                 "added_to_cart": 0.25}
    assert headless["events"] == {"rendered": 5, "viewed": 2, "clicked": 2, "added_to_cart": 1}
    assert headless["unmatched"] == {"rendered": 0, "viewed": 1, "clicked": 0, "added_to_cart": 0}
    sections = {row["section"]: row for row in headless["sections"]}
    assert sections[trending]["counts"] == counts(1, 1, 1, 1, 1)
    assert sections[trending]["recommendation_type"] == "trending"
    assert sections[similar]["counts"] == counts(1, 1, 1, 1, 0) and sections[similar]["unmatched"] == 1
    assert sections[below]["counts"] == counts(1, 1, 0, 0, 0) and sections[below]["rates"]["viewed"] == 0.0
    assert by_store(data)["classic"]["counts"] == counts(0, 0, 0, 0, 0)
    assert by_store(data)["classic"]["rates"]["rendered"] is None

    requests = {row["request_id"]: row for row in data["requests"]}
    assert list(requests) == [second["request_id"], first["request_id"]]
    assert requests[second["request_id"]]["counts"] == counts(3, 3, 1, 1, 0)
    assert requests[second["request_id"]]["store"] == "headless"
    assert requests[second["request_id"]]["source"] == "api"
    assert requests[second["request_id"]]["page_url"] == product
    assert [s["section"] for s in requests[second["request_id"]]["sections"]] == [similar, fbt, below]
    assert requests[first["request_id"]]["sections"][0]["events"] == {
        "rendered": 2, "viewed": 1, "clicked": 1, "added_to_cart": 1}

    # Genlook's copy of the events is a funnel of its own.
    assert by_store(funnel(client, destination="genlook"))["headless"]["counts"] == counts(4, 0, 0, 0, 0)
    genlook(client, "section:render", home, trending, first["request_id"])
    genlook(client, "section:view", home, trending, first["request_id"])
    assert by_store(funnel(client, destination="genlook"))["headless"]["counts"] == counts(4, 1, 1, 0, 0)
    # One store, fewer requests.
    only = funnel(client, store="headless", limit="1")
    assert [e["store"] for e in only["stores"]] == ["headless"]
    assert len(only["requests"]) == 1 and only["requests_omitted"] == 1 and only["requests_total"] == 2


def test_classic_pages_have_a_funnel_of_their_own(client: TestClient) -> None:
    """Sections rendered into a classic page are served by the page: events naming them count for the classic
    store, apart from the headless app's."""
    html = client.get(SHIRT.url).text
    request_id = re.search(r'data-glood-request-id="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    glood(client, "glood:section:render", BASE + SHIRT.url, "221939", request_id)
    glood(client, "glood:section:view", BASE + SHIRT.url, "221939", request_id)
    serve(client, f"{BASE}/headless/", "home")
    stores = by_store(funnel(client))
    assert stores["classic"]["counts"] == counts(2, 1, 1, 0, 0)
    assert stores["headless"]["counts"] == counts(1, 0, 0, 0, 0)
    assert funnel(client, store="classic")["requests"][0]["source"] == "page"


def test_reset_forgets_the_serves(client: TestClient) -> None:
    serve(client, f"{BASE}/headless/", "home")
    assert client.post("/_collector/reset").status_code == 200
    data = funnel(client)
    assert data["requests"] == [] and data["requests_total"] == 0
    assert all(entry["counts"] == counts(0, 0, 0, 0, 0) for entry in data["stores"])


@pytest.mark.parametrize("params", [{"destination": "other"}, {"store": "both"}, {"limit": "0"}, {"limit": "201"},
                                    {"limit": "lots"}, {"limit": "\u00b2"}])
def test_bad_parameters_are_a_400_in_the_error_shape(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(FUNNEL, params=params)
    assert response.status_code == 400 and response.json()["error"] == 400
    assert client.get("/_collector/funnel", params=params).status_code == 200  # the page falls back


def test_whatever_is_stored_the_funnel_answers_within_its_bound(client: TestClient) -> None:
    """Text that is not JSON, ids that are numbers, objects, huge or hold lone surrogates, thousands of serves:
    the funnel still answers, with ids as clipped text, within FUNNEL_MAX_BYTES."""
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    db.record_serves(Serve(f"r{n:05d}-" + "x" * 150, f"s{n % 7}", "trending", 4, "api", "home",
                           f"{BASE}/headless/?" + "q" * 3000) for n in range(3000))
    weird: list[tuple[str, Any, Any]] = [
        ("not json", None, None),
        (json.dumps({"customData": {"track": {"section": 221901, "requestId": 17}}}), None, None),
        (json.dumps({"customData": {"track": {"section": {"a": [1]}, "requestId": ["x"]}}}), None, None),
        (json.dumps({"customData": {"track": {"section": "\ud800" * 3, "requestId": "y" * 10_000}}}), None, None),
        (json.dumps({"customData": {"track": {"section": "s1", "requestId": "r00001-" + "x" * 150}}}), None, None),
        (json.dumps({"customData": "text"}), None, None),
        ('{"customData": {"track": {"section": Infinity}}}', None, None),
        (json.dumps([1, 2, 3]), None, None),
    ]
    with db._transaction() as conn:  # straight into the database: what a broken or older writer might leave
        request = conn.execute("INSERT INTO requests (destination, received_at, body) VALUES ('glood', 'x', '{}')"
                               ).lastrowid
        for n, (event, _s, _r) in enumerate(weird):
            conn.execute("INSERT INTO events (destination, event_id, name, session_id, client_id, page_url, request_id,"
                         " event) VALUES ('glood', ?, 'glood:section:view', NULL, NULL, ?, ?, ?)",
                         (f"w{n}", None if n % 2 else "http://[::1/headless/", request, event))
    response = client.get(FUNNEL, params={"limit": "200"})
    assert response.status_code == 200
    assert len(response.content) <= FUNNEL_MAX_BYTES
    data = response.json()
    assert data["requests_total"] == 3000
    assert len(data["requests"]) + data["requests_omitted"] == 3000 and data["requests"]
    assert all(len(r["request_id"]) <= MAX_TEXT and len(r["page_url"]) <= MAX_TEXT for r in data["requests"])
    classic = by_store(data)["classic"]
    assert sum(classic["unmatched"].values()) == 7  # every view but the one naming a served request
    assert all(len(row["section"]) <= MAX_TEXT for row in classic["sections"])
    assert "221901" in {row["section"] for row in classic["sections"]}
    headless = by_store(data)["headless"]
    assert headless["counts"]["served"] == 3000 and headless["counts"]["viewed"] == 1
    page = client.get("/_collector/funnel")
    assert page.status_code == 200 and "<svg" in page.text
    assert client.get("/_collector/events.json").status_code == 200


def test_requests_past_the_byte_bound_are_left_out_and_counted(client: TestClient) -> None:
    for _ in range(30):
        serve(client, f"{BASE}/headless/", "home")
    data = funnel(client, limit="30")
    assert data["requests_omitted"] == 0
    cut = funnel_bytes(data, max_bytes=8000)
    assert len(cut) <= 8000
    smaller = json.loads(cut)
    assert 0 < len(smaller["requests"]) < 30
    assert smaller["requests"] == data["requests"][:len(smaller["requests"])]  # the newest kept
    assert smaller["requests_omitted"] == 30 - len(smaller["requests"])
    assert smaller["stores"] == data["stores"]


# -- the chart and the page ----------------------------------------------------------------------------------

def test_svg_draws_one_bar_per_stage_to_scale_with_counts_and_rates() -> None:
    svg = funnel_svg(counts(8, 8, 4, 2, 0), title='Section <"x"> & co', width=400, label_width=100,
                     value_width=100)
    root = ET.fromstring(svg)  # well-formed XML, the SVG namespace
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    assert root.findtext(SVG + "title") == 'Section <"x"> & co'
    stages = root.findall(SVG + "g")
    assert [g.get("data-stage") for g in stages] == list(STAGES)
    assert [g.get("data-count") for g in stages] == ["8", "8", "4", "2", "0"]
    widths = [float(g.find(SVG + "rect").get("width")) for g in stages]  # type: ignore[union-attr]
    assert widths == [200.0, 200.0, 100.0, 50.0, 0.0]
    values = [g.findall(SVG + "text")[1].text for g in stages]
    assert values == ["8 · 100%", "8 · 100%", "4 · 50%", "2 · 25%", "0 · 0%"]
    assert [g.findall(SVG + "text")[0].text for g in stages] == [
        "Served", "Rendered", "Viewable", "Clicked", "Added to cart"]


def test_svg_of_nothing_served_has_no_rates_and_no_bars() -> None:
    root = ET.fromstring(funnel_svg(counts(0, 3, 0, 0, 0), title="t"))
    stages = root.findall(SVG + "g")
    assert [g.findall(SVG + "text")[1].text for g in stages] == ["0", "3", "0", "0", "0"]
    assert float(stages[1].find(SVG + "rect").get("width")) > 0  # type: ignore[union-attr]


def test_funnel_page_is_linked_from_the_explorer_and_draws_each_store_section_and_request(client: TestClient) -> None:
    first = serve(client, f"{BASE}/headless/", "home")
    glood(client, "glood:section:render", f"{BASE}/headless/", "221901", first["request_id"])
    client.get("/")
    explorer = client.get("/_collector").text
    assert 'href="/_collector/funnel?destination=glood"' in explorer
    response = client.get("/_collector/funnel", params={"destination": "genlook"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'id="glood-tracker-config"' not in page  # the explorer is not tracked
    assert 'href="/_collector?destination=genlook"' in page
    assert 'href="/_collector/funnel.json?destination=genlook"' in page
    for store in ("classic", "headless"):
        section = re.search(rf'<section class="funnel-store" id="funnel-{store}".*?</section>', page, re.S)
        assert section is not None
        assert section.group(0).count("<svg") == 2  # the store's chart and its one section's
        ET.fromstring(re.search(r"<svg.*?</svg>", section.group(0), re.S).group(0))  # type: ignore[union-attr]
    assert f'data-request="{first["request_id"]}"' in page
    assert page.count('class="funnel-chart"') == 6  # 2 stores, 2 sections, 2 requests

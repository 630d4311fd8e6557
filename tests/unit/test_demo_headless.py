"""The headless storefront's server side: the app shell at /headless/ and its deep links (the tracker's embed as
on every page, with channel "headless"; the route's page context as the classic page's), the catalogue it
renders from, the cart's JSON endpoints it uses, and the product links of its sections (static/store.js)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from page_parser import Page
from starlette.testclient import TestClient

from demo_store.app import Settings, create_app
from demo_store.catalog import CATALOG
from demo_store.recommend import api_section, recommend

BASE = "http://127.0.0.1:8000"
REPO = Path(__file__).resolve().parents[2]
SHIRT = CATALOG.product("classic-oxford-shirt")
TOTE = CATALOG.product("canvas-tote")
assert SHIRT is not None and TOTE is not None
NODE = shutil.which("node")
SAME_ORIGIN = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}



def shell(client: TestClient, path: str, status: int = 200) -> tuple[Page, Any]:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text), response


ROUTES = [("/headless/", "home", "/"), (f"/headless/products/{SHIRT.handle}", "product", SHIRT.url),
          ("/headless/collections/shirts", "collection", "/collections/shirts"),
          ("/headless/collections/all", "collection", "/collections/all"), ("/headless/cart", "cart", "/cart")]


@pytest.mark.parametrize("path, page_type, classic", ROUTES)
def test_every_route_is_the_same_shell_with_its_page_context(client: TestClient, path: str, page_type: str,
                                                             classic: str) -> None:
    """Deep links load the one app shell; its #glood-page is the classic page's (same shape, same cart), and
    the scripts are the store's and the app's, from 'self'."""
    client.post("/cart/add", data={"id": SHIRT.default_variant.id, "quantity": "2"})
    page, _ = shell(client, path)
    assert page.json["glood-page"]["page_type"] == page_type
    assert page.json["glood-page"] == Page(client.get(classic).text).json["glood-page"]
    assert page.json["glood-page"]["cart"]["lines"][0]["quantity"] == 2
    assert page.scripts() == ["/static/store.js", "/static/headless.js"]
    main = [a for t, a in page.elements if t == "main"]
    assert main == [{"class": "wrap", "id": "app", "data-state": "loading"}]
    assert ("link", {"rel": "icon", "href": "data:,"}) in page.elements


def test_the_shell_embeds_the_tracker_as_every_page_with_the_headless_channel(client: TestClient) -> None:
    """The config tag is the classic pages' plus channel "headless"; the inline sensor is the same script; the
    sensor comes before the app's scripts; the classic pages keep their config (no channel)."""
    page, response = shell(client, "/headless/")
    classic = Page(client.get("/").text)
    assert page.json["glood-tracker-config"] == {**classic.json["glood-tracker-config"], "channel": "headless"}
    assert "channel" not in classic.json["glood-tracker-config"]
    assert page.inline_scripts == classic.inline_scripts and len(page.inline_scripts) == 1
    sensor = next(i for i, (t, a) in enumerate(page.elements) if t == "script" and "data-runtime" in a)
    runtime = [a for t, a in page.elements if t == "script" and "data-runtime" in a][0]["data-runtime"]
    assert runtime == [a for t, a in classic.elements if t == "script" and "data-runtime" in a][0]["data-runtime"]
    app = next(i for i, (t, a) in enumerate(page.elements) if t == "script" and a.get("src") == "/static/headless.js")
    assert sensor < app
    # The CSP hashes the inline sensor; no inline event handlers anywhere (the CSP would refuse them).
    digest = base64.b64encode(hashlib.sha256(page.inline_scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["content-security-policy"]
    assert not [a for _t, a in page.elements if any(name.startswith("on") for name in a)]


def test_tracker_overrides_still_apply_and_the_page_sets_the_channel(tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "d.sqlite3"), tracker_overrides={"debug": True, "channel": "web"})
    with TestClient(create_app(settings), base_url=BASE) as c:
        config = Page(c.get("/headless/cart").text).json["glood-tracker-config"]
    assert config["debug"] is True and config["channel"] == "headless"


def test_the_catalogue_the_app_renders_from(client: TestClient) -> None:
    page, _ = shell(client, "/headless/collections/outerwear")
    catalog = page.json["headless-catalog"]
    assert catalog["shop"] == "demo-store.myshopify.com"
    assert catalog["navigation"] == ["shirts", "outerwear", "accessories"]
    assert [c["handle"] for c in catalog["collections"]] == ["shirts", "outerwear", "accessories", "all"]
    assert [p["handle"] for p in catalog["products"]] == [p.handle for p in CATALOG.products]
    shirt = catalog["products"][0]
    assert (shirt["id"], shirt["price"], shirt["collection"]) == (SHIRT.id, "49.00", "shirts")
    assert [v["id"] for v in shirt["variants"]] == [v.id for v in SHIRT.variants]
    nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', client.get("/headless/").text, re.S)
    assert nav is not None
    links = re.findall(r'href="([^"]+)"', nav.group(1))
    assert links == ["/headless/", "/headless/collections/shirts", "/headless/collections/outerwear",
                     "/headless/collections/accessories", "/headless/collections/all", "/headless/cart", "/",
                     "/_collector"]
    assert 'href="/headless/"' in client.get("/").text  # the classic store links to it


@pytest.mark.parametrize("path", ["/headless/products/nope", "/headless/collections/nope", "/headless/nowhere",
                                  f"/headless/products/{SHIRT.handle}/more", "/headless/cart/"])
def test_unknown_routes_are_the_shell_with_a_404_and_an_other_page(client: TestClient, path: str) -> None:
    page, _ = shell(client, path, status=404)
    assert page.json["glood-page"]["page_type"] == "other"
    assert page.scripts() == ["/static/store.js", "/static/headless.js"]


def test_headless_without_a_slash_goes_to_the_shell(client: TestClient) -> None:
    response = client.get("/headless", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/headless/"


def test_the_app_script_is_served(client: TestClient) -> None:
    response = client.get("/static/headless.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "/api/storefront/v3/headless/sections" in response.text
    assert "/api/storefront/v3/headless/init" not in response.text  # init is the tracker's


# -- the cart's JSON endpoints ---------------------------------------------------------------------------

def test_cart_js_answers_the_cart_as_the_page_context_has_it(client: TestClient) -> None:
    empty = client.get("/cart.js")
    assert empty.status_code == 200 and empty.json()["lines"] == [] and empty.json()["item_count"] == 0
    client.post("/cart/add.js", json={"id": SHIRT.variants[1].id, "quantity": 2}, headers=SAME_ORIGIN)
    cart = client.get("/cart.js").json()
    assert cart == Page(client.get("/headless/cart").text).json["glood-page"]["cart"]
    assert [(line["variant_id"], line["product_id"], line["quantity"]) for line in cart["lines"]] == [
        (SHIRT.variants[1].id, SHIRT.id, 2)]


def test_change_js_sets_a_line_by_number_or_variant_and_answers_the_cart(client: TestClient) -> None:
    for product in (SHIRT, TOTE):
        client.post("/cart/add.js", json={"id": product.default_variant.id, "quantity": 1}, headers=SAME_ORIGIN)
    answer = client.post("/cart/change.js", json={"line": 1, "quantity": 3}, headers=SAME_ORIGIN)
    assert answer.status_code == 200
    assert [(line["product_id"], line["quantity"]) for line in answer.json()["lines"]] == [(SHIRT.id, 3), (TOTE.id, 1)]
    answer = client.post("/cart/change.js", json={"id": TOTE.default_variant.id, "quantity": 0}, headers=SAME_ORIGIN)
    assert [line["product_id"] for line in answer.json()["lines"]] == [SHIRT.id]
    answer = client.post("/cart/change.js", json={"line": "1", "quantity": 0}, headers=SAME_ORIGIN)
    assert answer.json()["lines"] == [] and answer.json()["item_count"] == 0
    assert client.get("/cart.js").json()["lines"] == []


@pytest.mark.parametrize("body", [{"line": 2, "quantity": 0}, {"line": 0, "quantity": 0}, {"line": True, "quantity": 0},
                                  {"id": "1", "quantity": 0}, {"line": 1, "quantity": 100},
                                  {"line": 1, "quantity": "lots"}, [1]])
def test_change_js_refuses_what_it_cannot_do_and_changes_nothing(client: TestClient, body: Any) -> None:
    client.post("/cart/add.js", json={"id": SHIRT.default_variant.id, "quantity": 1})
    response = client.post("/cart/change.js", json=body)
    # Shopify's cart error shape: 400 for a body that is no object, 422 for what the cart cannot do.
    assert response.status_code == (400 if body == [1] else 422) == response.json()["status"]
    assert client.get("/cart.js").json()["item_count"] == 1


def test_change_js_is_same_origin_json_only(client: TestClient) -> None:
    client.post("/cart/add.js", json={"id": SHIRT.default_variant.id, "quantity": 1})
    cross = client.post("/cart/change.js", json={"line": 1, "quantity": 0},
                        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and cross.json()["error"] == 403
    text = client.post("/cart/change.js", content="line=1&quantity=0", headers={"content-type": "text/plain"})
    assert text.status_code == 415 and text.json()["status"] == 415
    assert client.get("/cart/change.js").status_code == 405
    assert client.get("/cart.js").json()["item_count"] == 1


# -- the sections' product links (static/store.js) -------------------------------------------------------

_RENDER = """
  const vm = require('vm'), fs = require('fs');
  const [file, section, serve] = process.argv.slice(1);
  const sandbox = {document: {readyState: 'loading', addEventListener() {}}, console};
  sandbox.window = sandbox;
  vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox);
  process.stdout.write(sandbox.demoStore.renderSection(JSON.parse(section), 'section-similar', JSON.parse(serve)));
"""


@pytest.mark.skipif(NODE is None, reason="needs node to run store.js")
def test_headless_sections_link_products_inside_the_app() -> None:
    """renderSection with productPath "/headless/products/" writes the same markup with the app's product links."""
    section = recommend(CATALOG, "product", SHIRT, ("similar_products",))[0]
    serve = {"requestId": section.request_id, "serveId": section.serve_id, "parentProductId": SHIRT.id}
    assert NODE is not None

    def run(extra: dict[str, str]) -> str:
        return subprocess.run([NODE, "-e", _RENDER, str(REPO / "static" / "store.js"),
                               json.dumps(api_section(CATALOG, section)), json.dumps({**serve, **extra})],
                              capture_output=True, text=True, timeout=30, check=True).stdout

    classic, headless = run({}), run({"productPath": "/headless/products/"})
    assert headless == classic.replace('href="/products/', 'href="/headless/products/')
    assert headless.count('href="/headless/products/') == len(section.products)
    assert f'data-glood-request-id="{section.request_id}"' in headless

"""`/_collector/events.json` stays bounded in bytes: big bodies are cut (with a marker), then events left out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.collector import EVENTS_MAX_BYTES, listing_json
from demo_store.store_db import StoredEvent

GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
EVENTS = "/_collector/events.json"


def big_glood(event_id: str, pad: int = 60_000) -> dict[str, Any]:
    return {"event": {"id": event_id, "name": "page_viewed", "data": {"pad": "x" * pad}},
            "session_id": "visit-1", "shop_domain": "demo-store.myshopify.com"}


def fill(client: TestClient, count: int, pad: int = 60_000) -> None:
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    for n in range(count):  # straight into the database: 300 HTTP posts would only be slower
        body = big_glood(f"e{n:03d}", pad)
        db.store_events("glood", json.dumps(body), [StoredEvent(f"e{n:03d}", "page_viewed", "visit-1", None, None,
                                                                body["event"])])


def test_300_events_of_60kb_stay_under_the_default_cap(client: TestClient) -> None:
    """300 events of ~60 KB (18 MB of bodies, twice over with `event`) make one answer of at most 2 MiB: the
    newest whole, the rest with body (then event) replaced by a size marker; headers count them."""
    fill(client, 300)
    response = client.get(EVENTS, params={"destination": "glood", "limit": "1000"})
    assert response.status_code == 200
    assert len(response.content) <= EVENTS_MAX_BYTES
    items = response.json()
    assert len(items) + int(response.headers["x-collector-omitted"]) == 300
    assert items[0]["event_id"] == "e299" and items[0]["body"] == big_glood("e299")
    cut = [i for i in items if isinstance(i["body"], dict) and set(i["body"]) == {"$truncated"}]
    assert len(cut) == int(response.headers["x-collector-truncated"]) > 0
    assert all(i["body"]["$truncated"] > 60_000 for i in cut)
    # Cut events keep what the tests and the page filter on.
    assert all(i["name"] == "page_viewed" and i["session_id"] == "visit-1" for i in items)


def test_max_bytes_parameter_bounds_the_answer(client: TestClient) -> None:
    """`max_bytes` asks for a smaller (or larger, up to 8 MiB) answer; out-of-range values are a 400."""
    fill(client, 40, pad=3_000)
    small = client.get(EVENTS, params={"max_bytes": "20000"})
    assert small.status_code == 200 and len(small.content) <= 20_000
    assert int(small.headers["x-collector-truncated"]) + int(small.headers["x-collector-omitted"]) > 0
    whole = client.get(EVENTS, params={"max_bytes": str(8 * 1024 * 1024)})
    assert whole.headers["x-collector-truncated"] == whole.headers["x-collector-omitted"] == "0"
    assert len(whole.json()) == 40
    for bad in ("1023", str(8 * 1024 * 1024 + 1), "lots", "\u00b2", "-5"):
        response = client.get(EVENTS, params={"max_bytes": bad})
        assert response.status_code == 400 and response.json()["error"] == 400


def test_small_listings_are_unchanged(client: TestClient) -> None:
    """Everyday answers are whole, with zero counts in the headers."""
    client.post(GLOOD, json=big_glood("small", pad=10))
    response = client.get(EVENTS)
    assert response.headers["x-collector-truncated"] == "0" and response.headers["x-collector-omitted"] == "0"
    assert response.json()[0]["body"] == big_glood("small", pad=10)


@pytest.mark.parametrize("limit", ["\u00b2", "\u0661", "0", "1001"])
def test_limit_must_be_plain_digits_in_range(client: TestClient, limit: str) -> None:
    """`limit` takes ASCII digits only ("²" used to pass isdigit() and then fail int()): 400, never 500."""
    response = client.get(EVENTS, params={"limit": limit})
    assert response.status_code == 400 and response.json()["error"] == 400


def test_listing_json_cuts_body_first_then_event_and_context() -> None:
    """Each item is as whole as fits: whole, then without body, then without event and context; then stop."""
    item = {"destination": "genlook", "event_id": "a", "name": "x:y", "session_id": None, "client_id": None,
            "page_url": None, "received_at": "t", "deliveries": 1, "body": {"b": "1" * 500},
            "event": {"e": "2" * 300}, "context": {"c": "3" * 300}}
    whole, truncated, omitted = listing_json([item], 10_000)
    assert (json.loads(whole), truncated, omitted) == ([item], 0, 0)
    no_body, truncated, _ = listing_json([item], 900)
    (cut,) = json.loads(no_body)
    assert truncated == 1 and set(cut["body"]) == {"$truncated"} and cut["event"] == item["event"]
    bare, truncated, _ = listing_json([item], 400)
    (cut,) = json.loads(bare)
    assert [set(cut[k]) for k in ("body", "event", "context")] == [{"$truncated"}] * 3
    nothing, truncated, omitted = listing_json([item, item], 100)
    assert (json.loads(nothing), truncated, omitted) == ([], 0, 2)

"""The demo store's stand-in collectors: validation, storage, dedupe, CORS, inspection routes (init:
test_demo_glood_init.py; tokens: test_demo_tokens.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.app import Settings, create_app

#: The store as the tests reach it (a loopback host: others are refused).
BASE = "http://127.0.0.1:8000"
INIT = "/api/storefront/v3/headless/init"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
ORIGIN = "http://localhost:9999"


def glood_body(event_id: str = "evt-1", name: str = "glood:section:view", **extra: Any) -> dict[str, Any]:
    return {"event": {"id": event_id, "name": name, "type": "custom", "timestamp": "2026-04-16T10:29:58.123Z",
                      "data": {}, "customData": {"track": {"section": "221939", "products": []}}},
            "session_id": "visit-1", "user_id": "user-1", "client_id": "client-1",
            "shop_domain": "demo-store.myshopify.com", "channel": "web", "page_type": "product",
            "page_url": "http://shop.test/products/x", **extra}


def genlook_item(insert_id: str, name: str = "section:view") -> dict[str, Any]:
    return {"event": name, "timestamp": "2026-04-16T10:29:58Z", "$insert_id": insert_id,
            "properties": {"glood_event": "glood:section:view"}}


def genlook_body(*ids: str) -> dict[str, Any]:
    return {"events": [genlook_item(i) for i in ids],
            "context": {"$current_url": "http://shop.test/", "$host": "shop.test", "$session_id": "visit-1",
                        "$pageview_id": "pv-1", "$viewport_width": 1280, "$viewport_height": 720,
                        "genlook_client_id": "client-1", "genlook_lib_version": "0.1.0"}}


def events(client: TestClient, destination: str, **filters: str) -> list[dict[str, Any]]:
    response = client.get("/_collector/events.json", params={"destination": destination, **filters})
    assert response.status_code == 200
    return response.json()


def stored_count(client: TestClient) -> int:
    return len(events(client, "glood")) + len(events(client, "genlook"))


def test_valid_glood_event_is_accepted_and_listed(client: TestClient) -> None:
    """A valid Glood body is answered {ok: true} and listed with its filter fields, body and event."""
    body = glood_body()
    response = client.post(GLOOD, json=body)
    assert response.status_code == 200 and response.json() == {"ok": True}
    (stored,) = events(client, "glood")
    assert stored["destination"] == "glood"
    assert (stored["event_id"], stored["name"], stored["session_id"], stored["client_id"]) == (
        "evt-1", "glood:section:view", "visit-1", "client-1")
    assert stored["body"] == body and stored["event"] == body["event"] and stored["context"] is None
    assert stored["deliveries"] == 1 and stored["received_at"].endswith("Z")


def test_shop_may_come_from_the_x_shop_header(client: TestClient) -> None:
    """A Glood body without shop_domain is accepted when x-shop is set."""
    body = glood_body()
    del body["shop_domain"]
    assert client.post(GLOOD, json=body, headers={"x-shop": "demo-store.myshopify.com"}).status_code == 200


def test_valid_genlook_batch_is_stored_per_event_with_context(client: TestClient) -> None:
    """A Genlook batch is answered {success: true}; each event is stored with the shared context, newest first."""
    body = genlook_body("a", "b", "c")
    response = client.post(GENLOOK, json=body)
    assert response.status_code == 200 and response.json() == {"success": True}
    stored = events(client, "genlook")
    assert [e["event_id"] for e in stored] == ["c", "b", "a"]
    assert all(e["context"] == body["context"] and e["body"] == body for e in stored)
    assert stored[0]["event"] == body["events"][2]
    assert (stored[0]["session_id"], stored[0]["client_id"], stored[0]["name"]) == ("visit-1", "client-1",
                                                                                    "section:view")


def test_text_plain_with_charset_is_accepted(client: TestClient) -> None:
    """Beacons may send text/plain; the charset parameter is ignored."""
    response = client.post(GENLOOK, content=json.dumps(genlook_body("a")),
                           headers={"content-type": "text/plain;charset=UTF-8"})
    assert response.status_code == 200


def test_events_json_filters_and_limits(client: TestClient) -> None:
    """events.json filters by name, session_id and client_id and honours limit."""
    client.post(GLOOD, json=glood_body("1", "page_viewed"))
    client.post(GLOOD, json=glood_body("2", "glood:section:view", session_id="visit-2"))
    client.post(GLOOD, json=glood_body("3", "page_viewed", client_id="client-2"))
    assert [e["event_id"] for e in events(client, "glood", name="page_viewed")] == ["3", "1"]
    assert [e["event_id"] for e in events(client, "glood", session_id="visit-2")] == ["2"]
    assert [e["event_id"] for e in events(client, "glood", client_id="client-2")] == ["3"]
    assert [e["event_id"] for e in events(client, "glood", limit="1")] == ["3"]
    assert events(client, "genlook") == []


def test_events_json_rejects_bad_parameters(client: TestClient) -> None:
    """An unknown destination or a bad limit is a 400 in the Error shape."""
    for params in ({"destination": "other"}, {"limit": "0"}, {"limit": "many"}):
        response = client.get("/_collector/events.json", params=params)
        assert response.status_code == 400 and response.json()["error"] == 400


def test_repeated_glood_event_is_stored_once_with_deliveries(client: TestClient) -> None:
    """The same event id twice is stored once with deliveries 2 and counted as a duplicate."""
    assert client.post(GLOOD, json=glood_body("dup")).status_code == 200
    assert client.post(GLOOD, json=glood_body("dup")).status_code == 200
    (stored,) = events(client, "glood")
    assert stored["deliveries"] == 2
    stats = client.get("/_collector/stats.json").json()["glood"]
    assert (stats["accepted"], stats["duplicates"]) == (1, 1)


def test_repeated_genlook_insert_id_is_stored_once(client: TestClient) -> None:
    """$insert_id dedupes within a batch and across batches."""
    client.post(GENLOOK, json=genlook_body("x", "x"))
    client.post(GENLOOK, json=genlook_body("x", "y"))
    stored = {e["event_id"]: e["deliveries"] for e in events(client, "genlook")}
    assert stored == {"x": 3, "y": 1}


def _with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the value at `path` replaced (or removed when value is ...)."""
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


BAD_GENLOOK_TIMESTAMP = _with(genlook_body("a", "b", "c", "d"), ("events", 3, "timestamp"), "yesterday")

MALFORMED = [
    # (id, path, body (dict = JSON, bytes = raw), headers, status, message fragment)
    ("glood-id-not-string", GLOOD, _with(glood_body(), ("event", "id"), 7), {}, 400,
     "event.id: 7 is not of type string"),
    ("glood-missing-session", GLOOD, _with(glood_body(), ("session_id",), ...), {}, 400,
     "body: 'session_id' is a required property"),
    ("glood-missing-event-name", GLOOD, _with(glood_body(), ("event", "name"), ...), {}, 400,
     "event: 'name' is a required property"),
    ("glood-unknown-name", GLOOD, glood_body(name="no_such_event"), {}, 400,
     "event.name: 'no_such_event' is not one of"),
    ("glood-bad-type", GLOOD, _with(glood_body(), ("event", "type"), "weird"), {}, 400, "event.type"),
    ("glood-bad-timestamp", GLOOD, _with(glood_body(), ("event", "timestamp"), "2026-02-30T10:00:00Z"), {}, 400,
     "event.timestamp: '2026-02-30T10:00:00Z' is not a valid date-time"),
    ("glood-data-not-object", GLOOD, _with(glood_body(), ("event", "data"), [1]), {}, 400,
     "event.data: [1] is not of type object"),
    ("glood-bad-channel", GLOOD, glood_body(channel="fax"), {}, 400, "channel: 'fax' is not one of"),
    ("glood-bad-page-type", GLOOD, glood_body(page_type="landing"), {}, 400, "page_type"),
    ("glood-device-os-number", GLOOD, glood_body(device={"os": 17}), {}, 400, "device.os: 17 is not of type string"),
    ("glood-no-shop", GLOOD, _with(glood_body(), ("shop_domain",), ...), {}, 400, "shop_domain"),
    ("glood-array-body", GLOOD, [glood_body()], {}, 400, "body: "),
    ("glood-invalid-json", GLOOD, b'{"event": ', {}, 400, "invalid JSON"),
    ("glood-nan", GLOOD, b'{"event": {"id": "1", "name": "page_viewed"}, "session_id": "s", "x": NaN}', {}, 400,
     "invalid JSON"),
    ("glood-not-utf8", GLOOD, b'{"session_id": "\xff"}', {}, 400, "invalid JSON"),
    ("glood-form-type", GLOOD, b"event=1", {"content-type": "application/x-www-form-urlencoded"}, 415,
     "content type"),
    ("glood-oversized", GLOOD, glood_body(event={"id": "big", "name": "page_viewed", "data": {"x": "y" * 70_000}}),
     {}, 413, "65536"),
    ("genlook-no-events", GENLOOK, {"events": [], "context": {}}, {}, 400, "events: has 0 items, at least 1"),
    ("genlook-51-events", GENLOOK, genlook_body(*map(str, range(51))), {}, 400, "events: has 51 items, at most 50"),
    ("genlook-bad-name", GENLOOK, _with(genlook_body("a"), ("events", 0, "event"), "Section View"), {}, 400,
     "events[0].event: 'Section View' does not match"),
    ("genlook-one-part-name", GENLOOK, _with(genlook_body("a"), ("events", 0, "event"), "view"), {}, 400,
     "events[0].event"),
    ("genlook-bad-timestamp", GENLOOK, BAD_GENLOOK_TIMESTAMP, {}, 400,
     "events[3].timestamp: 'yesterday' is not a valid date-time"),
    ("genlook-missing-insert-id", GENLOOK, _with(genlook_body("a"), ("events", 0, "$insert_id"), ...), {}, 400,
     "events[0]: '$insert_id' is a required property"),
    ("genlook-empty-insert-id", GENLOOK, genlook_body(""), {}, 400, "events[0].$insert_id: must not be empty"),
    ("genlook-properties-list", GENLOOK, _with(genlook_body("a"), ("events", 0, "properties"), []), {}, 400,
     "events[0].properties"),
    ("genlook-no-context", GENLOOK, _with(genlook_body("a"), ("context",), ...), {}, 400,
     "body: 'context' is a required property"),
    ("genlook-viewport-string", GENLOOK, _with(genlook_body("a"), ("context", "$viewport_width"), "1280"), {}, 400,
     "context.$viewport_width"),
    ("genlook-oversized", GENLOOK, genlook_body("z" * 70_000), {}, 413, "exceeds"),
    ("genlook-no-content-type", GENLOOK, json.dumps(genlook_body("a")).encode(), {"content-type": ""}, 415,
     "content type"),
    ("init-bad-page-type", INIT, {"page_type": "landing"}, {"x-shop": "demo-store.myshopify.com"}, 400,
     "page_type: 'landing' is not one of"),
    ("init-no-x-shop", INIT, {"page_type": "home"}, {}, 400, "x-shop: header is required"),
]


@pytest.mark.parametrize("path, body, headers, status, fragment",
                         [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_input_is_refused_and_nothing_is_stored(client: TestClient, path: str, body: Any,
                                                          headers: dict[str, str], status: int,
                                                          fragment: str) -> None:
    """Each malformed request gets its 4xx in the Error shape naming the problem; nothing is stored; it is counted."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(path, content=raw, headers={"content-type": "application/json", **headers})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == status and fragment in answer["message"], answer
    assert stored_count(client) == 0
    destination = "genlook" if path == GENLOOK else "glood"
    assert client.get("/_collector/stats.json").json()[destination]["rejected_by_status"] == {str(status): 1}


def test_oversized_body_without_content_length_is_refused_while_reading(client: TestClient) -> None:
    """A chunked body is cut off at 64 KiB (413) even with no Content-Length to check."""
    chunks = iter([b'{"events": [], "pad": "', b"x" * 40_000, b"x" * 40_000, b'"}'])
    response = client.post(GENLOOK, content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == 413


def test_a_batch_with_one_bad_event_stores_none_of_it(client: TestClient) -> None:
    """Validation covers the whole batch before anything is stored."""
    response = client.post(GENLOOK, json=BAD_GENLOOK_TIMESTAMP)
    assert response.status_code == 400
    assert events(client, "genlook") == []


def test_wrong_method_is_405_and_counted(client: TestClient) -> None:
    """GET on a collector is a 405 with Allow, in the Error shape, counted as a rejection."""
    response = client.get(GENLOOK)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"
    assert response.json()["error"] == 405
    assert client.get("/_collector/stats.json").json()["genlook"]["rejected"] == 1


@pytest.mark.parametrize("path", [INIT, GLOOD, GENLOOK, "/api/storefront/v3/headless/sections"])
def test_preflight_echoes_origin_and_allows_credentials(client: TestClient, path: str) -> None:
    """OPTIONS answers 204 with the echoed Origin and requested headers, credentials allowed."""
    response = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type,authorization"})
    assert response.status_code == 204
    headers = response.headers
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert headers["access-control-allow-headers"] == "content-type,authorization"
    assert headers["access-control-max-age"] == "600"
    assert "Origin" in headers["vary"]


def test_preflight_without_requested_headers_allows_the_usual_ones(client: TestClient) -> None:
    """With no Access-Control-Request-Headers, the usual content-type, authorization and x-shop are allowed."""
    response = client.options(GLOOD, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert response.headers["access-control-allow-headers"] == "content-type, authorization, x-shop"


def test_cors_headers_on_success_and_error_responses(client: TestClient) -> None:
    """POST answers, accepted or refused, carry the echoed Origin and Allow-Credentials."""
    ok = client.post(GENLOOK, json=genlook_body("a"), headers={"Origin": ORIGIN})
    bad = client.post(GENLOOK, json={"events": []}, headers={"Origin": ORIGIN})
    for response in (ok, bad):
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "Origin" in response.headers["vary"]
    assert bad.status_code == 400


def test_no_token_configured_means_no_auth(client: TestClient) -> None:
    """Without a public token Glood events need no token: any (or no) Authorization header is fine (tokens:
    test_demo_tokens.py)."""
    assert client.post(GLOOD, json=glood_body(), headers={"Authorization": "Bearer whatever"}).status_code == 200


def test_reset_clears_events_and_rejections_but_not_carts(client: TestClient) -> None:
    """POST /_collector/reset forgets events and rejection counts; the cart survives."""
    client.post("/cart/add", data={"id": "56640794886518", "quantity": "1"}, follow_redirects=False)
    client.post(GLOOD, json=glood_body())
    client.post(GENLOOK, json={"events": []})
    assert client.post("/_collector/reset").json() == {"ok": True}
    assert stored_count(client) == 0
    stats = client.get("/_collector/stats.json").json()
    assert stats["glood"]["accepted"] == 0 and stats["genlook"]["rejected"] == 0
    assert '"item_count":1' in client.get("/cart").text


def test_events_survive_a_restart(tmp_path: Path) -> None:
    """Events live in the SQLite file: a new app on the same file still lists them."""
    settings = Settings(db_path=str(tmp_path / "nested" / "demo.sqlite3"))
    with TestClient(create_app(settings), base_url=BASE) as first:
        first.post(GLOOD, json=glood_body("kept"))
    with TestClient(create_app(settings), base_url=BASE) as second:
        assert [e["event_id"] for e in events(second, "glood")] == ["kept"]

"""The collectors against hostile bodies: depth, non-finite numbers, lone surrogates, anchored names, and
answers in the Error shape (with CORS, counted) whatever goes wrong, 500s included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.api import MAX_JSON_DEPTH, parse_json

INIT = "/api/storefront/v3/headless/init"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
SECTIONS = "/api/storefront/v3/headless/sections"
ORIGIN = "http://localhost:9999"
#: x-shop names the shop (Glood's init and sections need it; the events endpoint takes it too).
JSON_HEADERS = {"content-type": "application/json", "Origin": ORIGIN, "x-shop": "demo-store.myshopify.com"}


def glood_text(data: str = "{}", name: str = "glood:section:view", event_id: str = "evt-1") -> str:
    """A valid Glood body as text, with `data` spliced in as raw JSON (so it can hold what json.dumps won't write)."""
    return ('{"event": {"id": "' + event_id + '", "name": "' + name + '", "type": "custom", '
            '"timestamp": "2026-04-16T10:29:58.123Z", "data": ' + data + ', "customData": {}}, '
            '"session_id": "visit-1", "client_id": "client-1", "shop_domain": "demo-store.myshopify.com"}')


def genlook_text(name: str = "section:view", properties: str = "{}") -> str:
    return ('{"events": [{"event": ' + json.dumps(name) + ', "timestamp": "2026-04-16T10:29:58Z", '
            '"$insert_id": "g-1", "properties": ' + properties + '}], "context": {"$session_id": "visit-1"}}')


def stats(client: TestClient, destination: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/_collector/stats.json").json()[destination]
    return answer


def listed(client: TestClient, destination: str) -> list[dict[str, Any]]:
    response = client.get("/_collector/events.json", params={"destination": destination})
    assert response.status_code == 200, response.text
    answer: list[dict[str, Any]] = response.json()
    return answer


def assert_refused(response: Any, status: int, fragment: str) -> None:
    """The Error shape with `status`, a message holding `fragment`, and the collector's CORS headers."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert set(answer) == {"error", "message"} and answer["error"] == status
    assert fragment in answer["message"], answer
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "Retry-After"


def nested_data(depth: int) -> str:
    """`event.data` such that the whole Glood body nests exactly `depth` levels (body, event, data: 3)."""
    arrays = depth - 3
    return '{"x": ' + "[" * arrays + "]" * arrays + "}"


DEEP = "[" * 30_000 + "]" * 30_000

HOSTILE = [
    # (id, path, raw body, message fragment)
    ("glood-30000-deep", GLOOD, glood_text(DEEP), f"nesting deeper than {MAX_JSON_DEPTH} levels"),
    ("genlook-10000-deep", GENLOOK, genlook_text(properties='{"a":' * 10_000 + "1" + "}" * 10_000),
     "nesting deeper than"),
    ("init-30000-deep-unclosed", INIT, "[" * 30_000, "nesting deeper than"),
    ("glood-65-deep", GLOOD, glood_text(nested_data(MAX_JSON_DEPTH + 1)), "nesting deeper than 64 levels"),
    ("glood-1e999", GLOOD, glood_text('{"price": 1e999}'), "1e999 is out of range"),
    ("glood-minus-1e400", GLOOD, glood_text('{"price": -1e400}'), "-1e400 is out of range"),
    ("genlook-1E999", GENLOOK, genlook_text(properties='{"x": 1E999}'), "out of range"),
    ("glood-lone-high-surrogate", GLOOD, glood_text('{"note": "\\ud800"}'), "event.data.note: string holds a lone"),
    ("glood-lone-low-surrogate-key", GLOOD, glood_text('{"\\udc00": 1}'), "event.data.\\udc00 (key)"),
    ("glood-lone-surrogate-id", GLOOD, glood_text(event_id="\\ud83d"), "event.id: string holds a lone"),
    ("genlook-lone-surrogate", GENLOOK, genlook_text(properties='{"a": ["ok", "\\udfff"]}'),
     "events[0].properties.a[1]: string holds a lone"),
    ("genlook-name-trailing-newline", GENLOOK, genlook_text("section:view\n"), "does not match"),
    ("genlook-name-trailing-crlf", GENLOOK, genlook_text("section:view\r\n"), "does not match"),
    ("genlook-timestamp-trailing-newline", GENLOOK, genlook_text().replace('58Z"', '58Z\\n"'),
     "is not a valid date-time"),
    ("genlook-timestamp-other-digits", GENLOOK, genlook_text().replace('"2026-', '"\u0662\u0660\u0662\u0666-'),
     "is not a valid date-time"),
]


@pytest.mark.parametrize("path, raw, fragment", [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_hostile_bodies_are_a_counted_400_and_store_nothing(client: TestClient, path: str, raw: str,
                                                            fragment: str) -> None:
    """Deep nesting, non-finite numbers, lone surrogates and unanchored names: 400 in the Error shape, with
    CORS, counted, nothing stored; the explorer still answers."""
    response = client.post(path, content=raw.encode("utf-8"), headers=JSON_HEADERS)
    assert_refused(response, 400, fragment)
    destination = "genlook" if path == GENLOOK else "glood"
    assert stats(client, destination)["rejected_by_status"] == {"400": 1}
    assert listed(client, "glood") == [] and listed(client, "genlook") == []
    assert stats(client, "glood")["visits"] == 0


def test_nesting_at_the_limit_and_brackets_in_strings_are_fine(client: TestClient) -> None:
    """64 levels in all are accepted, and brackets (and escaped quotes) inside strings do not count."""
    brackets = json.dumps({"text": "[" * 500 + '\\"{' * 100 + "\\"})
    assert client.post(GLOOD, content=glood_text(nested_data(MAX_JSON_DEPTH), event_id="at-limit"),
                       headers=JSON_HEADERS).status_code == 200
    assert client.post(GLOOD, content=glood_text(brackets, event_id="brackets"),
                       headers=JSON_HEADERS).status_code == 200
    assert {e["event_id"] for e in listed(client, "glood")} == {"at-limit", "brackets"}


@pytest.mark.parametrize("raw", ["1e308", "-1e-400", "123456789012345678901234567890", '"\\ud83d\\ude00"',
                                 '"\\u0000 nul"', '"caf\u00e9 \u20ac \U0001f600"'])
def test_finite_numbers_and_valid_unicode_are_accepted(client: TestClient, raw: str) -> None:
    """Big but finite numbers, underflow to zero, escaped surrogate pairs and NUL are fine, and listed back."""
    response = client.post(GLOOD, content=glood_text('{"v": ' + raw + "}").encode("utf-8"), headers=JSON_HEADERS)
    assert response.status_code == 200, response.text
    (stored,) = listed(client, "glood")
    assert stored["event"]["data"]["v"] == json.loads(raw)


def test_parse_json_is_linear_on_unterminated_strings() -> None:
    """An unterminated string full of escaped quotes is refused as invalid JSON (no quadratic scan)."""
    with pytest.raises(Exception) as caught:
        parse_json(b'"' + b'\\"' * 30_000)
    assert "invalid JSON" in str(caught.value)


# -- 500s are answers too ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, body, method", [
    (GLOOD, glood_text(), "store_events"),
    (GENLOOK, genlook_text(), "store_events"),
    (INIT, '{"page_type": "home"}', "add_visit"),
])
def test_an_internal_error_is_a_counted_500_in_the_error_shape_with_cors(client: TestClient, path: str,
                                                                         body: str, method: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """When storing fails, the collector still answers: 500, {error, message}, CORS, and counted."""
    db = client.app.state.demo.db  # type: ignore[attr-defined]

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(db, method, broken)
    response = client.post(path, content=body, headers=JSON_HEADERS)
    assert_refused(response, 500, "internal error (RuntimeError)")
    assert "disk on fire" not in response.text
    monkeypatch.undo()
    destination = "genlook" if path == GENLOOK else "glood"
    assert stats(client, destination)["rejected_by_status"] == {"500": 1}


def test_sections_internal_error_is_json_with_cors(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sections stand-in answers its failures in the Error shape too (not counted: it is no collector)."""
    import demo_store.recommend as recommend

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(recommend, "recommend", broken)
    response = client.post(SECTIONS, json={"page_type": "home", "page_url": "http://shop.test/", "locale": "en"},
                           headers=JSON_HEADERS)
    assert_refused(response, 500, "internal error (KeyError)")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "PROPFIND", "TRACE"])
def test_any_other_method_is_a_counted_405_with_cors(client: TestClient, method: str) -> None:
    """Methods Starlette would refuse on its own (plain text, no CORS) reach the collector's own 405."""
    response = client.request(method, GENLOOK, headers={"Origin": ORIGIN})
    assert_refused(response, 405, f"method {method} not allowed")
    assert response.headers["allow"] == "POST, OPTIONS"
    assert stats(client, "genlook")["rejected_by_status"] == {"405": 1}


def test_origin_null_gets_no_cors_grant(client: TestClient) -> None:
    """`Origin: null` (sandboxed frames, file: pages) is not echoed, on answers or preflights."""
    posted = client.post(GENLOOK, content=genlook_text(), headers={"content-type": "text/plain", "Origin": "null"})
    preflight = client.options(GLOOD, headers={"Origin": "null", "Access-Control-Request-Method": "POST"})
    for response in (posted, preflight):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers
    assert posted.status_code == 200


# -- the explorer never fails on what is stored --------------------------------------------------

STORED = [
    # (id, body text, event text, context text): as an older store, or another program, may have written them
    ("infinity", glood_text('{"p": 1e999}'), '{"id": "x", "data": {"p": Infinity, "n": NaN}}', None),
    ("lone-surrogate", glood_text('{"s": "\\ud800"}'), '{"id": "x", "data": {"\\udc00": "\\ud800"}}',
     '{"$session_id": "\\udbff"}'),
    ("not-json", "{oops", "also not json", "[1,"),
    ("too-deep", DEEP, DEEP, DEEP),
]


@pytest.mark.parametrize("body, event, context", [case[1:] for case in STORED], ids=[case[0] for case in STORED])
def test_explorer_lists_whatever_is_stored(client: TestClient, body: str, event: str, context: str | None) -> None:
    """Non-finite numbers, lone surrogates, text that is not JSON or nests too deep: events.json still answers
    200 with every row (shown as best it can), and the Events page renders."""
    client.post(GLOOD, content=glood_text(event_id="good"), headers=JSON_HEADERS)
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    with db._transaction() as conn:  # what an older version of the store could have written
        request_id = conn.execute("INSERT INTO requests (destination, received_at, body) VALUES (?, ?, ?)",
                                  ("glood", "2026-04-16T10:29:58.123Z", body)).lastrowid
        conn.execute("INSERT INTO events (destination, event_id, name, session_id, request_id, event, context) "
                     "VALUES ('glood', 'bad', 'page_viewed', ?, ?, ?, ?)",
                     ("visit-\ufffd", request_id, event, context))
    response = client.get("/_collector/events.json", params={"destination": "glood"})
    assert response.status_code == 200
    items = json.loads(response.content.decode("utf-8"))  # strict UTF-8: no lone surrogates went out
    assert [i["event_id"] for i in items] == ["bad", "good"]
    assert "Infinity" not in response.text.replace('"Infinity"', "") and "NaN" not in response.text.replace(
        '"NaN"', "")
    assert client.get("/_collector").status_code == 200
    assert client.get("/_collector/stats.json").json()["glood"]["accepted"] == 2


def test_explorer_survives_text_that_is_not_utf8(client: TestClient) -> None:
    """Bytes that are not UTF-8 in a TEXT column (another program's doing) are listed with U+FFFD."""
    client.post(GLOOD, content=glood_text(), headers=JSON_HEADERS)
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    with db._transaction() as conn:
        conn.execute("UPDATE events SET name = CAST(X'FF6F6B' AS TEXT)")
    (item,) = listed(client, "glood")
    assert item["name"] == "\ufffdok"

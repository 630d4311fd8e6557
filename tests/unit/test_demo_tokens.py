"""Tokens: the shop's public token (rendered into pages, required by init) and the per-visit tokens init issues
(required by Glood events when the shop has a public token); no server secret in any page."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

import demo_store.visits as visits
from demo_store.app import Settings, create_app

BASE = "http://127.0.0.1:8000"
INIT = "/api/storefront/v3/headless/init"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
SHOP = "demo-store.myshopify.com"
PUBLIC = "pub-3f9c2a"
ORIGIN = "http://localhost:9999"
X_SHOP = {"x-shop": SHOP}
PAGES = ["/", "/collections/shirts", "/collections/all", "/products/classic-oxford-shirt", "/cart", "/_collector",
         "/no/such/page", "/products/no-such-product"]


def glood_body(session_id: str, event_id: str = "evt-1", name: str = "glood:section:view") -> dict[str, Any]:
    return {"event": {"id": event_id, "name": name, "type": "standard" if ":" not in name else "custom",
                      "timestamp": "2026-04-16T10:29:58.123Z", "data": {}, "customData": {}},
            "session_id": session_id, "user_id": "user-1", "client_id": "client-1", "shop_domain": SHOP,
            "channel": "web", "page_type": "product", "page_url": "http://shop.test/products/x"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(db_path: str) -> Iterator[TestClient]:
    """A store with a public token: init needs it, Glood events need a visit token."""
    with TestClient(create_app(Settings(db_path=db_path, glood_public_token=PUBLIC)), base_url=BASE) as c:
        yield c


def init(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(INIT, json=body, headers={**X_SHOP, **bearer(PUBLIC)})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def glood_events(client: TestClient) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = client.get("/_collector/events.json", params={"destination": "glood"}).json()
    return answer


def stats(client: TestClient) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/_collector/stats.json").json()["glood"]
    return answer


def assert_401(response: Any, fragment: str) -> None:
    assert response.status_code == 401, response.text
    answer = response.json()
    assert set(answer) == {"error", "message"} and answer["error"] == 401 and fragment in answer["message"], answer
    assert response.headers["www-authenticate"] == "Bearer"


# -- init and the public token ------------------------------------------------------------------------

@pytest.mark.parametrize("headers, fragment", [
    ({}, "missing bearer token"),
    ({"Authorization": "Bearer"}, "missing bearer token"),
    ({"Authorization": f"Basic {PUBLIC}"}, "missing bearer token"),
    (bearer("pub-3f9c2b"), "invalid bearer token"),
    (bearer(PUBLIC + "x"), "invalid bearer token"),
])
def test_init_needs_the_public_token_when_one_is_set(client: TestClient, headers: dict[str, str],
                                                     fragment: str) -> None:
    """With a public token, init without it (or with another credential) is a 401 with CORS, counted, no visit."""
    response = client.post(INIT, json={}, headers={**X_SHOP, **headers, "Origin": ORIGIN})
    assert_401(response, fragment)
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert stats(client)["visits"] == 0 and stats(client)["rejected_by_status"] == {"401": 1}


def test_init_with_the_public_token_opens_a_visit(client: TestClient) -> None:
    """The scheme is case-insensitive ("bearer"); the answer carries the visit's token."""
    response = client.post(INIT, json={}, headers={**X_SHOP, "Authorization": f"bearer {PUBLIC}"})
    assert response.status_code == 200 and response.json()["token"]
    assert stats(client)["visits"] == 1


def test_x_shop_is_checked_before_the_token(client: TestClient) -> None:
    """Without x-shop the shop (and so its public token) is unknown: 400, not 401."""
    assert client.post(INIT, json={}, headers=bearer(PUBLIC)).status_code == 400


# -- events and the visit token -----------------------------------------------------------------------

def test_events_with_the_visit_token_are_accepted(client: TestClient) -> None:
    """A visit's events carrying its token (as the tracker's fetch sends them: x-shop, JSON) are stored."""
    visit = init(client)
    response = client.post(GLOOD, json=glood_body(visit["visit_id"]),
                           headers={**bearer(visit["token"]), **X_SHOP, "Origin": ORIGIN})
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert [e["event_id"] for e in glood_events(client)] == ["evt-1"]


def test_a_forged_checkout_completed_is_refused_and_stores_nothing(client: TestClient) -> None:
    """Someone who read the page (public token included) cannot forge events: a made-up token, the public token,
    or none at all is a 401 before the body is read; nothing is stored; each refusal is counted."""
    visit = init(client)
    forged = glood_body(visit["visit_id"], "forged-1", "checkout_completed")
    forged["event"]["data"] = {"checkout": {"totalPrice": {"amount": 99999, "currencyCode": "USD"}}}
    for headers in (bearer("made-up-token-0123456789"), bearer(PUBLIC), {}, {"Authorization": visit["token"]}):
        assert_401(client.post(GLOOD, json=forged, headers={**headers, **X_SHOP}), "bearer token")
    assert glood_events(client) == []
    assert stats(client)["rejected_by_status"] == {"401": 4} and stats(client)["accepted"] == 0


def test_a_forged_token_is_refused_even_with_a_broken_body(client: TestClient) -> None:
    """The token is checked before the body: a forged token with garbage is a 401, not a 400."""
    response = client.post(GLOOD, content=b'{"event": ', headers={**bearer("forged"), "content-type": "text/plain"})
    assert_401(response, "invalid bearer token")


def test_a_token_only_serves_its_own_visit(client: TestClient) -> None:
    """Visit A's token on an event of visit B: 401, nothing stored."""
    first, second = init(client), init(client)
    response = client.post(GLOOD, json=glood_body(second["visit_id"]), headers=bearer(first["token"]))
    assert_401(response, "session_id: the bearer token was issued for another visit")
    assert glood_events(client) == [] and stats(client)["rejected_by_status"] == {"401": 1}
    assert client.post(GLOOD, json=glood_body(second["visit_id"]), headers=bearer(second["token"])).status_code == 200


def test_a_token_only_serves_its_own_shop(client: TestClient) -> None:
    """The visit's token with another shop in the body: 401."""
    visit = init(client)
    body = {**glood_body(visit["visit_id"]), "shop_domain": "other.myshopify.com"}
    assert_401(client.post(GLOOD, json=body, headers=bearer(visit["token"])), "issued for another shop")


def test_visit_tokens_expire(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token is good for 24 h from init (visit_token_ttl): a second before, accepted; at expiry, 401."""
    issued_at = 1_800_000_000.0
    monkeypatch.setattr(visits, "now", lambda: issued_at)
    visit = init(client)
    monkeypatch.setattr(visits, "now", lambda: issued_at + 24 * 3600 - 1)
    assert client.post(GLOOD, json=glood_body(visit["visit_id"], "in-time"),
                       headers=bearer(visit["token"])).status_code == 200
    monkeypatch.setattr(visits, "now", lambda: issued_at + 24 * 3600)
    assert_401(client.post(GLOOD, json=glood_body(visit["visit_id"], "late"), headers=bearer(visit["token"])),
               "visit token expired")
    assert [e["event_id"] for e in glood_events(client)] == ["in-time"]
    fresh = init(client)
    assert client.post(GLOOD, json=glood_body(fresh["visit_id"], "renewed"),
                       headers=bearer(fresh["token"])).status_code == 200


def test_the_token_lifetime_is_a_setting(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visits, "now", lambda: 1000.0)
    settings = Settings(db_path=db_path, glood_public_token=PUBLIC, visit_token_ttl=60)
    with TestClient(create_app(settings), base_url=BASE) as client:
        visit = init(client)
        monkeypatch.setattr(visits, "now", lambda: 1060.0)
        assert_401(client.post(GLOOD, json=glood_body(visit["visit_id"]), headers=bearer(visit["token"])),
                   "expired")


def test_tokens_survive_a_restart(db_path: str) -> None:
    """Tokens live in SQLite with their visit: another app on the same file accepts them."""
    settings = Settings(db_path=db_path, glood_public_token=PUBLIC)
    with TestClient(create_app(settings), base_url=BASE) as first:
        visit = init(first)
    with TestClient(create_app(settings), base_url=BASE) as second:
        assert second.post(GLOOD, json=glood_body(visit["visit_id"]), headers=bearer(visit["token"])).status_code == 200


def test_genlook_needs_no_token(client: TestClient) -> None:
    """Only Glood's endpoints use the tokens."""
    body = {"events": [{"event": "section:view", "timestamp": "2026-04-16T10:29:58Z", "$insert_id": "g"}],
            "context": {}}
    assert client.post(GENLOOK, json=body).status_code == 200


def test_without_a_public_token_nothing_needs_a_token(db_path: str) -> None:
    """No public token: init needs none (and still issues a visit token), events need none — beacons carry no
    headers — and whatever Authorization they carry is ignored."""
    with TestClient(create_app(Settings(db_path=db_path)), base_url=BASE) as client:
        answer = client.post(INIT, json={}, headers=X_SHOP).json()
        assert answer["token"]
        beacon = client.post(GLOOD, json=glood_body(answer["visit_id"], "beacon"),
                             headers={"content-type": "text/plain;charset=UTF-8"})
        other = client.post(GLOOD, json=glood_body("another-visit", "other"), headers=bearer("whatever"))
        assert (beacon.status_code, other.status_code) == (200, 200)


# -- no secret in pages -------------------------------------------------------------------------------

def test_settings_and_config_hold_no_server_secret() -> None:
    """glood_token is gone; the config tag names only public things."""
    names = {f.name for f in dataclasses.fields(Settings)}
    assert "glood_token" not in names and "glood_public_token" in names
    assert set(Settings(glood_public_token=PUBLIC).tracker_config()) == {
        "shop_domain", "glood_url", "genlook_url", "glood_public_token"}


@pytest.mark.parametrize("path", PAGES)
def test_no_page_holds_a_secret(client: TestClient, path: str) -> None:
    """Pages (404s included) carry the public token in the config tag (it is public by definition), but no visit
    token and nothing named glood_token; the config tag is the only place the public token appears."""
    visit = init(client)
    response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert visit["token"] not in html
    assert "glood_token" not in html and "glood-token" not in html
    config = re.search(r'<script type="application/json" id="glood-tracker-config">(.*?)</script>', html)
    if path == "/_collector":  # not tracked: no config at all
        assert config is None and PUBLIC not in html
        return
    assert config is not None and f'"glood_public_token":"{PUBLIC}"' in config.group(1)
    assert html.count(PUBLIC) == 1

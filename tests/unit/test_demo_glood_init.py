"""Glood's init stand-in as the notes document it (shared/notes/glood-headless-flow.md §1): x-shop, the
optional body fields, the answer's shape, analytics on or off, CORS for cross-origin callers."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.__main__ import parse_args, settings_from_args
from demo_store.app import Settings, create_app

BASE = "http://127.0.0.1:8000"
INIT = "/api/storefront/v3/headless/init"
SHOP = "demo-store.myshopify.com"
ORIGIN = "http://localhost:9999"
X_SHOP = {"x-shop": SHOP}
FULL_BODY = {"user_id": "user-1", "client_id": "client-1", "customer_id": "7788", "page_type": "product",
             "page_url": "http://shop.test/products/classic-oxford-shirt"}


def stats(client: TestClient) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/_collector/stats.json").json()["glood"]
    return answer


def visit_rows(db_path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM visits")]


def test_init_answers_the_documented_shape(client: TestClient, db_path: str) -> None:
    """visit_id, the request's ids echoed, visitor, config and a visit token; the visit is counted and stored
    with the token's digest and an expiry 24 h on, never the token itself."""
    response = client.post(INIT, json=FULL_BODY, headers=X_SHOP)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"visit_id", "user_id", "client_id", "customer_id", "visitor", "config", "token"}
    assert uuid.UUID(answer["visit_id"]).version == 4
    assert (answer["user_id"], answer["client_id"], answer["customer_id"]) == ("user-1", "client-1", "7788")
    assert answer["visitor"] == {"browsed_products": [], "cart_products": [], "purchased_products": []}
    assert answer["config"] == {"shop": {"money_format": "${{amount}}", "currency": "USD"},
                                "integrations_enabled": False, "product_review_app": "", "analytics_enabled": True,
                                "skip_parent_product": False}
    token = answer["token"]
    assert isinstance(token, str) and len(token) >= 40
    assert stats(client)["visits"] == 1
    (row,) = visit_rows(db_path)
    assert (row["visit_id"], row["shop_domain"], row["user_id"], row["client_id"], row["customer_id"],
            row["page_type"], row["page_url"]) == (answer["visit_id"], SHOP, "user-1", "client-1", "7788",
                                                   "product", FULL_BODY["page_url"])
    assert token not in json.dumps(row) and len(row["token_sha256"]) == 64
    assert 24 * 3600 - 60 < row["expires_at"] - time.time() <= 24 * 3600


@pytest.mark.parametrize("body", [{}, {"user_id": "", "client_id": ""}, {"page_type": "home"}])
def test_init_assigns_ids_when_the_request_has_none(client: TestClient, body: dict[str, Any]) -> None:
    """Without (or with empty) user_id/client_id the server assigns them; every visit gets its own ids and token."""
    first, second = (client.post(INIT, json=body, headers=X_SHOP).json() for _ in range(2))
    for answer in (first, second):
        assert uuid.UUID(answer["user_id"]) and uuid.UUID(answer["client_id"])
        assert answer["customer_id"] is None
    for key in ("visit_id", "user_id", "client_id", "token"):
        assert first[key] != second[key]
    assert stats(client)["visits"] == 2


def test_unknown_fields_are_accepted_and_ignored(client: TestClient, db_path: str) -> None:
    """Fields the notes do not list (an older tracker's shop_domain and channel, anything else) are ignored: as
    with the events endpoint, the documented object does not forbid more properties."""
    body = {"shop_domain": "other.myshopify.com", "channel": "fax", "extra": {"a": [1]}, "client_id": "c"}
    response = client.post(INIT, json=body, headers=X_SHOP)
    assert response.status_code == 200, response.text
    assert not {"shop_domain", "channel", "extra"} & set(response.json())
    assert visit_rows(db_path)[0]["shop_domain"] == SHOP


@pytest.mark.parametrize("headers, fragment", [
    ({}, "x-shop: header is required"),
    ({"x-shop": "  "}, "x-shop: header is required"),
    ({"x-shop": "other.myshopify.com"}, "x-shop: 'other.myshopify.com' is not this store's shop"),
])
def test_init_needs_this_shop_in_x_shop(client: TestClient, headers: dict[str, str], fragment: str) -> None:
    """x-shop is required and must name this store's shop (a body shop_domain does not replace it): 400 in the
    Error shape with CORS, counted, no visit."""
    response = client.post(INIT, json={"shop_domain": SHOP}, headers={**headers, "Origin": ORIGIN})
    assert response.status_code == 400
    answer = response.json()
    assert set(answer) == {"error", "message"} and answer["error"] == 400 and fragment in answer["message"]
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert stats(client)["visits"] == 0 and stats(client)["rejected_by_status"] == {"400": 1}


def test_x_shop_is_compared_without_case(client: TestClient) -> None:
    """Domains are case-insensitive."""
    assert client.post(INIT, json={}, headers={"x-shop": " Demo-Store.MyShopify.com "}).status_code == 200


@pytest.mark.parametrize("body, fragment", [
    ({"user_id": 7}, "user_id: 7 is not of type string"),
    ({"client_id": ["c"]}, "client_id: ['c'] is not of type string"),
    ({"customer_id": None}, "customer_id: None is not of type string"),
    ({"customer_id": 42}, "customer_id: 42 is not of type string"),
    ({"page_type": "landing"}, "page_type: 'landing' is not one of home, product, collection, cart, checkout, "
                               "order_status, search, other"),
    ({"page_url": {"href": "x"}}, "page_url: {'href': 'x'} is not of type string"),
    ([], "body: [] is not of type object"),
    ("init", "body: 'init' is not of type object"),
])
def test_init_validates_the_documented_fields(client: TestClient, body: Any, fragment: str) -> None:
    """A documented field of the wrong type or value: 400 naming its JSON path; no visit, counted."""
    response = client.post(INIT, json=body, headers=X_SHOP)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == 400 and fragment in answer["message"], answer
    assert stats(client)["visits"] == 0 and stats(client)["rejected_by_status"] == {"400": 1}


@pytest.mark.parametrize("page_type", ["home", "product", "collection", "cart", "checkout", "order_status", "search",
                                       "other"])
def test_every_documented_page_type_is_accepted(client: TestClient, page_type: str) -> None:
    assert client.post(INIT, json={"page_type": page_type}, headers=X_SHOP).status_code == 200


def test_analytics_can_be_turned_off(db_path: str) -> None:
    """Settings(analytics_enabled=False) (CLI --analytics-disabled): init answers config.analytics_enabled false
    (and still opens the visit)."""
    with TestClient(create_app(Settings(db_path=db_path, analytics_enabled=False)), base_url=BASE) as client:
        answer = client.post(INIT, json={}, headers=X_SHOP).json()
        assert answer["config"]["analytics_enabled"] is False
        assert answer["visit_id"] and stats(client)["visits"] == 1


def test_cli_flags_reach_the_settings() -> None:
    """--analytics-disabled and --glood-public-token set the settings; the old --glood-token is gone."""
    assert settings_from_args(parse_args([])).analytics_enabled is True
    assert settings_from_args(parse_args([])).glood_public_token is None
    settings = settings_from_args(parse_args(["--analytics-disabled", "--glood-public-token", "pub-1"]))
    assert (settings.analytics_enabled, settings.glood_public_token) == (False, "pub-1")
    assert settings_from_args(parse_args(["--glood-public-token", ""])).glood_public_token is None
    with pytest.raises(SystemExit):
        parse_args(["--glood-token", "s3cret"])


def test_preflight_allows_x_shop_authorization_and_content_type(client: TestClient) -> None:
    """A cross-origin init (fetch with x-shop, Authorization and Content-Type) is preflighted: the preflight
    echoes the Origin and allows those headers (asked for or not); the POST's answer carries CORS too."""
    asked = client.options(INIT, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "authorization,content-type,x-shop"})
    default = client.options(INIT, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    for response in (asked, default):
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"x-shop", "authorization", "content-type"} <= allowed
    posted = client.post(INIT, json={}, headers={**X_SHOP, "Origin": ORIGIN, "Authorization": "Bearer anything"})
    assert posted.status_code == 200
    assert posted.headers["access-control-allow-origin"] == ORIGIN
    assert posted.headers["access-control-expose-headers"] == "Retry-After"
    assert stats(client)["visits"] == 1


def test_an_older_database_file_gets_the_new_visit_columns(tmp_path: Path) -> None:
    """A store file whose visits table predates tokens is brought up to date when opened; old visits stay."""
    path = str(tmp_path / "old.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE visits (visit_id TEXT PRIMARY KEY, shop_domain TEXT NOT NULL, client_id TEXT,"
                     " user_id TEXT, channel TEXT, page_url TEXT, created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO visits VALUES ('old', 's', 'c', 'u', 'web', 'http://x/', '2026-01-01T00:00:00Z')")
    conn.close()
    with TestClient(create_app(Settings(db_path=path)), base_url=BASE) as client:
        assert client.post(INIT, json={}, headers=X_SHOP).status_code == 200
        assert stats(client)["visits"] == 2


def test_filter_bots_flag_turns_on_the_trackers_bot_filter() -> None:
    """`--filter-bots` puts filter_bots in every page's tracker config; without it the key is absent."""
    assert settings_from_args(parse_args(["--filter-bots"])).tracker_config()["filter_bots"] is True
    assert "filter_bots" not in settings_from_args(parse_args([])).tracker_config()

"""The demo store's AJAX Cart API as Shopify's: bodies as JSON, urlencoded or multipart form data, single items and
`items` arrays, Shopify's error shape, bundled section rendering, locale-aware URLs, change/update/clear."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.cart import parse_cart_body
from demo_store.catalog import CATALOG

SHIRT = CATALOG.product("classic-oxford-shirt")
TOTE = CATALOG.product("canvas-tote")
COAT = CATALOG.product("wool-overcoat")
assert SHIRT is not None and TOTE is not None and COAT is not None
SOLD_OUT = next(v for v in COAT.variants if not v.available)
SCRIPT = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/javascript"}


def lines(client: TestClient) -> list[tuple[str, int]]:
    return [(line["variant_id"], line["quantity"]) for line in client.get("/cart.js").json()["lines"]]


def test_add_js_takes_multipart_form_data_as_fetch_sends_a_form(client: TestClient) -> None:
    """`fetch('/cart/add.js', {body: new FormData(form)})`: multipart; the answer is the line (numbers, cents)."""
    answer = client.post("/cart/add.js", files={"id": (None, SHIRT.variants[1].id), "quantity": (None, "2")})
    assert answer.status_code == 200, answer.text
    line = answer.json()
    assert (line["variant_id"], line["product_id"], line["quantity"], line["price"]) == (
        int(SHIRT.variants[1].id), int(SHIRT.id), 2, 4900)
    assert line["key"].startswith(SHIRT.variants[1].id + ":") and line["line_price"] == 9800
    assert lines(client) == [(SHIRT.variants[1].id, 2)]


def test_add_js_takes_urlencoded_and_json_items_arrays(client: TestClient) -> None:
    """`items[][id]` form fields and a JSON `items` array add every item; the answer is `{"items": [...]}`."""
    form = client.post("/cart/add.js", content=f"items[][id]={SHIRT.default_variant.id}&items[][quantity]=1"
                       f"&items[][id]={TOTE.default_variant.id}&items[][quantity]=3",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200, form.text
    assert [(i["variant_id"], i["quantity"]) for i in form.json()["items"]] == [
        (int(SHIRT.default_variant.id), 1), (int(TOTE.default_variant.id), 3)]
    answer = client.post("/cart/add.js", json={"items": [{"id": int(TOTE.default_variant.id), "quantity": 1}]})
    assert [(i["variant_id"], i["quantity"]) for i in answer.json()["items"]] == [(int(TOTE.default_variant.id), 4)]
    assert lines(client) == [(SHIRT.default_variant.id, 1), (TOTE.default_variant.id, 4)]


@pytest.mark.parametrize("variant, words", [(SOLD_OUT.id, "already sold out"), ("123", "no variant '123'")])
def test_refused_adds_answer_shopifys_422_and_change_nothing(client: TestClient, variant: str, words: str) -> None:
    """An unknown or sold-out variant: 422 `{"status", "message": "Cart Error", "description"}`; an `items` add
    with one refused item adds none of them (all or nothing)."""
    for body in ({"id": variant, "quantity": 1},
                 {"items": [{"id": SHIRT.default_variant.id, "quantity": 1}, {"id": variant, "quantity": 1}]}):
        refused = client.post("/cart/add.js", json=body)
        assert refused.status_code == 422
        data = refused.json()
        assert set(data) == {"status", "message", "description"} and data["status"] == 422
        assert data["message"] == "Cart Error" and words in data["description"]
    assert lines(client) == []


def test_cart_add_answers_json_to_a_script_and_redirects_a_form_post(client: TestClient) -> None:
    """/cart/add (no .js) as Dawn calls it answers JSON; a no-JS form post is 303 to the cart; a refused one is a
    422 store page, or Shopify's JSON error to a script."""
    answer = client.post("/cart/add", data={"id": TOTE.default_variant.id, "quantity": "1"}, headers=SCRIPT)
    assert answer.status_code == 200 and answer.json()["variant_id"] == int(TOTE.default_variant.id)
    posted = client.post("/cart/add", data={"id": TOTE.default_variant.id}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/cart"
    page = client.post("/cart/add", data={"id": SOLD_OUT.id}, follow_redirects=False)
    assert page.status_code == 422 and "text/html" in page.headers["content-type"] and "sold out" in page.text
    script = client.post("/cart/add", data={"id": SOLD_OUT.id}, headers=SCRIPT)
    assert script.status_code == 422 and script.json()["status"] == 422
    assert lines(client) == [(TOTE.default_variant.id, 2)]


def test_sections_are_rendered_in_the_answer(client: TestClient) -> None:
    """Bundled section rendering: `sections` (comma list or array) answered as `{id: html}`, null for a section the
    store does not have; the drawer shows the cart after the change."""
    answer = client.post("/cart/add", files={"id": (None, SHIRT.default_variant.id), "quantity": (None, "2"),
                                             "sections": (None, "cart-drawer,cart-icon-bubble,nope"),
                                             "sections_url": (None, "/products/classic-oxford-shirt")},
                         headers=SCRIPT)
    sections = answer.json()["sections"]
    assert set(sections) == {"cart-drawer", "cart-icon-bubble", "nope"} and sections["nope"] is None
    assert "Cart (2)" in sections["cart-icon-bubble"]
    assert 'data-item-count="2"' in sections["cart-drawer"] and SHIRT.title in sections["cart-drawer"]
    assert sections["cart-drawer"].count('action="/cart/change"') == 3  # minus, plus, remove
    change = client.post("/cart/change.js", json={"line": 1, "quantity": 0, "sections": ["cart-drawer"]})
    assert "Your cart is empty" in change.json()["sections"]["cart-drawer"]
    too_many = client.post("/cart/change.js", json={"line": 1, "quantity": 0, "sections": ["a"] * 6})
    assert too_many.status_code == 400 and too_many.json()["status"] == 400


def test_change_js_takes_a_line_key_and_answers_shopifys_items(client: TestClient) -> None:
    """change.js by line key or variant id, JSON or form; the answer has the page context's cart and `items`."""
    key = client.post("/cart/add.js", json={"id": SHIRT.default_variant.id, "quantity": 3}).json()["key"]
    answer = client.post("/cart/change.js", json={"id": key, "quantity": 1})
    assert answer.status_code == 200 and answer.json()["items"][0]["quantity"] == 1
    assert answer.json()["lines"][0]["quantity"] == 1 and answer.json()["item_count"] == 1
    form = client.post("/cart/change", data={"id": SHIRT.default_variant.id, "quantity": "2"}, headers=SCRIPT)
    assert form.json()["items"][0]["quantity"] == 2
    assert lines(client) == [(SHIRT.default_variant.id, 2)]


def test_update_js_and_clear_js(client: TestClient) -> None:
    """update.js: a map by variant (adding a variant not in the cart), or quantities by line; clear.js empties."""
    client.post("/cart/add.js", json={"id": SHIRT.default_variant.id, "quantity": 1})
    answer = client.post("/cart/update.js", json={"updates": {SHIRT.default_variant.id: 4, TOTE.default_variant.id: 2}})
    assert [(i["variant_id"], i["quantity"]) for i in answer.json()["items"]] == [
        (int(SHIRT.default_variant.id), 4), (int(TOTE.default_variant.id), 2)]
    form = client.post("/cart/update.js", content="updates[]=0&updates[]=5",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200 and lines(client) == [(TOTE.default_variant.id, 5)]
    cleared = client.post("/cart/clear.js")
    assert cleared.status_code == 200 and cleared.json()["items"] == [] and lines(client) == []


def test_locale_prefixed_urls(client: TestClient) -> None:
    """/fr/cart/add.js, /en-ca/cart/change.js, /fr/cart.js work as the plain ones; a path that is no locale is 404."""
    assert client.post("/fr/cart/add.js", json={"id": TOTE.default_variant.id, "quantity": 1}).status_code == 200
    assert client.post("/fr/cart/add", data={"id": TOTE.default_variant.id}, follow_redirects=False).status_code == 303
    assert client.get("/fr/cart.js").json()["item_count"] == 2
    assert client.post("/en-ca/cart/change.js", json={"line": 1, "quantity": 0}).json()["item_count"] == 0
    assert client.post("/products/cart/add.js", json={"id": TOTE.default_variant.id}).status_code == 404


@pytest.mark.parametrize("path", ["/cart/add.js", "/fr/cart/add", "/cart/update.js", "/cart/clear.js"])
def test_state_changes_only_from_the_stores_origin(client: TestClient, path: str) -> None:
    """Another origin's request is refused (403) before anything is read or changed."""
    client.post("/cart/add.js", json={"id": TOTE.default_variant.id, "quantity": 1})
    response = client.post(path, data={"id": TOTE.default_variant.id, "updates[]": "0"},
                           headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert lines(client) == [(TOTE.default_variant.id, 1)]


@pytest.mark.parametrize("kind, header, body, expected", [
    ("application/x-www-form-urlencoded", "", b"items[0][id]=1&items[0][quantity]=2&items[1][id]=3",
     {"items": [{"id": "1", "quantity": "2"}, {"id": "3"}]}),
    ("application/x-www-form-urlencoded", "", b"updates[7]=1&updates[8]=0&sections[]=a&sections[]=b",
     {"updates": {"7": "1", "8": "0"}, "sections": ["a", "b"]}),
    ("multipart/form-data", "multipart/form-data; boundary=XX",
     b'--XX\r\nContent-Disposition: form-data; name="id"\r\n\r\n5\r\n--XX\r\nContent-Disposition: form-data; '
     b'name="f"; filename="a.txt"\r\n\r\nfile\r\n--XX--\r\n', {"id": "5"}),
])
def test_parse_cart_body(kind: str, header: str, body: bytes, expected: dict[str, Any]) -> None:
    assert parse_cart_body(kind, header or kind, body) == expected

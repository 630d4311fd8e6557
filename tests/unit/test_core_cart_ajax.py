"""Unit tests for the AJAX Cart API's judging (tracker/core/cart.py, facts.py's `ajax` and `post` facts)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tracker.core.cart import CartState, cart_action, judge_answer, judge_post, parse_body
from tracker.core.facts import PageBoot, PageJudge

SHIRT = {"variant_id": "101", "product_id": "1", "quantity": 2, "price": "49.00"}
TOTE = {"variant_id": "201", "product_id": "2", "quantity": 1, "price": "35.00"}


def item(variant: str, product: str, quantity: int, price: int) -> dict[str, Any]:
    """A line item as Shopify's AJAX API answers it."""
    return {"id": int(variant), "key": f"{variant}:abc", "variant_id": int(variant), "product_id": int(product),
            "quantity": quantity, "price": price}


def judge(cart: list[dict[str, Any]] | None, url: str = "https://shop.test/products/x") -> PageJudge:
    page: dict[str, Any] = {"page_type": "product"}
    if cart is not None:
        page["cart"] = {"lines": cart}
    boot = PageBoot.from_message({"page": "p1", "pv": "pv1", "t0": 1000.0, "url": url, "pd": json.dumps(page)})
    return PageJudge(boot)


def ajax(seq: int, url: str, body: Any, status: int, answer: Any, **extra: Any) -> dict[str, Any]:
    return {"s": seq, "t": 2000.0 + seq, "k": "ajax", "u": url, "b": body, "st": status,
            "r": answer if isinstance(answer, str) or answer is None else json.dumps(answer), "i": 0, "p": None,
            **extra}


def names(emits: list[Any]) -> list[tuple[str, Any, Any, Any]]:
    out = []
    for e in emits:
        line = e.data.get("cartLine", {})
        out.append((e.name, line.get("merchandise", {}).get("id"), line.get("merchandise", {}).get("product", {})
                    .get("id"), line.get("quantity")))
    return out


@pytest.mark.parametrize("url, action", [
    ("/cart/add.js", "add"), ("https://s.test/fr/cart/add", "add"), ("/en-ca/cart/change.js?x=1", "change"),
    ("/cart/update.js", "update"), ("/cart/clear.js", "clear"), ("/cart.js", None), ("/cart/addresses", None),
    ("/apps/cart/add-ons", None)])
def test_cart_action_by_path_under_any_locale(url: str, action: str | None) -> None:
    assert cart_action(url) == action


def test_bodies_as_json_urlencoded_and_form_data_entries() -> None:
    assert parse_body('{"id": 5, "quantity": 2}') == {"id": 5, "quantity": 2}
    assert parse_body("id=5&quantity=2&sections=a,b") == {"id": "5", "quantity": "2", "sections": "a,b"}
    assert parse_body([["items[][id]", "5"], ["items[][quantity]", "1"], ["items[][id]", "6"], ["file", {}]]) == {
        "items": [{"id": "5", "quantity": "1"}, {"id": "6"}]}
    assert parse_body(None) == {} and parse_body("[1]") == {} and parse_body("{not json") == {}


def test_fetch_add_counts_the_requested_quantity_with_the_answers_line() -> None:
    """The answer's quantity is the line's total (3): the add is the request's 1, with the answer's product and
    price (cents as decimal text)."""
    j = judge([SHIRT])
    emits = j.apply(ajax(1, "/cart/add.js", [["id", "101"], ["quantity", "1"]], 200, item("101", "1", 3, 4900)))
    assert names(emits) == [("product_added_to_cart", "101", "1", 1)]
    assert emits[0].data["cartLine"]["merchandise"]["price"] == {"amount": "49.00"}


def test_items_array_add_is_one_event_per_line() -> None:
    answer = {"items": [item("101", "1", 1, 4900), item("201", "2", 2, 3500)]}
    emits = judge([]).apply(ajax(1, "/fr/cart/add.js", json.dumps(
        {"items": [{"id": 101, "quantity": 1}, {"id": "201", "quantity": 2}]}), 200, answer))
    assert names(emits) == [("product_added_to_cart", "101", "1", 1), ("product_added_to_cart", "201", "2", 2)]


@pytest.mark.parametrize("status, answer", [
    (422, {"status": 422, "message": "Cart Error", "description": "The product 'X' is already sold out."}),
    (0, None), (200, "<html>not json</html>"), (500, item("101", "1", 1, 4900))])
def test_refused_or_unreadable_adds_are_nothing(status: int, answer: Any) -> None:
    j = judge([])
    assert j.apply(ajax(1, "/cart/add.js", '{"id": 101}', status, answer)) == []
    assert j.cart.lines == {}


def test_drawer_changes_are_adds_and_removals_by_the_difference() -> None:
    """change.js answers the whole cart: +1 is an add of 1, 3 -> 1 a removal of 2, 0 a removal of the line."""
    j = judge([SHIRT, TOTE])
    plus = j.apply(ajax(1, "/cart/change.js", '{"line": 1, "quantity": 3}', 200,
                        {"items": [item("101", "1", 3, 4900), item("201", "2", 1, 3500)]}))
    assert names(plus) == [("product_added_to_cart", "101", "1", 1)]
    less = j.apply(ajax(2, "/cart/change.js", '{"line": 1, "quantity": 1}', 200,
                        {"items": [item("101", "1", 1, 4900), item("201", "2", 1, 3500)]}))
    assert names(less) == [("product_removed_from_cart", "101", "1", 2)]
    gone = j.apply(ajax(3, "/cart/change.js", '{"id": "201:abc", "quantity": 0}', 200,
                        {"items": [item("101", "1", 1, 4900)]}))
    assert names(gone) == [("product_removed_from_cart", "201", "2", 1)]
    cleared = j.apply(ajax(4, "/cart/clear.js", None, 200, {"items": []}))
    assert names(cleared) == [("product_removed_from_cart", "101", "1", 1)] and j.cart.lines == {}


def test_an_app_redrawing_its_context_before_the_answer_is_judged_does_not_hide_the_change() -> None:
    """A headless app updates its page context with the new cart in place (same page view) and that `pd` fact is
    recorded before the call's `ajax` fact: the answer is still compared with the cart before the call. A new
    route's context (a `url` fact, or data while the route waits for it) does replace the cart."""
    j = judge([SHIRT, TOTE])
    after = {"items": [item("101", "1", 2, 4900)]}
    assert j.apply({"s": 1, "t": 1500.0, "k": "pd", "pd": json.dumps({"page_type": "cart",
                                                                       "cart": {"lines": [SHIRT]}})}) == []
    removal = j.apply(ajax(2, "/cart/change.js", '{"line": 2, "quantity": 0}', 200, after))
    assert names(removal) == [("product_removed_from_cart", "201", "2", 1)]
    routed = {"page_type": "cart", "cart": {"lines": [SHIRT, TOTE]}}  # another tab added the tote back
    j.apply({"s": 3, "t": 1600.0, "k": "url", "url": "https://shop.test/cart", "title": "Cart",
             "pd": json.dumps(routed)})
    assert set(j.cart.lines) == {"101", "201"}
    j.apply({"s": 4, "t": 1700.0, "k": "url", "url": "https://shop.test/products/y", "title": "Y"})
    j.apply({"s": 5, "t": 1710.0, "k": "pd", "pd": json.dumps({"page_type": "product", "cart": {"lines": []}})})
    assert j.cart.lines == {} and j.cart.known  # the waiting route's data: taken


def test_ids_are_stable_and_the_cart_survives_a_snapshot() -> None:
    """Judging the same facts again gives the same ids; a restored judge knows the cart the answers left."""
    facts = [ajax(1, "/cart/add.js", '{"id": 101, "quantity": 1}', 200, item("101", "1", 3, 4900))]
    first, second = judge([SHIRT]), judge([SHIRT])
    assert [e.id for e in first.apply(facts[0])] == [e.id for e in second.apply(facts[0])]
    restored = PageJudge.restore(first.boot, json.loads(json.dumps(first.snapshot())), ratio=0.5, duration_ms=1000)
    removal = restored.apply(ajax(2, "/cart/change.js", '{"line": 1, "quantity": 0}', 200, {"items": []}))
    assert names(removal) == [("product_removed_from_cart", "101", "1", 3)]


def test_section_add_when_the_call_came_from_a_section() -> None:
    j = judge([])
    j.apply({"s": 1, "t": 1500.0, "k": "sec", "i": 1, "a": {"gloodSection": "s1", "gloodServeId": "serve"},
             "p": [["2", "201"]]})
    emits = j.apply(ajax(2, "/cart/add", [["id", "201"], ["quantity", "1"]], 200, item("201", "2", 1, 3500),
                         i=1, p=["2", "201"]))
    assert [e.name for e in emits] == ["glood:section:add_to_cart", "product_added_to_cart"]
    assert emits[0].custom["track"]["products"] == [{"productId": "2", "variantId": "201", "quantity": 1}]


def test_post_judged_by_the_next_page_counts_only_what_the_store_took() -> None:
    """A plain form post: the posting page's cart against this page's. Accepted: the line grew by the request.
    Refused (sold out): nothing changed, nothing counted; a page that is the post's own answer is nothing."""
    before = json.dumps({"page_type": "product", "cart": {"lines": [SHIRT]}})
    post = {"s": 1, "t": 1500.0, "k": "post", "u": "/cart/add", "b": [["id", "101"], ["quantity", "1"]], "a": None,
            "p": None, "pd": before}
    accepted = judge([{**SHIRT, "quantity": 3}], url="https://shop.test/cart")
    assert names(accepted.apply(post)) == [("product_added_to_cart", "101", "1", 1)]
    refused = judge([SHIRT], url="https://shop.test/cart")
    assert refused.apply(post) == []
    answer_page = judge([{**SHIRT, "quantity": 3}], url="https://shop.test/cart/add")
    assert answer_page.apply(post) == []
    removal = {**post, "u": "/fr/cart/change", "b": [["line", "1"], ["quantity", "0"]]}
    assert names(judge([], url="https://shop.test/cart").apply(removal)) == [
        ("product_removed_from_cart", "101", "1", 2)]


def test_judge_post_and_answer_need_a_cart_to_compare() -> None:
    assert judge_post("add", {"id": "1"}, None, {"lines": []}) == []
    state = CartState.from_context(None)
    assert not state.known
    assert judge_answer(state, "change", {}, 200, json.dumps({"items": []})) == []  # no baseline: nothing
    assert state.known

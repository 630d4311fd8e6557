"""Shopify's AJAX Cart API as themes call it, observed by the sensor (Chromium, the demo store): a fetch add, an
XMLHttpRequest add, a refused add (422), the cart drawer's intercepted submit, quantity change and removal, an add
from a section by the drawer, and plain form posts. Each gives exactly its cart events (product_added_to_cart /
product_removed_from_cart at Glood, their Genlook counterparts), each delivered once; a refused add none."""

from __future__ import annotations

from collections import Counter
from typing import Any

from demo_store.catalog import CATALOG, Product

from .support import Collector, StorePage


def _product(handle: str) -> Product:
    product = CATALOG.product(handle)
    assert product is not None, handle
    return product


SHIRT, TOTE, COAT = _product("classic-oxford-shirt"), _product("canvas-tote"), _product("wool-overcoat")
SOLD_OUT = next(v for v in COAT.variants if not v.available)
#: Glood's cart events and the action Genlook's names end with.
CART_EVENTS = {"product_added_to_cart": "cart_add", "product_removed_from_cart": "cart_remove"}
Move = tuple[str, str, int]  # (Glood event name, variant id, quantity)
REFUSED = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


def glood_moves(events: list[dict[str, Any]]) -> Counter[Move]:
    out: Counter[Move] = Counter()
    for e in events:
        if e["name"] in CART_EVENTS:
            line = e["event"]["data"]["cartLine"]
            out[(e["name"], str(line["merchandise"]["id"]), line["quantity"])] += 1
    return out


def genlook_moves(events: list[dict[str, Any]]) -> Counter[Move]:
    out: Counter[Move] = Counter()
    for e in events:
        action = e["name"].rsplit(":", 1)[-1]
        name = next((glood for glood, genlook in CART_EVENTS.items() if genlook == action), None)
        if name is not None:
            props = e["event"]["properties"]
            out[(name, str(props["variant_id"]).rsplit("/", 1)[-1], props["quantity"])] += 1
    return out


def expect_moves(collector: Collector, client_id: str, expected: list[Move], *, marker: str) -> None:
    """Once a marker event tracked after the journey is at both collectors (what went before it has arrived),
    each holds exactly the `expected` cart events, each delivered once."""
    for destination in ("glood", "genlook"):
        events = collector.wait_for(destination, lambda ev: any(e["event_id"] == marker for e in ev),
                                    client_id=client_id)
        moves = glood_moves(events) if destination == "glood" else genlook_moves(events)
        assert moves == Counter(expected), (destination, moves)
        cart = [e for e in events if e["name"] in CART_EVENTS or e["name"].rsplit(":", 1)[-1] in CART_EVENTS.values()]
        assert [e["deliveries"] for e in cart] == [1] * len(cart), (destination, cart)


def settle(store: StorePage) -> str:
    """Every fact judged and every event sent; then a marker event, tracked and flushed: its id."""
    store.wait_status(lambda s: s["pending"] == 0 and s["in_flight"] == 0)
    marker = store.track("checkout_started", {"checkout": {"token": "cart-ajax-marker"}})
    assert marker
    store.flush()
    return str(marker)


def test_fetch_and_xhr_adds_count_once_and_a_refused_add_not_at_all(store: StorePage, collector: Collector,
                                                                     console_errors: list[str]) -> None:
    """fetch with FormData to /cart/add.js (2 shirts), XMLHttpRequest urlencoded to /fr/cart/add.js (a tote),
    fetch JSON of a sold-out variant (422: nothing), fetch JSON `items` (3 totes): three adds, no more."""
    store.use_cart_forms().open(SHIRT.url)  # (the drawer is not in the way of the page's own calls either way)
    client_id = store.client_id
    statuses = store.page.evaluate("""async ([shirt, tote, soldOut]) => {
      const body = new FormData(); body.append("id", shirt); body.append("quantity", "2");
      const first = await fetch("/cart/add.js", {method: "POST", body});
      await first.json();
      const second = await new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open("POST", "/fr/cart/add.js");
        xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
        xhr.onloadend = () => resolve(xhr.status);
        xhr.send("id=" + tote + "&quantity=1");
      });
      const json = {"Content-Type": "application/json"};
      const refused = await fetch("/cart/add.js", {method: "POST", headers: json,
                                                   body: JSON.stringify({id: soldOut, quantity: 1})});
      const error = await refused.json();
      const last = await fetch("/cart/add.js", {method: "POST", headers: json,
                                                body: JSON.stringify({items: [{id: tote, quantity: 3}]})});
      await last.text();
      return [first.status, second, refused.status, error.status, error.message, last.status];
    }""", [SHIRT.default_variant.id, TOTE.default_variant.id, SOLD_OUT.id])
    assert statuses == [200, 200, 422, 422, "Cart Error", 200]
    assert console_errors == [REFUSED]  # the browser's own note of the 422
    marker = settle(store)
    expect_moves(collector, client_id, [("product_added_to_cart", SHIRT.default_variant.id, 2),
                                        ("product_added_to_cart", TOTE.default_variant.id, 1),
                                        ("product_added_to_cart", TOTE.default_variant.id, 3)], marker=marker)


def test_the_drawer_intercepted_submit_quantity_change_and_removal(store: StorePage, collector: Collector) -> None:
    """The theme's cart drawer (on by default): the product form's submit is intercepted and sent by fetch (one add,
    not two), then the drawer's + (an add of 1) and remove (a removal of the line's 2). The page never leaves."""
    store.open(TOTE.url)
    client_id = store.client_id
    url = store.page.url
    store.page.locator(".add-form button[type=submit]").click()
    drawer = store.page.locator("#cart-drawer")
    drawer.locator(".drawer-count", has_text="1").wait_for()
    drawer.locator("[data-drawer-plus]").click()
    drawer.locator(".drawer-count", has_text="2").wait_for()
    drawer.locator("[data-drawer-remove]").click()
    drawer.locator("text=Your cart is empty").wait_for()
    assert store.page.url == url
    marker = settle(store)
    expect_moves(collector, client_id, [("product_added_to_cart", TOTE.default_variant.id, 1),
                                        ("product_added_to_cart", TOTE.default_variant.id, 1),
                                        ("product_removed_from_cart", TOTE.default_variant.id, 2)], marker=marker)
    product_page = collector.events("genlook", client_id=client_id)
    assert sorted(e["name"] for e in product_page if e["name"].endswith(("cart_add", "cart_remove"))) == [
        "product_page:cart_add", "product_page:cart_add", "product_page:cart_remove"]


def test_a_section_add_by_the_drawer_is_a_section_add_to_cart(store: StorePage, collector: Collector) -> None:
    """A recommended product's add-to-cart, intercepted by the drawer: glood:section:add_to_cart for that section
    and product, and product_added_to_cart, on the product page, once each."""
    store.open(SHIRT.url)
    client_id = store.client_id
    section = store.page.evaluate("document.getElementById('section-similar').dataset.gloodSection")
    product = store.page.locator("#section-similar .glood-product").first
    product_id, variant_id = product.get_attribute("data-glood-product-id"), product.get_attribute(
        "data-glood-variant-id")
    store.add_recommended_to_cart("#section-similar", 0)
    store.page.locator("#cart-drawer .drawer-count", has_text="1").wait_for()
    marker = settle(store)
    assert variant_id is not None
    expect_moves(collector, client_id, [("product_added_to_cart", variant_id, 1)], marker=marker)
    glood = collector.events("glood", client_id=client_id)
    (add,) = [e for e in glood if e["name"] == "glood:section:add_to_cart"]
    track = add["event"]["customData"]["track"]
    assert (track["section"], track["products"]) == (section, [{"productId": product_id, "variantId": variant_id,
                                                                "quantity": 1}])
    assert add["deliveries"] == 1 and add["page_url"] == store.page.url


def test_plain_form_posts_count_once_and_only_when_accepted(store: StorePage, collector: Collector,
                                                            console_errors: list[str]) -> None:
    """The drawer off (`cart_ui=classic`, as without JavaScript): a sold-out post (the store answers it with a 422
    page) counts nothing; an accepted one counts once, judged by the cart page it lands on."""
    store.use_cart_forms().open(COAT.url)
    client_id = store.client_id
    store.page.locator(".add-form select[name=id]").select_option(SOLD_OUT.id)
    with store.page.expect_navigation():
        store.page.locator(".add-form button[type=submit]").click()
    store.wait_ready()
    assert store.page.url.endswith("/cart/add") and console_errors == [REFUSED]
    store.open(COAT.url)
    store.page.locator(".add-form select[name=id]").select_option(COAT.default_variant.id)
    with store.page.expect_navigation():
        store.page.locator(".add-form button[type=submit]").click()
    store.wait_ready()
    assert store.page.url.endswith("/cart")
    marker = settle(store)
    expect_moves(collector, client_id, [("product_added_to_cart", COAT.default_variant.id, 1)], marker=marker)
    genlook = collector.events("genlook", client_id=client_id)
    assert [e["name"] for e in genlook if e["name"].endswith("cart_add")] == ["cart_page:cart_add"]

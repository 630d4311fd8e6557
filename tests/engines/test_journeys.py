"""The core journeys in Firefox ESR and WebKitGTK (Chromium: tests/e2e): ready, page events, a section view, a
click, cart changes (the drawer's fetch calls, a theme's fetch and XMLHttpRequest, a plain form post), and a page
left before the tracker was ready. Every event of the visitor
arrives at both collectors (Glood and Genlook, the same event ids) and is stored once (`deliveries == 1`)."""

from __future__ import annotations

from typing import Any

from e2e.support import Collector

from demo_store.live import Gate

from .drivers import wait_until
from .shop import PRODUCT, Shop, assert_delivered_once, at_both, cart_moves, ids, of_page, tracks

NEXT_PAGE = "/collections/all"


def _names(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["name"] for e in events)


def _settle(shop: Shop, collector: Collector, client_id: str) -> None:
    """Wait until the current page's page_viewed is at both collectors and its tracker has sent all it holds: what
    the pages before it beaconed when left, and what its worker adopted from them, has been sent by then. Then
    every stored event of the visitor must have been delivered once."""
    url = shop.engine.url
    at_both(collector, client_id, lambda ev: [e for e in of_page(ev, url) if e["name"] == "page_viewed"],
            lambda chosen: len(chosen) >= 1, what=f"page_viewed of {url}")
    shop.wait_sent()
    assert_delivered_once(collector, client_id)


def test_the_tracker_gets_ready(shop: Shop, collector: Collector) -> None:
    """The worker boots Pyodide and the tracker: the page is marked ready and the API says so."""
    shop.open("/")
    assert shop.engine.evaluate("() => window.gloodTracker.ready") is True
    status = shop.status()
    assert status["client_id"] and status["consent"] == "granted", status
    _settle(shop, collector, status["client_id"])


def test_page_events_arrive_at_both_collectors(shop: Shop, collector: Collector) -> None:
    """A product page: page_viewed, product_viewed and one render per section (the late one included)."""
    shop.open(PRODUCT)
    url = shop.engine.url
    shop.wait_sections_filled()
    sections = {shop.section(i)["section"]: shop.section(i) for i in ("section-similar", "section-fbt",
                                                                       "section-below")}
    client_id = shop.client_id

    def done(events: list[dict[str, Any]]) -> bool:
        names = _names(events)
        return {"page_viewed", "product_viewed"} <= set(names) and names.count("glood:section:render") >= 3

    page = at_both(collector, client_id, lambda ev: of_page(ev, url), done, what=url)
    names = _names(page)
    assert names.count("page_viewed") == names.count("product_viewed") == 1, names
    renders = {t["section"]: t for t in tracks(page, "glood:section:render")}
    assert len(tracks(page, "glood:section:render")) == 3 and set(renders) == set(sections), renders
    for key, dom in sections.items():
        assert renders[key]["sectionServeId"] == dom["serve"]
        assert [p["productId"] for p in renders[key]["products"]] == dom["products"]
    _settle(shop, collector, client_id)


def test_a_section_kept_in_view_is_viewed(shop: Shop, collector: Collector) -> None:
    """A section below the fold, scrolled into view and kept there, gets one glood:section:view."""
    shop.open(PRODUCT)
    url = shop.engine.url
    below = shop.section("section-below")["section"]
    client_id = shop.client_id
    shop.wait_sections_filled()
    shop.scroll_and_see("#section-below")

    def viewed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in of_page(events, url) if e["name"] == "glood:section:view"
                and e["event"]["customData"]["track"]["section"] == below]

    (view,) = at_both(collector, client_id, viewed, lambda chosen: len(chosen) >= 1, what=f"view of {below}")
    assert view["event"]["customData"]["track"]["sectionServeId"] == shop.section("section-below")["serve"]
    _settle(shop, collector, client_id)


def test_a_click_on_a_recommended_product(shop: Shop, collector: Collector) -> None:
    """A real click on a section's product link: glood:section:click for that product, across the navigation."""
    shop.open(PRODUCT)
    url = shop.engine.url
    dom = shop.section("section-similar")
    client_id = shop.client_id
    shop.navigate_by_click("#section-similar .glood-product a")
    assert shop.engine.url != url
    shop.wait_ready()
    assert shop.client_id == client_id

    def clicks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in of_page(events, url) if e["name"] == "glood:section:click"]

    (click,) = at_both(collector, client_id, clicks, lambda chosen: len(chosen) >= 1, what="the click")
    track = click["event"]["customData"]["track"]
    assert track["section"] == dom["section"] and track["sectionServeId"] == dom["serve"]
    assert [p["productId"] for p in track["products"]] == [dom["products"][0]]
    _settle(shop, collector, client_id)


def test_an_add_to_cart_from_a_section_then_a_change_and_a_removal_in_the_drawer(shop: Shop,
                                                                                 collector: Collector) -> None:
    """The theme's cart drawer: a section's add-to-cart button (the submit intercepted, the form sent by fetch),
    then the drawer's + and remove (fetch to /cart/change.js, JSON): glood:section:add_to_cart once, and
    product_added_to_cart 1, product_added_to_cart 1, product_removed_from_cart 2, on the product page."""
    shop.empty_cart()
    shop.open(PRODUCT + "?cart_ui=drawer")
    url = shop.engine.url
    dom = shop.section("section-similar")
    client_id = shop.client_id
    variant = shop.engine.evaluate("""() => document.querySelector('#section-similar .glood-product')
        .dataset.gloodVariantId""")
    shop.engine.click("#section-similar [data-glood-add-to-cart]")
    shop.drawer_count("1")
    shop.engine.click("#cart-drawer [data-drawer-plus]")
    shop.drawer_count("2")
    shop.engine.click("#cart-drawer [data-drawer-remove]")
    shop.drawer_count("empty")
    assert shop.engine.url == url

    def added(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in of_page(events, url) if e["name"] in
                ("glood:section:add_to_cart", "product_added_to_cart", "product_removed_from_cart")]

    chosen = at_both(collector, client_id, added, lambda chosen: len(chosen) >= 4, what="the cart changes")
    assert cart_moves(chosen) == [("product_added_to_cart", variant, 1), ("product_added_to_cart", variant, 1),
                                  ("product_removed_from_cart", variant, 2)], cart_moves(chosen)
    (atc,) = tracks(chosen, "glood:section:add_to_cart")
    assert atc["section"] == dom["section"]
    assert [p["productId"] for p in atc["products"]] == [dom["products"][0]]
    _settle(shop, collector, client_id)


def test_fetch_and_xhr_adds_to_the_ajax_cart_api(shop: Shop, collector: Collector) -> None:
    """A theme's own calls: fetch with FormData to /cart/add.js (2), XMLHttpRequest urlencoded to /fr/cart/add.js
    (1): product_added_to_cart for each, with its quantity, once."""
    shop.empty_cart()
    shop.open(PRODUCT)
    url = shop.engine.url
    client_id = shop.client_id
    variants = shop.engine.evaluate("""() => [...document.querySelectorAll('.add-form [name=id] option')]
        .map(option => option.value)""")
    statuses = shop.engine.evaluate("""async (variants) => {
        const body = new FormData(); body.append('id', variants[0]); body.append('quantity', '2');
        const first = await fetch('/cart/add.js', {method: 'POST', body});
        await first.json();
        const second = await new Promise(resolve => {
            const xhr = new XMLHttpRequest();
            xhr.open('POST', '/fr/cart/add.js');
            xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
            xhr.onloadend = () => resolve(xhr.status);
            xhr.send('id=' + variants[1] + '&quantity=1');
        });
        return [first.status, second];
    }""", variants)
    assert statuses == [200, 200]
    chosen = at_both(collector, client_id, lambda ev: [e for e in of_page(ev, url) if e["name"] ==
                                                       "product_added_to_cart"],
                     lambda chosen: len(chosen) >= 2, what="the adds")
    assert cart_moves(chosen) == sorted([("product_added_to_cart", variants[0], 2),
                                         ("product_added_to_cart", variants[1], 1)]), cart_moves(chosen)
    _settle(shop, collector, client_id)


def test_a_plain_form_post_is_judged_by_the_page_it_lands_on(shop: Shop, collector: Collector) -> None:
    """The drawer off (`cart_ui=classic`): a section's add-to-cart form posts and lands on the cart, which records
    it: glood:section:add_to_cart and product_added_to_cart there, once each."""
    shop.empty_cart()
    shop.open(PRODUCT + "?cart_ui=classic")
    dom = shop.section("section-similar")
    client_id = shop.client_id
    shop.navigate_by_click("#section-similar [data-glood-add-to-cart]")
    assert "/cart" in shop.engine.url
    shop.wait_ready()
    landed = shop.engine.url

    def added(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in of_page(events, landed)
                if e["name"] in ("glood:section:add_to_cart", "product_added_to_cart")]

    chosen = at_both(collector, client_id, added, lambda chosen: len({e["name"] for e in chosen}) == 2,
                     what="the add to cart")
    assert _names(chosen) == ["glood:section:add_to_cart", "product_added_to_cart"], _names(chosen)
    (atc,) = tracks(chosen, "glood:section:add_to_cart")
    assert atc["section"] == dom["section"]
    assert [p["productId"] for p in atc["products"]] == [dom["products"][0]]
    _settle(shop, collector, client_id)


def test_a_page_left_before_the_tracker_was_ready(shop: Shop, collector: Collector, gate: Gate) -> None:
    """The runtime's files held on the server: a product page whose section was in view for 2.5 s (the page's own
    clock) is left before Python ever ran there. The next page delivers what the first one saw: page_viewed,
    product_viewed, its renders and the section's view, each once."""
    gate.hold("/dist/")
    shop.open(PRODUCT, wait_ready=False)
    first_url = shop.engine.url
    below = shop.section("section-below")["section"]
    # The sensor ran (the page has loaded) and asked for the runtime, which the gate holds: Python cannot be ready.
    wait_until(lambda: gate.waiting >= 1, 60, "the tracker's runtime requested (held by the gate)")
    assert shop.engine.evaluate("() => document.readyState") == "complete"
    assert shop.tracker_state() is None
    shop.wait_sections_filled()
    seen_at = shop.scroll_and_see("#section-below")
    shop.wait_page_clock(seen_at + 2500)
    assert shop.engine.evaluate("() => document.visibilityState") == "visible"
    assert shop.tracker_state() is None, "the tracker got ready while its runtime was held"
    shop.open(NEXT_PAGE, wait_ready=False)
    gate.release()
    shop.wait_ready()
    client_id = shop.client_id

    def basic(events: list[dict[str, Any]]) -> bool:
        names = _names(events)
        return {"page_viewed", "product_viewed"} <= set(names) and names.count("glood:section:render") >= 3

    first = at_both(collector, client_id, lambda ev: of_page(ev, first_url), basic, what=f"the left {first_url}")
    names = _names(first)
    assert names.count("page_viewed") == names.count("product_viewed") == 1, names
    renders = tracks(first, "glood:section:render")
    assert len(renders) == len({t["section"] for t in renders}) == 3, renders
    # The next page's own page_viewed at both: by then its worker has sent all it adopted from the first page.
    _settle(shop, collector, client_id)

    def views(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in of_page(events, first_url) if e["name"] == "glood:section:view"
                and e["event"]["customData"]["track"]["section"] == below]

    try:
        at_both(collector, client_id, views, lambda chosen: len(chosen) >= 1, timeout=20,
                what=f"the view of {below} on the left page")
    except AssertionError as exc:
        got = _names(of_page(collector.events("glood", client_id=client_id), first_url))
        raise AssertionError(f"the left page's view of section {below} never arrived; its events: {got}") from exc
    assert len(views(collector.events("glood", client_id=client_id))) == 1
    assert ids(first) <= ids(collector.events("genlook", client_id=client_id))
    assert_delivered_once(collector, client_id)

"""The headless storefront (/headless/): a single-page app routed with the History API that asks Glood's headless
sections endpoint for each route's sections. Every route is a page view of its own, with its URL, page type and
page context; its sections are rendered and viewed with the request id the stand-in answered; back and forward
are routes too; add to cart and removal work from routed pages; a section gone before a second in view is never
viewed; both stand-ins accept every body."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, Response

from .support import Collector, StorePage

SECTIONS = "/api/storefront/v3/headless/sections"
#: Flush often: the tests wait for each route's view before the next route.
FAST_FLUSH = "window.gloodTrackerConfig = {flush_interval_ms: 300}"
NAV = "#headless-nav a[href='{}']"


@dataclass
class Visit:
    """One route as the app showed it: its URL, page type and the sections answer it rendered."""

    url: str
    page_type: str
    request_id: str
    sections: list[str]
    products: dict[str, list[str]] = field(default_factory=dict)


def _is_sections(response: Response) -> bool:
    return response.url.endswith(SECTIONS) and response.request.method == "POST"


def _page_type(path: str) -> str:
    rest = path.split("?")[0].removeprefix("/headless/")
    if rest == "":
        return "home"
    if rest == "cart":
        return "cart"
    return {"products": "product", "collections": "collection"}.get(rest.split("/")[0], "other")


class App:
    """The headless app in one page: each route waits for the sections it asked for to be on the page."""

    def __init__(self, store: StorePage) -> None:
        self.store = store
        self.page: Page = store.page
        self.visits: list[Visit] = []

    def _shown(self, start: Callable[[], Any]) -> Visit:
        """Do `start` (which leads to a route), then wait for the route's sections answer and its rendering."""
        with self.page.expect_response(_is_sections, timeout=30_000) as answered:
            start()
        answer = answered.value.json()
        request_id = answer["request_id"]
        self.page.wait_for_selector(f"#app[data-state=ready][data-request-id='{request_id}']", state="attached")
        products = {s["id"]: [str(p["product_id"]) for p in s["products"]] for s in answer["sections"]}
        path = self.page.evaluate("location.pathname + location.search")
        visit = Visit(self.store.base_url + path, _page_type(path), request_id, [s["id"] for s in answer["sections"]],
                      products)
        assert self.context()["page_type"] == visit.page_type
        self.visits.append(visit)
        return visit

    def open(self, path: str = "/headless/") -> Visit:
        self.page.add_init_script(FAST_FLUSH)
        return self._shown(lambda: self.store.open(path))

    def route(self, selector: str) -> Visit:
        """Click a link of the app (an ordinary <a href>, routed by the app)."""
        return self._shown(lambda: self.page.locator(selector).first.click())

    def back(self) -> Visit:
        return self._shown(self.page.go_back)

    def forward(self) -> Visit:
        return self._shown(self.page.go_forward)

    def context(self) -> dict[str, Any]:
        """The page context (#glood-page) the app set."""
        data: dict[str, Any] = json.loads(self.page.evaluate("document.getElementById('glood-page').textContent"))
        return data

    def section(self, element_id: str) -> dict[str, Any]:
        info: dict[str, Any] = self.page.evaluate("""(id) => {
            const el = document.getElementById(id);
            return {section: el.dataset.gloodSection, serve: el.dataset.gloodServeId,
                    request: el.dataset.gloodRequestId,
                    products: [...el.querySelectorAll('[data-glood-product-id]')].map(p => [p.dataset.gloodProductId,
                                                                                          p.dataset.gloodVariantId])};
        }""", element_id)
        return info


def _track(event: dict[str, Any]) -> dict[str, Any]:
    track: dict[str, Any] = (event["event"].get("customData") or {}).get("track") or {}
    return track


def _named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["name"] == name]


def _rejected(collector: Collector) -> dict[str, int]:
    stats = collector.stats()
    return {d: stats[d]["rejected"] for d in ("glood", "genlook")}


def _viewed(collector: Collector, client_id: str, request_id: str) -> None:
    """Wait until a view of a section of `request_id` arrived at Glood."""
    collector.wait_for("glood", lambda ev: any(_track(e).get("requestId") == request_id
                                               for e in _named(ev, "glood:section:view")), client_id=client_id)


def _page_clock_past(page: Page, ms: float) -> None:
    page.wait_for_function("(ms) => performance.now() > ms", arg=ms, polling=100, timeout=30_000)


def _check_renders(glood: list[dict[str, Any]], visits: list[Visit]) -> None:
    """Each visit's sections are rendered on its URL with its request id (and serve ids of their own); no render
    carries another visit's request id, or a request id on another URL."""
    renders = _named(glood, "glood:section:render")
    by_request = {v.request_id: v for v in visits}
    for render in renders:
        track = _track(render)
        visit = by_request.get(track.get("requestId"))
        assert visit is not None, f"a render of a request no route answered: {track}"
        assert render["body"]["page_url"] == visit.url and render["body"]["page_type"] == visit.page_type
    for visit in visits:
        mine = [_track(r) for r in renders if _track(r).get("requestId") == visit.request_id]
        assert sorted(t["section"] for t in mine) == sorted(visit.sections), visit
        for track in mine:
            assert [p["productId"] for p in track["products"]] == visit.products[track["section"]]
            assert track["sectionServeId"]


def test_ten_routes_are_ten_more_page_views_each_with_its_sections(store: StorePage, collector: Collector) -> None:
    """10 client-side routes after the first page: 11 page_viewed with the right URL and page type (and the
    product/collection/cart viewed), 11 pageview ids at Genlook; each route's sections rendered and viewed with
    the request id the sections endpoint answered; every body carries channel "headless"; nothing refused."""
    before = _rejected(collector)
    app = App(store)
    app.open("/headless/")
    client_id = store.client_id
    _viewed(collector, client_id, app.visits[-1].request_id)
    steps = [
        NAV.format("/headless/collections/shirts"),
        "#app .product-grid a.card-link >> nth=1",
        "#section-similar .glood-product a >> nth=0",
        NAV.format("/headless/cart"),
        "#section-trending .glood-product a >> nth=2",
        "#app .breadcrumbs a >> nth=1",
        NAV.format("/headless/collections/accessories"),
        NAV.format("/headless/"),
        "#section-trending .glood-product a >> nth=1",
        NAV.format("/headless/collections/all"),
    ]
    for step in steps:
        visit = app.route(step)
        _viewed(collector, client_id, visit.request_id)
    visits = app.visits
    assert len(visits) == 11
    assert [v.page_type for v in visits] == ["home", "collection", "product", "product", "cart", "product",
                                             "collection", "collection", "home", "product", "collection"]

    glood = collector.wait_for("glood", lambda ev: len(_named(ev, "page_viewed")) >= 11, client_id=client_id)
    page_views = sorted(_named(glood, "page_viewed"), key=lambda e: e["event"]["timestamp"])
    assert [(e["body"]["page_url"], e["body"]["page_type"]) for e in page_views] == [
        (v.url, v.page_type) for v in visits]
    assert len(_named(glood, "page_viewed")) == 11
    assert {e["body"].get("channel") for e in glood} == {"headless"}
    products = [e["event"]["data"]["product"]["id"] for e in sorted(_named(glood, "product_viewed"),
                                                                    key=lambda e: e["event"]["timestamp"])]
    assert products == [app_product_id(store, v.url) for v in visits if v.page_type == "product"]
    collections = [e["event"]["data"]["collection"]["handle"] for e in sorted(
        _named(glood, "collection_viewed"), key=lambda e: e["event"]["timestamp"])]
    assert collections == [v.url.rsplit("/", 1)[1] for v in visits if v.page_type == "collection"]
    assert len(_named(glood, "cart_viewed")) == 1

    genlook = collector.wait_for("genlook", lambda ev: len([e for e in ev if e["name"].endswith(":page_view")]) >= 11,
                                 client_id=client_id)
    genlook_views = [e for e in genlook if e["name"].endswith(":page_view")]
    assert len({e["context"]["$pageview_id"] for e in genlook_views}) == 11
    assert sorted(e["context"]["$current_url"] for e in genlook_views) == sorted(v.url for v in visits)

    _check_renders(glood, visits)
    views = _named(glood, "glood:section:view")
    for visit in visits:
        mine = [e for e in views if _track(e).get("requestId") == visit.request_id]
        assert mine and all(e["body"]["page_url"] == visit.url for e in mine), visit
    clicks = _named(glood, "glood:section:click")
    assert {_track(e)["requestId"] for e in clicks} == {visits[2].request_id, visits[4].request_id,
                                                        visits[8].request_id}

    funnel = json.loads(store.page.evaluate("fetch('/_collector/funnel.json?store=headless&limit=200')"
                                            ".then(r => r.text())"))
    rows = {row["request_id"]: row for row in funnel["requests"]}
    for visit in visits:
        row = rows[visit.request_id]
        assert row["store"] == "headless" and row["source"] == "api" and row["page_url"] == visit.url
        assert row["counts"]["served"] == row["counts"]["rendered"] == len(visit.sections)
        assert row["counts"]["viewed"] >= 1
    assert _rejected(collector) == before


def app_product_id(store: StorePage, url: str) -> str:
    """The product id of a product route, from the app's catalogue."""
    handle = url.rsplit("/", 1)[1]
    found: str = store.page.evaluate("""(handle) => JSON.parse(document.getElementById('headless-catalog').textContent)
        .products.find(p => p.handle === handle).id""", handle)
    return found


def test_back_and_forward_are_routes_with_their_own_page_views(store: StorePage, collector: Collector) -> None:
    """Back and forward through routes: each is a new page view of its URL, with the page context of that route
    and freshly served sections; the sections of the page left are never rendered again on the new URL."""
    before = _rejected(collector)
    app = App(store)
    app.open("/headless/")
    client_id = store.client_id
    app.route(NAV.format("/headless/collections/shirts"))
    app.route("#app .product-grid a.card-link >> nth=0")
    back = app.back()
    assert back.url == app.visits[1].url and back.request_id != app.visits[1].request_id
    assert app.back().url == app.visits[0].url
    assert app.forward().url == app.visits[1].url
    assert store.page.title().startswith("Shirts")
    visits = app.visits
    expected = [(v.url, v.page_type) for v in visits]
    assert [t for _u, t in expected] == ["home", "collection", "product", "collection", "home", "collection"]

    glood = collector.wait_for("glood", lambda ev: len(_named(ev, "page_viewed")) >= 6
                               and {_track(e).get("requestId") for e in _named(ev, "glood:section:render")}
                               >= {v.request_id for v in visits}, client_id=client_id)
    page_views = sorted(_named(glood, "page_viewed"), key=lambda e: e["event"]["timestamp"])
    assert [(e["body"]["page_url"], e["body"]["page_type"]) for e in page_views] == expected
    assert [e["event"]["data"].get("title") for e in page_views][3].startswith("Shirts")
    genlook = collector.wait_for("genlook", lambda ev: len([e for e in ev if e["name"].endswith(":page_view")]) >= 6,
                                 client_id=client_id)
    assert len({e["context"]["$pageview_id"] for e in genlook if e["name"].endswith(":page_view")}) == 6
    _check_renders(glood, visits)
    assert _rejected(collector) == before


def test_add_to_cart_and_removal_from_routed_pages(store: StorePage, collector: Collector) -> None:
    """On a product page reached by routing: add from a section (section add to cart with the route's request id)
    and from the product's own form (a chosen size); each goes by fetch and routes to the cart; a removal on the
    cart page is product_removed_from_cart with that line. The submits stay in the app."""
    before = _rejected(collector)
    app = App(store)
    app.open("/headless/")
    client_id = store.client_id
    app.route(NAV.format("/headless/collections/shirts"))
    product = app.route("#app .product-grid a.card-link >> nth=1")
    similar = app.section("section-similar")
    assert similar["request"] == product.request_id
    added_product, added_variant = similar["products"][0]
    store.page.evaluate("window.addEventListener('beforeunload', () => { window.__left = true })")

    cart = app.route("#section-similar [data-glood-add-to-cart] >> nth=0")
    assert cart.page_type == "cart"
    lines = app.context()["cart"]["lines"]
    assert [(line["product_id"], line["variant_id"], line["quantity"]) for line in lines] == [
        (added_product, added_variant, 1)]
    assert store.page.locator("#headless-cart-link").inner_text() == "Cart (1)"

    app.route(NAV.format("/headless/collections/shirts"))
    assert app.route("#app .product-grid a.card-link >> nth=1").url == product.url
    variant_m = store.page.locator("article form select[name=id] option").nth(1).get_attribute("value")
    store.page.locator("article form select[name=id]").select_option(variant_m)
    app.route("article form button[type=submit]")
    lines = app.context()["cart"]["lines"]
    assert [line["variant_id"] for line in lines] == [added_variant, variant_m]

    store.page.locator("[data-headless-cart] tr[data-line='1'] button").click()
    store.page.wait_for_selector("[data-headless-cart] tr[data-line='2']", state="detached")
    assert [line["variant_id"] for line in app.context()["cart"]["lines"]] == [variant_m]
    assert store.page.evaluate("fetch('/cart.js').then(r => r.json()).then(c => c.lines.map(l => l.variant_id))") == [
        variant_m]
    assert store.page.evaluate("window.__left === undefined")  # never left the app
    assert store.page.url == cart.url

    glood = collector.wait_for_names("glood", ["glood:section:add_to_cart", "product_added_to_cart",
                                               "product_added_to_cart", "product_removed_from_cart",
                                               "cart_viewed", "cart_viewed"], client_id=client_id)
    (section_add,) = _named(glood, "glood:section:add_to_cart")
    track = _track(section_add)
    assert (track["requestId"], track["section"]) == (product.request_id, "221939")
    assert track["products"] == [{"productId": added_product, "variantId": added_variant, "quantity": 1}]
    assert section_add["body"]["page_url"] == product.url
    adds = sorted(_named(glood, "product_added_to_cart"), key=lambda e: e["event"]["timestamp"])
    assert [(a["event"]["data"]["cartLine"]["merchandise"]["id"], a["body"]["page_url"]) for a in adds] == [
        (added_variant, product.url), (variant_m, product.url)]
    assert adds[1]["event"]["data"]["cartLine"]["merchandise"]["product"]["id"] == app_product_id(store, product.url)
    (removed,) = _named(glood, "product_removed_from_cart")
    merchandise = removed["event"]["data"]["cartLine"]["merchandise"]  # (and the line's price, from the cart)
    assert (merchandise["id"], merchandise["product"]) == (added_variant, {"id": added_product})
    assert removed["body"]["page_url"] == cart.url and removed["body"]["page_type"] == "cart"
    carts = sorted(_named(glood, "cart_viewed"), key=lambda e: e["event"]["timestamp"])
    assert [len(c["event"]["data"]["cart"]["lines"]) for c in carts] == [1, 2]
    collector.wait_for_names("genlook", ["section:add_to_cart", "product_page:cart_add", "product_page:cart_add",
                                         "cart_page:cart_remove"], client_id=client_id)

    funnel = json.loads(store.page.evaluate("fetch('/_collector/funnel.json?store=headless&limit=200')"
                                            ".then(r => r.text())"))
    row = next(r for r in funnel["requests"] if r["request_id"] == product.request_id)
    assert row["counts"]["added_to_cart"] == 1
    assert _rejected(collector) == before


def test_a_section_removed_before_a_second_in_view_is_never_viewed(store: StorePage, collector: Collector) -> None:
    """Route to a product and, the moment its similar-products section is on the page (in view), route away: the
    section is rendered but never viewed, even once its second has long passed."""
    before = _rejected(collector)
    app = App(store)
    app.open("/headless/")
    client_id = store.client_id
    with store.page.expect_response(_is_sections) as answered:
        shown = store.page.evaluate("""async () => {
            document.querySelector('#section-trending .glood-product a').click();
            while (!document.querySelector('#section-similar [data-glood-product-id]')) {
                await new Promise((r) => requestAnimationFrame(r));
            }
            const el = document.getElementById('section-similar');
            // In view (as the tracker's own IntersectionObserver sees it), then kept there for 300 ms only.
            const at = await new Promise((resolve) => {
                const io = new IntersectionObserver((entries) => {
                    if (entries.some((e) => e.intersectionRatio >= 0.5)) { io.disconnect(); resolve(performance.now()) }
                }, {threshold: [0.5]});
                io.observe(el);
            });
            await new Promise((r) => setTimeout(r, 300));
            const info = {at, serve: el.dataset.gloodServeId, request: el.dataset.gloodRequestId,
                          inView: el.getBoundingClientRect().top < innerHeight};
            document.querySelector("#headless-nav a[href='/headless/collections/accessories']").click();
            info.gone = !el.isConnected;
            info.left = performance.now();
            return info;
        }""")
    assert shown["inView"] and shown["gone"] and shown["left"] - shown["at"] < 1000
    away = answered.value  # the product route's answer; wait for the route that replaced it
    assert away.json()["request_id"] == shown["request"]
    store.page.wait_for_selector("#app[data-state=ready] #section-trending", state="attached")
    assert store.page.url.endswith("/headless/collections/accessories")
    _page_clock_past(store.page, shown["at"] + 1500)
    sentinel = store.track("search_submitted", {"searchResult": {"query": "headless sentinel"}})
    store.flush()
    glood = collector.wait_for("glood", lambda ev: any(e["event_id"] == sentinel for e in ev)
                               and any(_track(e).get("sectionServeId") == shown["serve"]
                                       for e in _named(ev, "glood:section:render")), client_id=client_id)
    assert [e for e in _named(glood, "glood:section:view") if _track(e).get("requestId") == shown["request"]] == []
    assert [e for e in _named(glood, "glood:section:view") if _track(e).get("sectionServeId") == shown["serve"]] == []
    assert _rejected(collector) == before

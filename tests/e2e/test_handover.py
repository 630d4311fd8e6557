"""Exactly once across the handover from a page to the next: pages left early, at readiness, with actions before
readiness, form posts, the back/forward cache, reloads and two tabs. Each journey checks at both collectors
that every expected event is stored and that every stored event of the test's client arrived once
(`deliveries == 1`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from demo_store.live import Gate

from .handover_support import (  # noqa: F401 - fixtures: pytest finds them in this module's namespace
    PRODUCT,
    READY_MS,
    ErrorWatch,
    GatedStore,
    assert_delivered_once,
    bfcache_browser_fixture,
    expect_at_both,
    gate_fixture,
    gated_collector_fixture,
    gated_server_fixture,
    gated_store_fixture,
    ids,
    names,
    of_page,
    settle,
    stored,
    tag,
    wait_for_page_events,
    wait_gate_waiting,
    wait_page_clock,
)
from .support import Collector, StorePage

SECTIONS_JS = "[...document.querySelectorAll('[data-glood-section]')].map(s => s.dataset.gloodSection)"
TRACKER_STATE_JS = "document.documentElement.dataset.gloodTracker || null"
#: A fake tab switch and a track() call in one task: the call is a fact the worker has not judged when the
#: page goes hidden (StorePage.hide_tab, with the call before it).
TRACK_AND_HIDE_JS = """() => {
    const id = gloodTracker.track('checkout_started', {checkout: {token: 'before-hide'}});
    Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
    Object.defineProperty(document, 'hidden', {value: true, configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
    return id;
}"""
#: Marks a page restored from the back/forward cache (a selector the tests wait for; the CSP allows no eval).
RESTORED_MARKER = """addEventListener('pageshow', e => {
    if (e.persisted) window.__restored = (window.__restored || 0) + 1;
    if (e.persisted) document.documentElement.dataset.restored = String(window.__restored);
});"""


def _rendered_sections(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["event"]["customData"]["track"]["section"] for e in events if e["name"] == "glood:section:render")


def _check_product_page(glood: list[dict[str, Any]], genlook: list[dict[str, Any]], url: str, views: int = 1,
                        sections: int = 3) -> list[dict[str, Any]]:
    """A product page's own events for `views` page views, `sections` sections each, at both collectors (its other
    events, views or tracked ones, are not counted here)."""
    expected = {"page_viewed": views, "product_viewed": views, "glood:section:render": sections * views}
    page_events = expect_at_both(glood, genlook, url, expected)
    rendered = Counter(_rendered_sections(page_events))
    assert set(rendered.values()) <= {views}, f"a section rendered more than once a page view: {rendered}"
    return page_events


# -- 1. left early, whether the runtime is up or not -------------------------------------------------------

@pytest.mark.parametrize("leave_ms", [300, 800, 1500])
def test_a_page_left_early_is_delivered_once_by_the_next(gated_store: StorePage, gated_collector: Collector,
                                                          leave_ms: int) -> None:
    """A product page left `leave_ms` after its navigation started (its own clock; the runtime is not held, so it
    may or may not be up) for a page that becomes ready: its page_viewed, product_viewed and renders arrive once."""
    store = gated_store
    first = store.base_url + PRODUCT + tag()
    store.page.goto(first, wait_until="commit")
    left_at = wait_page_clock(store.page, leave_ms)
    present = store.page.evaluate(SECTIONS_JS)
    state = store.page.evaluate(TRACKER_STATE_JS)
    store.open("/collections/all" + tag(), wait_ready=False)
    store.wait_ready(READY_MS)
    client_id = store.client_id
    settle(store, gated_collector, client_id)
    # The sections in the HTML render (the sensor scans the page when it goes); the late one (~300 ms after
    # DOMContentLoaded) when it came before the page went, which may be after the last look here. A beacon the left
    # page sent as it went may reach the collector after the next page's marker on a busy machine: waited for.
    want = max(2, len(present))
    glood = gated_collector.wait_for("glood", lambda ev: len(_rendered_sections(of_page(ev, first))) >= want,
                                     timeout=30, client_id=client_id)
    rendered = _rendered_sections(of_page(glood, first))
    genlook = gated_collector.wait_for("genlook", lambda ev: ids(of_page(glood, first)) <= ids(ev), timeout=30,
                                       client_id=client_id)
    assert len(rendered) >= want, (left_at, state, present, rendered)
    expect_at_both(glood, genlook, first, {"page_viewed": 1, "product_viewed": 1,
                                           "glood:section:render": len(rendered)})
    assert len(set(rendered)) == len(rendered) <= 3, rendered
    assert_delivered_once(glood, genlook)


# -- 2. left at readiness --------------------------------------------------------------------------------

def test_a_page_left_the_moment_it_is_ready_is_delivered_once(gated_store: StorePage,
                                                               gated_collector: Collector) -> None:
    """Navigated away as soon as `html[data-glood-tracker=ready]` appears: the page's events arrive once."""
    store = gated_store
    first = store.base_url + PRODUCT + tag()
    store.page.goto(first, wait_until="commit")
    store.page.wait_for_selector("html[data-glood-tracker=ready]", state="attached", timeout=READY_MS)
    store.open("/collections/all" + tag(), wait_ready=False)
    store.wait_ready(READY_MS)
    glood, genlook = settle(store, gated_collector, store.client_id)
    rendered = _rendered_sections(of_page(glood, first))
    # The late section (~300 ms after DOMContentLoaded) is there long before readiness, unless the machine is slow.
    assert len(rendered) >= 2, rendered
    _check_product_page(glood, genlook, first, sections=len(rendered))
    assert_delivered_once(glood, genlook)


def test_a_page_that_navigates_itself_when_ready_is_delivered_once(gated_store: StorePage,
                                                                    gated_collector: Collector) -> None:
    """The page itself goes elsewhere in its `glood:tracker:ready` listener (registered before the sensor ran):
    its events arrive once."""
    store = gated_store
    landing = store.base_url + "/collections/all" + tag() + "&landed=1"
    store.page.add_init_script(f"""
        if (location.search.includes('leave=ready')) document.addEventListener('glood:tracker:ready', () => {{
            const sections = document.querySelectorAll('[data-glood-section]').length;
            sessionStorage.setItem('handover:sections', String(sections));
            location.href = {landing!r};
        }});""")
    first = store.base_url + PRODUCT + tag() + "&leave=ready"
    store.page.goto(first, wait_until="commit")
    store.page.wait_for_url(landing, timeout=READY_MS)
    store.wait_ready(READY_MS)
    present = int(store.page.evaluate("sessionStorage.getItem('handover:sections')"))
    glood, genlook = settle(store, gated_collector, store.client_id)
    rendered = _rendered_sections(of_page(glood, first))
    assert len(rendered) >= present >= 2, (present, rendered)
    _check_product_page(glood, genlook, first, sections=len(rendered))
    assert_delivered_once(glood, genlook)


# -- 3. actions before readiness --------------------------------------------------------------------------

def test_a_click_and_an_add_to_cart_before_ready_arrive_once(gated_store: StorePage, gated_collector: Collector,
                                                             gate: Gate) -> None:
    """With the runtime held, 0.6 s after navigation a recommended product is middle-clicked and another one added
    to the cart (a form post to the cart page): section click, section add to cart and product_added_to_cart
    arrive once each (the add judged by the cart page it lands on)."""
    store = gated_store.use_cart_forms()
    gate.hold("/dist/")
    first = store.base_url + PRODUCT + tag()
    store.page.goto(first, wait_until="commit")
    store.page.wait_for_selector("#section-similar .glood-product a", state="attached")
    wait_page_clock(store.page, 600)
    assert store.page.evaluate(TRACKER_STATE_JS) is None
    store.page.locator("#section-similar .glood-product a").nth(1).dispatch_event("auxclick", {"button": 1})
    with store.page.expect_navigation(wait_until="commit"):
        store.add_recommended_to_cart("#section-similar", 0)
    assert store.page.evaluate(TRACKER_STATE_JS) is None
    gate.release()
    store.wait_ready(READY_MS)
    glood, genlook = settle(store, gated_collector, store.client_id)
    got, landed = names(of_page(glood, first)), names(of_page(glood, store.page.url))
    assert (got["glood:section:click"], landed["glood:section:add_to_cart"], landed["product_added_to_cart"]) \
        == (1, 1, 1), (got, landed)
    expect_at_both(glood, genlook, first, {"glood:section:click": 1}, exact=False)
    expect_at_both(glood, genlook, store.page.url, {"glood:section:add_to_cart": 1, "product_added_to_cart": 1},
                   exact=False)
    assert names(glood)["product_added_to_cart"] == 1, names(glood)
    assert_delivered_once(glood, genlook)


# -- 4. a view before readiness -----------------------------------------------------------------------------

def test_a_section_viewed_before_ready_then_left_is_delivered_once(gated_store: StorePage,
                                                                    gated_collector: Collector, gate: Gate) -> None:
    """With the runtime held, a section below the fold is scrolled into view and kept there 2.5 s (the page's
    clock), then the page is left and the runtime released: its glood:section:view arrives once at both."""
    store = gated_store
    gate.hold("/dist/")
    first = store.base_url + PRODUCT + tag()
    store.page.goto(first, wait_until="commit")
    store.page.wait_for_selector("#section-fbt", state="attached", timeout=30_000)  # all three sections there
    section = store.page.evaluate("document.getElementById('section-below').dataset.gloodSection")
    store.scroll_to("#section-below")
    in_view_from = store.page.evaluate("performance.now()")
    wait_page_clock(store.page, in_view_from + 2500)
    wait_gate_waiting(gate)  # the page asked for its runtime (its load event passed) and did not get it
    assert store.page.evaluate(TRACKER_STATE_JS) is None
    store.open("/collections/all" + tag(), wait_ready=False)
    gate.release()
    store.wait_ready(READY_MS)
    glood, genlook = settle(store, gated_collector, store.client_id)
    views = [e for e in of_page(glood, first) if e["name"] == "glood:section:view"
             and e["event"]["customData"]["track"]["section"] == section]
    assert len(views) == 1, [(e["name"], e["event"].get("customData")) for e in of_page(glood, first)]
    assert views[0]["event_id"] in {e["event_id"] for e in genlook if e["name"] == "section:view"}
    _check_product_page(glood, genlook, first)
    assert_delivered_once(glood, genlook)


# -- 5. form posts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["product page", "recommended product"])
def test_a_form_post_add_to_cart_is_delivered_once(gated_store: StorePage, gated_collector: Collector,
                                                   form: str) -> None:
    """On a ready product page, an add-to-cart form is posted (the page's own, or a recommended product's): the
    cart page it lands on becomes ready; product_added_to_cart is stored exactly once, judged by that page."""
    store = gated_store.use_cart_forms()
    path = PRODUCT + tag()
    first = store.base_url + path
    store.open(path, wait_ready=False)
    store.wait_ready(READY_MS)
    with store.page.expect_navigation(wait_until="commit"):
        if form == "product page":
            store.page.locator("form.add-form button[type=submit]").click()
        else:
            store.add_recommended_to_cart("#section-similar", 0)
    store.wait_ready(READY_MS)
    assert store.page.url.startswith(store.base_url + "/cart")
    glood, genlook = settle(store, gated_collector, store.client_id)
    assert names(glood)["product_added_to_cart"] == 1, names(glood)
    assert names(genlook)["cart_page:cart_add"] == 1, names(genlook)
    expected = {"product_added_to_cart": 1} | ({"glood:section:add_to_cart": 1} if form != "product page" else {})
    landed = store.page.url
    expect_at_both(glood, genlook, landed, expected, exact=False)
    assert names(of_page(glood, landed))["glood:section:add_to_cart"] == expected.get("glood:section:add_to_cart", 0)
    assert names(of_page(glood, first))["product_added_to_cart"] == 0
    assert_delivered_once(glood, genlook)


# -- 6. the back/forward cache --------------------------------------------------------------------------------

def _bfcache_context(browser: Browser, errors: ErrorWatch) -> tuple[Any, Page, list[Any]]:
    """A context of the bfcache browser with the restore marker; its first page; the reasons Chromium gives for
    not using the cache (CDP)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_init_script(RESTORED_MARKER)
    page = errors.watch(context.new_page())
    cdp = context.new_cdp_session(page)
    cdp.send("Page.enable")
    reasons: list[Any] = []
    cdp.on("Page.backForwardCacheNotUsed", lambda params: reasons.append(params))
    return context, page, reasons


def _restored(page: Page, reasons: list[Any], times: int = 1) -> None:
    """The page now shown came from the back/forward cache (its `pageshow` was persisted); else fail with the
    reasons Chromium gave for not using the cache."""
    try:
        page.wait_for_selector(f"html[data-restored='{times}']", state="attached", timeout=30_000)
    except PlaywrightTimeoutError:
        raise AssertionError(f"not restored from the back/forward cache; Chromium's reasons: {reasons}") from None


def test_back_and_forward_through_the_cache_deliver_every_event_once(bfcache_browser: Browser,
                                                                     gated_server: GatedStore, gate: Gate,
                                                                     gated_collector: Collector) -> None:
    """A product page and a collection page, back to the first and forward to the second, both restored from the
    back/forward cache (each restore a new page view), then a last page: every event of both page views of each
    page arrives, once."""
    errors = ErrorWatch()
    context, page, reasons = _bfcache_context(bfcache_browser, errors)
    try:
        a = StorePage(page, gated_server.url)
        a_path, b_path = PRODUCT + tag(), "/collections/all" + tag()
        a_url, b_url = gated_server.url + a_path, gated_server.url + b_path
        # Each page is left once its adoption is over: a page left while its worker holds the adoption lock keeps
        # it while frozen, and Chromium evicts it when the next page asks for that lock (WebLocksContention).
        a.open(a_path, wait_ready=False)
        a.wait_ready(READY_MS)
        client_id = a.client_id
        first_view = a.wait_status(lambda s: s["adopted"])["pageview_id"]
        a.open(b_path, wait_ready=False)
        a.wait_ready(READY_MS)
        b_view = a.wait_status(lambda s: s["adopted"])["pageview_id"]
        page.go_back(wait_until="commit")
        _restored(page, reasons)
        assert page.url == a_url and reasons == [], reasons
        a.wait_status(lambda s: s["pageview_id"] not in (first_view, b_view))
        wait_for_page_events(gated_collector, client_id, a_url, lambda n: n["page_viewed"] >= 2)
        page.go_forward(wait_until="commit")
        _restored(page, reasons)
        assert page.url == b_url and reasons == [], reasons
        a.wait_status(lambda s: s["pageview_id"] != b_view)
        wait_for_page_events(gated_collector, client_id, b_url, lambda n: n["page_viewed"] >= 2)
        a.open("/cart" + tag(), wait_ready=False)
        a.wait_ready(READY_MS)
        glood, genlook = settle(a, gated_collector, client_id)
        _check_product_page(glood, genlook, a_url, views=2)
        expect_at_both(glood, genlook, b_url, {"page_viewed": 2, "collection_viewed": 2})
        assert_delivered_once(glood, genlook)
        errors.check()
    finally:
        context.close()


@pytest.mark.parametrize("hidden", ["left at once", "judged while hidden"])
def test_a_page_restored_after_another_tab_adopted_its_records_sends_nothing_twice(
        bfcache_browser: Browser, gated_server: GatedStore, gate: Gate, gated_collector: Collector,
        hidden: str) -> None:
    """Tab A (a ready product page) tracks an event and goes hidden at once (its sensor stores the facts its worker
    has not judged), then — at once, or once its worker has judged them while the page is hidden — leaves for
    about:blank through the back/forward cache (its tab lock released). A second tab C opens and becomes ready: it
    adopts A's records. Then A is restored (go_back) and shown again. Every event arrives once and none is lost:
    A's first page view, the tracked event, A's second page view, C's."""
    errors = ErrorWatch()
    context, page, reasons = _bfcache_context(bfcache_browser, errors)
    try:
        a = StorePage(page, gated_server.url)
        a_path = PRODUCT + tag()
        a_url = gated_server.url + a_path
        a.open(a_path, wait_ready=False)
        a.wait_ready(READY_MS)
        client_id = a.client_id
        a_page = a.status()["tab_id"]
        first_view = a.status()["pageview_id"]
        tracked = page.evaluate(TRACK_AND_HIDE_JS)
        kept = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('glood_tracker:facts:'))")
        assert f"glood_tracker:facts:{a_page}" in kept, kept  # A's unjudged facts, kept for another page
        if hidden == "judged while hidden":
            a.status()  # answered once the worker has judged every fact recorded before it (the call included)
        page.goto("about:blank")  # no tracker there: nothing in this tab adopts A's records
        c = StorePage(errors.watch(context.new_page()), gated_server.url)
        c_path = "/" + tag()
        c_url = gated_server.url + c_path
        c.open(c_path, wait_ready=False)
        c.wait_ready(READY_MS)
        c.wait_status(lambda s: s["adopted"])
        left = c.page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('glood_tracker:facts:'))")
        assert f"glood_tracker:facts:{a_page}" not in left, left  # C took A's record
        page.go_back(wait_until="commit")
        _restored(page, reasons)
        assert page.url == a_url and reasons == [], reasons
        a.show_tab()
        a.wait_status(lambda s: s["pageview_id"] != first_view)
        wait_for_page_events(gated_collector, client_id, a_url, lambda n: n["page_viewed"] >= 2)
        glood, genlook = settle(a, gated_collector, client_id)
        glood, genlook = settle(c, gated_collector, client_id)
        assert tracked in {e["event_id"] for e in glood}, "the event tracked as A went hidden was lost"
        _check_product_page(glood, genlook, a_url, views=2, sections=3)
        assert names(of_page(glood, c_url))["page_viewed"] == 1
        assert_delivered_once(glood, genlook)
        errors.check()
    finally:
        context.close()


# -- 7. reloads and two tabs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("when", ["before ready", "after ready"])
def test_a_reload_delivers_every_event_once(gated_store: StorePage, gated_collector: Collector, gate: Gate,
                                            when: str) -> None:
    """A product page reloaded before its runtime is up (held) or once it is ready: both page views' events arrive
    once each."""
    store = gated_store
    url = store.base_url + PRODUCT + tag()
    if when == "before ready":
        gate.hold("/dist/")
    store.page.goto(url, wait_until="commit")
    store.page.wait_for_selector("#section-fbt", state="attached", timeout=30_000)  # all three sections there
    if when == "before ready":
        wait_page_clock(store.page, 500)
        assert store.page.evaluate(TRACKER_STATE_JS) is None
    else:
        store.wait_ready(READY_MS)
    store.page.reload(wait_until="commit")
    gate.release()
    store.wait_ready(READY_MS)
    store.page.wait_for_selector("#section-fbt", state="attached", timeout=30_000)
    glood, genlook = settle(store, gated_collector, store.client_id)
    _check_product_page(glood, genlook, url, views=2)
    assert_delivered_once(glood, genlook)


def test_two_active_tabs_deliver_every_event_once(gated_store: StorePage, gated_collector: Collector,
                                                  gate: Gate) -> None:
    """Two tabs of one context open product pages at the same time with the runtime held; the first leaves for the
    cart page before its runtime came; released, the second tab's page and the cart page become ready together
    and both may adopt the first page's records: every event of the three pages arrives once."""
    store = gated_store
    errors = ErrorWatch()
    other = StorePage(errors.watch(store.page.context.new_page()), store.base_url)
    gate.hold("/dist/")
    first, second = store.base_url + PRODUCT + tag(), store.base_url + "/products/waxed-field-jacket" + tag()
    store.page.goto(first, wait_until="commit")
    other.page.goto(second, wait_until="commit")
    for tab in (store, other):
        tab.page.wait_for_selector("#section-fbt", state="attached", timeout=30_000)
    wait_page_clock(store.page, 500)
    cart = store.base_url + "/cart" + tag()
    store.page.goto(cart, wait_until="commit")
    gate.release()
    store.wait_ready(READY_MS)
    other.wait_ready(READY_MS)
    # Two tabs whose workers boot together on a first visit may each make a client id (the identity is not the
    # subject here): the events of both count.
    client_ids = sorted({store.client_id, other.client_id})
    settle(other, gated_collector, other.client_id)
    settle(store, gated_collector, store.client_id)
    glood, genlook = stored(gated_collector, *client_ids)
    _check_product_page(glood, genlook, first)
    _check_product_page(glood, genlook, second)
    expect_at_both(glood, genlook, cart, {"page_viewed": 1, "cart_viewed": 1})
    assert_delivered_once(glood, genlook)
    errors.check()


def test_a_page_that_adopted_is_restored_from_the_cache_after_a_later_page_adopted(
        bfcache_browser: Browser, gated_server: GatedStore, gate: Gate, gated_collector: Collector) -> None:
    """A is left before its runtime is up (held on the server) with an event tracked: its record holds it. B takes
    the record (adoption: the gone pages whose records it took stay claimed by a Web Lock while B lives), C adopts
    too (it lists the locks), then back to B: B is restored from the back/forward cache, for a cached page holds no
    lock (Chromium evicts one whose lock another page lists or asks for). Every event arrives once."""
    errors = ErrorWatch()
    context, page, reasons = _bfcache_context(bfcache_browser, errors)
    try:
        a = StorePage(page, gated_server.url)
        b_path = "/collections/all" + tag()
        gate.hold("/dist/")
        a.open(PRODUCT + tag(), wait_ready=False)
        wait_gate_waiting(gate)
        a_page = page.evaluate("sessionStorage.getItem('glood_tracker:tab')")
        tracked = a.track("checkout_started", {"checkout": {"token": "left-early"}})
        page.goto(gated_server.url + b_path, wait_until="commit")
        gate.release()
        a.wait_ready(READY_MS)
        client_id = a.client_id
        a.wait_status(lambda s: s["adopted"])
        held = page.evaluate("navigator.locks.query().then(q => q.held.map(l => l.name))")
        assert f"glood_tracker:claimed:{a_page}" in held, held  # B took A's record
        b_view = a.status()["pageview_id"]
        a.open("/" + tag(), wait_ready=False)
        a.wait_ready(READY_MS)
        a.wait_status(lambda s: s["adopted"])
        page.go_back(wait_until="commit")
        _restored(page, reasons)
        assert page.url == gated_server.url + b_path and reasons == [], reasons
        a.wait_status(lambda s: s["pageview_id"] != b_view)
        glood, genlook = settle(a, gated_collector, client_id)
        assert tracked in {e["event_id"] for e in glood}, "the event tracked before A's runtime was up was lost"
        assert names(of_page(glood, gated_server.url + b_path))["page_viewed"] == 2
        assert_delivered_once(glood, genlook)
        errors.check()
    finally:
        context.close()


def test_a_page_left_while_its_snapshot_is_being_made_ends_its_maker(
        bfcache_browser: Browser, gated_server: GatedStore, gate: Gate) -> None:
    """Once the page is ready its worker has the page start the snapshot's maker; the maker's fetch of the wheel is
    held on the server (routing keeps it out of the HTTP cache), so the page is surely left while the maker works:
    the maker ends with the page, and restored, the page says so ("left")."""
    errors = ErrorWatch()
    context, page, reasons = _bfcache_context(bfcache_browser, errors)
    context.route("**/*.whl", lambda route: route.continue_())  # (a routed request skips the HTTP cache)
    try:
        a = StorePage(page, gated_server.url)
        a.open(PRODUCT + tag(), wait_ready=False)
        a.wait_ready(READY_MS)
        gate.hold("/dist/tracker/")  # (nothing of the tracker's is fetched after ready but by the maker)
        a.wait_status(lambda s: s["adopted"])  # (left mid-adoption, the page would keep the adoption lock: evicted)
        assert a.wait_status(lambda s: s["boot"]["made"] is not None)["boot"]["made"] == "making"
        wait_gate_waiting(gate)  # the maker asked for the wheel: held
        page.goto(gated_server.url + "/_collector")
        page.go_back(wait_until="commit")
        _restored(page, reasons)
        assert reasons == [], reasons
        boot = a.wait_status(lambda s: s["boot"]["made"] != "making")["boot"]
        assert boot["made"] == "left", boot
        errors.check()
    finally:
        gate.release()
        context.close()

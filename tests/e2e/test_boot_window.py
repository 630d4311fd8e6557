"""Before Python is up, and around it: pages left early, actions before readiness, back/forward cache, prerender."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Page

from .conftest import CHROMIUM, OFFLINE_ARGS
from .support import Collector, LiveServer, StorePage

PRODUCT = "/products/classic-oxford-shirt"


def _not_started(page: Page) -> None:
    """The tracker's runtime has not even been requested: the page is in its boot window."""
    assert page.evaluate("document.documentElement.dataset.gloodTracker") is None
    assert page.evaluate("performance.getEntriesByType('resource').filter(r => r.name.includes('pyodide')).length") == 0


def _page_events(events: list[dict[str, Any]], url: str) -> list[str]:
    return sorted(e["name"] for e in events if e["body"]["page_url"] == url)


def test_a_page_left_at_once_is_delivered_by_the_next_page_exactly_once(store: StorePage, collector: Collector) -> None:
    """Left right after DOMContentLoaded (no worker yet), a product page's page_viewed, product_viewed and renders
    reach both destinations through the next page, once each, stamped with their own times."""
    store.page.goto(store.base_url + PRODUCT, wait_until="domcontentloaded")
    _not_started(store.page)
    left_at = store.page.evaluate("Date.now()")
    first_url = store.page.url
    store.open("/collections/all")
    next_page_at = store.page.evaluate("Date.now()")
    client_id = store.client_id
    # The two sections in the HTML render; the late one (inserted ~300 ms after DOMContentLoaded) only if the
    # page was still there then, which depends on how fast the next page came.
    def arrived(events: list[dict[str, Any]]) -> bool:
        names = _page_events(events, first_url)
        return {"page_viewed", "product_viewed"} <= set(names) and names.count("glood:section:render") >= 2

    glood = collector.wait_for("glood", arrived, client_id=client_id)
    early = [e for e in glood if e["body"]["page_url"] == first_url]
    names = _page_events(glood, first_url)
    assert names.count("page_viewed") == names.count("product_viewed") == 1 and len(names) in (4, 5), names
    renders = [e["event"]["customData"]["track"]["section"] for e in early if e["name"] == "glood:section:render"]
    assert len(renders) == len(set(renders))
    genlook = collector.wait_for("genlook", lambda ev: {e["event_id"] for e in early} <= {e["event_id"] for e in ev},
                                 client_id=client_id)
    assert all(e["deliveries"] == 1 for e in early), [(e["name"], e["deliveries"], e["event_id"]) for e in early]
    assert max(Counter(e["event_id"] for e in genlook).values()) == 1
    # Stamped with their own times: the page's events before the test left it; a late section's render (the page
    # may have lived on past `left_at` on a busy machine) before the next page.
    assert all(e["event"]["timestamp"] <= _iso(left_at) for e in early if e["name"] != "glood:section:render")
    assert all(e["event"]["timestamp"] <= _iso(next_page_at) for e in early)
    assert {e["body"]["session_id"] for e in early} == {e["session_id"] for e in genlook if e["event_id"] in
                                                        {x["event_id"] for x in early}}


def _iso(epoch_ms: int) -> str:
    from datetime import datetime
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{epoch_ms % 1000:03d}Z"


def test_a_click_before_python_is_ready_is_tracked(store: StorePage, collector: Collector) -> None:
    """A recommended product clicked in the boot window (middle click included) is delivered."""
    store.page.goto(store.base_url + PRODUCT, wait_until="domcontentloaded")
    _not_started(store.page)
    section = store.page.evaluate("document.getElementById('section-similar').dataset.gloodSection")
    # A middle click fires auxclick (a real one would also open a tab with a tracker of its own).
    store.page.locator("#section-similar .glood-product a").nth(1).dispatch_event("auxclick", {"button": 1})
    with store.page.expect_navigation():
        store.click_recommended_product("#section-similar", 0)
    store.wait_ready()
    events = collector.wait_for("glood", lambda ev: len([e for e in ev if e["name"] == "glood:section:click"]) >= 2,
                                client_id=store.client_id)
    clicks = [e["event"]["customData"]["track"] for e in events if e["name"] == "glood:section:click"]
    assert len(clicks) == 2 and {c["section"] for c in clicks} == {section}


def test_an_add_to_cart_before_python_is_ready_is_tracked(store: StorePage, collector: Collector) -> None:
    """Add to cart from a section in the boot window: the cart page delivers the section add and the cart add."""
    store.use_cart_forms().page.goto(store.base_url + PRODUCT, wait_until="domcontentloaded")
    _not_started(store.page)
    with store.page.expect_navigation():
        store.add_recommended_to_cart("#section-similar", 0)
    store.wait_ready()
    collector.wait_for_names("glood", ["glood:section:add_to_cart", "product_added_to_cart", "cart_viewed"],
                             client_id=store.client_id)
    collector.wait_for_names("genlook", ["section:add_to_cart", "cart_page:cart_add"], client_id=store.client_id)


@pytest.fixture
def bfcache_browser(browser_type: BrowserType) -> Iterator[Browser]:
    """Chromium with the back/forward cache on (Playwright turns it off by default)."""
    browser = browser_type.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS,
                                  ignore_default_args=["--disable-back-forward-cache"])
    yield browser
    browser.close()


def test_back_forward_cache_restores_the_page_and_it_counts_a_new_view(bfcache_browser: Browser,
                                                                       store_server: LiveServer,
                                                                       collector: Collector) -> None:
    """A tracker page is restored from the back/forward cache (Chromium names no reason against it) and sends a
    new page_viewed with a new pageview id."""
    context = bfcache_browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.add_init_script("addEventListener('pageshow', e => { if (e.persisted) window.restored = true })")
    cdp = context.new_cdp_session(page)
    cdp.send("Page.enable")
    reasons: list[Any] = []
    cdp.on("Page.backForwardCacheNotUsed", lambda params: reasons.append(params))
    store = StorePage(page, store_server.url).open(PRODUCT)
    client_id = store.client_id
    first = store.status()["pageview_id"]
    store.open("/collections/all")
    page.go_back(wait_until="commit")  # a page restored from the cache gets pageshow, not load
    page.wait_for_function("window.restored === true")
    assert reasons == [], reasons
    assert store.status()["pageview_id"] != first
    events = collector.wait_for("genlook",
                                lambda ev: len([e for e in ev if e["name"] == "product_page:page_view"]) >= 2,
                                client_id=client_id)
    views = {e["context"]["$pageview_id"] for e in events if e["name"] == "product_page:page_view"}
    assert len(views) == 2 and first in views
    context.close()


def test_a_prerendered_page_sends_nothing_until_activated(store: StorePage, collector: Collector) -> None:
    """While `document.prerendering` the worker is not started and nothing is sent; on prerenderingchange the
    page is tracked, its page_viewed stamped at activation."""
    store.page.add_init_script("""
        Object.defineProperty(document, 'prerendering', {value: true, configurable: true});
        window.activate = () => {
            Object.defineProperty(document, 'prerendering', {value: false, configurable: true});
            document.dispatchEvent(new Event('prerenderingchange'));
        };
    """)
    store.page.goto(store.base_url + "/?prerender=1", wait_until="load")
    store.page.wait_for_load_state("networkidle")
    _not_started(store.page)
    activated_at = store.page.evaluate("Date.now()")
    store.page.evaluate("window.activate()")
    store.wait_ready()
    events = collector.wait_for_names("glood", ["page_viewed"], client_id=store.client_id)
    (view,) = [e for e in events if e["name"] == "page_viewed"]
    assert view["body"]["page_url"] == store.base_url + "/?prerender=1"
    assert view["event"]["timestamp"] >= _iso(activated_at)


def test_nothing_of_the_runtime_is_fetched_before_the_load_event(store: StorePage) -> None:
    """Every request for the tracker's files (its worker, Pyodide, the wheel) starts after the page's load
    event; before it the page carries only the inline sensor and the config."""
    store.open(PRODUCT)
    timing = store.page.evaluate("""() => ({
        load: performance.getEntriesByType('navigation')[0].loadEventEnd,
        tracker: performance.getEntriesByType('resource')
            .filter(r => /\\/(dist|static\\/(tracker|vendor))\\//.test(r.name)).map(r => [r.name, r.startTime])})""")
    assert timing["tracker"], "the worker's files are resource entries of the page"
    early = [name for name, start in timing["tracker"] if start < timing["load"]]
    assert early == [], early


def test_a_page_with_no_facts_left_before_its_worker_still_counts_as_viewed(store: StorePage, collector: Collector,
                                                                            console_errors: list[str]) -> None:
    """A page without sections (a 404), left as soon as the sensor ran, is still delivered as viewed by the
    next page: the page itself is the first thing to judge."""
    store.page.goto(store.base_url + "/no-such-page?left=early", wait_until="commit")
    store.page.wait_for_selector("html[data-glood-tracker], head script[data-runtime]", state="attached")
    _not_started(store.page)
    left_url = store.page.url
    store.open("/")
    collector.wait_for("glood", lambda ev: any(e["name"] == "page_viewed" and e["body"]["page_url"] == left_url
                                               for e in ev), client_id=store.client_id)
    assert all("status of 404" in m for m in console_errors), console_errors  # the 404 page's own status

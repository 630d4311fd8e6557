"""Delivery: standard events, the pre-boot queue, unload, both destinations, cross-origin, bad input."""

from __future__ import annotations

from playwright.sync_api import Page

from .support import Collector, StorePage


def test_page_events_reach_both_destinations_in_their_formats(store: StorePage, collector: Collector) -> None:
    """A product page sends page_viewed and product_viewed to Glood and Genlook with shared ids and the visit id."""
    store.open("/collections/all")
    store.open(store.page.locator("a[href^='/products/']").first.get_attribute("href"))
    client_id = store.client_id
    glood = collector.wait_for_names("glood", ["page_viewed", "page_viewed", "product_viewed", "collection_viewed"],
                                     client_id=client_id)
    genlook = collector.wait_for_names(
        "genlook", ["collection_page:page_view", "product_page:page_view", "product_page:product_view"],
        client_id=client_id)
    product_view = next(e for e in glood if e["name"] == "product_viewed")
    body = product_view["body"]
    assert body["shop_domain"] and body["channel"] == "web" and body["page_type"] == "product"
    assert body["event"]["type"] == "standard"
    assert body["session_id"] == product_view["session_id"] and body["session_id"]
    # Each event goes to both; the other destination's copy may still be on its way: wait for it, by id.
    genlook_ids = {e["event_id"] for e in genlook}
    collector.wait_for("glood", lambda ev: genlook_ids <= {e["event_id"] for e in ev}, client_id=client_id)
    context = next(e for e in genlook if e["name"] == "product_page:product_view")["context"]
    assert context["$session_id"] == body["session_id"]
    assert context["genlook_client_id"] == client_id
    assert context["genlook_product_id"] == "gid://shopify/Product/" + body["event"]["data"]["product"]["id"]


def test_calls_before_boot_are_replayed_in_order_with_original_times(page: Page, store: StorePage,
                                                                    collector: Collector) -> None:
    """track() calls made before Python boots are recorded by the sensor and delivered in order, own timestamps."""
    page.add_init_script("""
        document.addEventListener('DOMContentLoaded', () => {
            for (const q of ['first', 'second', 'third'])
                window.gloodTracker.track('search_submitted', {searchResult: {query: q}});
            window.preBootAt = Date.now();
        });
    """)
    store.open("/")
    assert page.evaluate("window.gloodTracker.q === undefined")
    events = collector.wait_for_names("glood", ["search_submitted"] * 3, client_id=store.client_id)
    searches = [e for e in events if e["name"] == "search_submitted"]
    times = {e["event"]["data"]["searchResult"]["query"]: e["event"]["timestamp"] for e in searches}
    assert times["first"] <= times["second"] <= times["third"]  # separate requests: only their times say the order
    ready_at = page.evaluate("window.preBootAt")
    from datetime import datetime
    for e in searches:
        ts = datetime.fromisoformat(e["event"]["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
        assert ts <= ready_at + 1


def test_events_fired_just_before_leaving_are_delivered(store: StorePage, collector: Collector) -> None:
    """Events queued right before navigating away go out on pagehide (no timer flush in between)."""
    store.page.add_init_script("window.gloodTrackerConfig = {flush_interval_ms: 600000, max_batch: 1000}")
    store.open("/")
    client_id = store.client_id
    collector.wait_for_names("glood", ["page_viewed"], client_id=client_id)
    ids = [store.track("checkout_started", {"checkout": {"n": i}}) for i in range(5)]
    assert all(ids)
    store.page.goto(store.base_url + "/cart")
    events = collector.wait_for("glood", lambda ev: set(ids) <= {e["event_id"] for e in ev}, client_id=client_id)
    collector.wait_for("genlook", lambda ev: set(ids) <= {e["event_id"] for e in ev}, client_id=client_id)
    assert len([e for e in events if e["event_id"] in ids]) == 5


def test_hidden_tab_flushes_immediately(store: StorePage, collector: Collector) -> None:
    """visibilitychange to hidden sends the queue at once."""
    store.page.add_init_script("window.gloodTrackerConfig = {flush_interval_ms: 600000, max_batch: 1000}")
    store.open("/")
    collector.wait_for_names("glood", ["page_viewed"], client_id=store.client_id)  # the visit's own flush is over
    event_id = store.track("checkout_started", {"checkout": {}})
    assert store.page.evaluate("window.gloodTracker.pending()") >= 1
    store.hide_tab()
    collector.wait_for("glood", lambda ev: any(e["event_id"] == event_id for e in ev), client_id=store.client_id)


def test_browsing_leaves_no_duplicates_and_no_rejections(store: StorePage, collector: Collector) -> None:
    """After a browse, every event is stored once at each destination and nothing was rejected."""
    before = collector.stats()
    store.open("/")
    client_id = store.client_id
    store.open(store.page.locator(".glood-product a").first.get_attribute("href"))
    store.page.wait_for_selector("#section-fbt [data-glood-product-id]")
    collector.wait_for_names("glood", ["glood:section:view"], client_id=client_id)
    store.scroll_to("#section-below")
    store.open("/cart")
    glood = collector.wait_for_names(
        "glood", ["page_viewed"] * 3 + ["glood:section:render"] * 4 + ["product_viewed", "cart_viewed",
                                                                      "glood:section:view"], client_id=client_id)
    genlook = collector.wait_for("genlook", lambda ev: {e["event_id"] for e in ev} >= {e["event_id"] for e in glood},
                                 client_id=client_id)
    assert all(e["deliveries"] == 1 for e in glood + genlook)
    assert len({e["event_id"] for e in glood}) == len(glood)
    after = collector.stats()
    assert after["glood"]["rejected"] == before["glood"]["rejected"]
    assert after["genlook"]["rejected"] == before["genlook"]["rejected"]


def test_cross_origin_delivery(cross_store: StorePage, remote_collector: Collector) -> None:
    """A store whose collectors live on another site still delivers JSON beacons (preflight + credentials)."""
    cross_store.open("/")
    client_id = cross_store.client_id
    remote_collector.wait_for_names("glood", ["page_viewed", "glood:section:render"], client_id=client_id)
    remote_collector.wait_for_names("genlook", ["home_page:page_view", "section:render"], client_id=client_id)


def test_bad_track_input_is_reported_and_other_events_flow(store: StorePage, collector: Collector,
                                                          console_errors: list[str]) -> None:
    """Data that is not JSON gets null at once; an unknown name or a too-big event is refused by the worker.
    Each gets a console error and a count, never an exception; good events still arrive."""
    store.open("/")
    assert store.page.evaluate("window.gloodTracker.track('checkout_started', {f: () => 1n})") is None
    assert store.page.evaluate("(() => { const a = {}; a.self = a; "
                               "return window.gloodTracker.track('checkout_started', a); })()") is None
    unknown = store.page.evaluate("window.gloodTracker.track('no_such_event', {})")
    huge = store.page.evaluate("window.gloodTracker.track('checkout_started', {blob: 'x'.repeat(70000)})")
    assert unknown and huge  # ids are made at once; the worker judges the rest
    good = store.track("checkout_started", {"checkout": {"ok": True}})
    store.flush()
    collector.wait_for("glood", lambda ev: any(e["event_id"] == good for e in ev), client_id=store.client_id)
    assert store.status()["stats"]["rejected"] == 4
    rejected = [m for m in console_errors if "rejected" in m]
    assert len(rejected) == 4, console_errors
    assert any("no_such_event" in m for m in rejected)
    assert any("bytes" in m for m in rejected)
    ids = {e["event_id"] for e in collector.events("glood", client_id=store.client_id)}
    assert unknown not in ids and huge not in ids


def test_removing_a_cart_line_is_tracked(store: StorePage, collector: Collector) -> None:
    """Remove on the cart page sends product_removed_from_cart for that line's product and variant."""
    store.use_cart_forms().open("/products/classic-oxford-shirt")
    client_id = store.client_id
    variant = store.page.locator(".add-form [name=id]").input_value()
    product = store.page.evaluate("JSON.parse(document.getElementById('glood-page').textContent).product.id")
    with store.page.expect_navigation():
        store.page.locator(".add-form button[type=submit]").click()
    store.wait_ready()
    line = store.page.evaluate("""(v) => JSON.parse(document.getElementById('glood-page').textContent)
        .cart.lines.findIndex(l => l.variant_id === v) + 1""", variant)
    assert line >= 1
    with store.page.expect_navigation():
        store.page.locator("form[action='/cart/change'] button").nth(line - 1).click()
    store.wait_ready()
    events = collector.wait_for_names("glood", ["product_removed_from_cart"], client_id=client_id)
    (removed,) = [e for e in events if e["name"] == "product_removed_from_cart"]
    merchandise = removed["event"]["data"]["cartLine"]["merchandise"]
    assert (merchandise["id"], merchandise["product"]) == (variant, {"id": product})
    assert removed["body"]["page_type"] == "cart"
    collector.wait_for_names("genlook", ["cart_page:cart_remove"], client_id=client_id)


def test_bad_calls_before_boot_are_refused_one_by_one(page: Page, store: StorePage, collector: Collector,
                                                     console_errors: list[str]) -> None:
    """A circular object, a throwing getter, 40-deep data and a lone surrogate pushed before Python is up are
    each refused and counted; the good calls around them are delivered and the tracker boots."""
    page.add_init_script("""
        document.addEventListener('DOMContentLoaded', () => {
            const t = window.gloodTracker, cyclic = {}, getter = {};
            cyclic.self = cyclic;
            Object.defineProperty(getter, 'x', {enumerable: true, get() { throw new Error('nope'); }});
            let deep = {};
            for (let i = 0; i < 40; i++) deep = {d: deep};
            window.early = [t.track('search_submitted', {searchResult: {query: 'before'}}),
                            t.track('checkout_started', cyclic), t.track('checkout_started', getter),
                            t.track('checkout_started', deep), t.track('checkout_started', {q: '\\ud800'}),
                            t.track('search_submitted', {searchResult: {query: 'after'}})];
        });
    """)
    store.open("/")
    early = page.evaluate("window.early")
    assert early[1] is None and early[2] is None and all(early[i] for i in (0, 3, 4, 5))
    events = collector.wait_for("glood", lambda ev: {early[0], early[5]} <= {e["event_id"] for e in ev},
                                client_id=store.client_id)
    assert not {early[3], early[4]} & {e["event_id"] for e in events}
    assert store.status()["stats"]["rejected"] == 4
    assert len([m for m in console_errors if "rejected" in m]) == 4, console_errors


def test_data_nested_thousands_deep_is_refused_without_harm(store: StorePage, collector: Collector,
                                                            console_errors: list[str]) -> None:
    """track() with data 5,000 levels deep is refused (null on the page, or by the worker before Python
    parses it) and counted; the tracker goes on."""
    store.open("/")
    deep_id = store.page.evaluate("""() => {
        let deep = {};
        for (let i = 0; i < 5000; i++) deep = {d: deep};
        return window.gloodTracker.track('checkout_started', deep);
    }""")
    good = store.track("search_submitted", {"searchResult": {"query": "after"}})
    store.flush()
    events = collector.wait_for("glood", lambda ev: good in {e["event_id"] for e in ev}, client_id=store.client_id)
    assert deep_id not in {e["event_id"] for e in events}
    assert store.status()["stats"]["rejected"] == 1
    assert len([m for m in console_errors if "rejected" in m]) == 1, console_errors


def test_a_burst_past_every_cap_is_delivered_whole_while_the_page_lives(store: StorePage, collector: Collector) -> None:
    """800 events in one loop (past the stored-backlog cap, the keepalive quota and the burst threshold):
    every one reaches both collectors once while the page stays open, and nothing is dropped."""
    store.open("/")
    store.wait_status(lambda s: s["session_id"] is not None and s["pending"] == 0)
    before = collector.stats()
    ids = store.page.evaluate("""() => Array.from({length: 800},
        (_, i) => window.gloodTracker.track('search_submitted', {searchResult: {query: 'q'.repeat(300) + i}}))""")
    assert len(set(ids)) == 800 and None not in ids
    assert store.status()["unstored"] > 0  # past the stored-backlog cap: only the page's memory has them all
    wanted = set(ids)
    events = collector.wait_for("glood", lambda ev: wanted <= {e["event_id"] for e in ev}, timeout=300,
                                client_id=store.client_id, name="search_submitted")
    assert len([e for e in events if e["event_id"] in wanted]) == 800
    # Genlook's stored batches are too large to list 800 of: count them, and the tracker's own account.
    status = store.wait_status(lambda s: s["pending"] == 0, timeout=300)
    assert status["stats"]["sent_genlook"] >= 800
    assert not any(k.startswith("dropped") and v for k, v in status["stats"].items()), status["stats"]
    after = collector.wait_for_stats(lambda s: s["genlook"]["accepted"] >= before["genlook"]["accepted"] + 800)
    for destination in ("glood", "genlook"):
        assert after[destination]["duplicates"] == before[destination]["duplicates"]
        assert after[destination]["rejected"] == before[destination]["rejected"]

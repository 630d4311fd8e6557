"""The public API before boot, identify() and reset() across pages, in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page

from .support import Collector, StorePage


def test_every_api_method_works_before_boot(page: Page, store: StorePage, collector: Collector) -> None:
    """track, setConsent, identify, page, flush and onReady called before Python is up are kept in order and
    done once it is; onReady's callback runs when the tracker is ready."""
    page.add_init_script("""
        document.addEventListener('DOMContentLoaded', () => {
            const t = window.gloodTracker;
            t.setConsent(true);
            t.identify('cust-42', {plan: 'gold'});
            window.calls = [t.track('search_submitted', {searchResult: {query: 'early'}})];
            t.page({page_type: 'home', customer: {id: 'cust-42'}});
            t.flush().then((n) => window.flushed = n);
            t.onReady(() => window.readyCalled = document.documentElement.dataset.gloodTracker);
        });
    """)
    store.open("/")
    assert page.evaluate("window.readyCalled") == "ready"
    assert isinstance(page.evaluate("window.flushed"), int)
    early = page.evaluate("window.calls[0]")
    events = collector.wait_for("glood", lambda ev: {"glood:customer_preference"} <= {e["name"] for e in ev}
                                and early in {e["event_id"] for e in ev}, client_id=store.client_id)
    (search,) = [e for e in events if e["event_id"] == early]
    assert search["body"]["customer_id"] == "cust-42"


def test_identify_then_reset_across_pages(store: StorePage, collector: Collector) -> None:
    """After identify() later pages carry the customer; after reset() the next pages have new anonymous ids,
    a new visit and no customer, while what was sent before keeps the old ids."""
    store.open("/")
    first_client = store.client_id
    store.page.evaluate("gloodTracker.identify('cust-9')")
    store.status()  # answered once the worker has judged the call (and the sensor holds what it stored)
    store.open("/collections/all")
    first = collector.wait_for("glood", lambda ev: any(e["body"]["page_url"].endswith("/collections/all")
                                                       for e in ev if e["name"] == "page_viewed"),
                               client_id=first_client)
    (collection,) = [e for e in first if e["name"] == "page_viewed" and e["body"]["page_url"].endswith("/all")]
    assert collection["body"]["customer_id"] == "cust-9"
    store.page.evaluate("gloodTracker.reset()")
    second_client = store.wait_status(lambda s: s["client_id"] != first_client)["client_id"]
    store.open("/cart")
    after = collector.wait_for_names("glood", ["page_viewed", "cart_viewed"], client_id=second_client)
    assert all("customer_id" not in e["body"] for e in after)
    assert {e["session_id"] for e in after}.isdisjoint({e["session_id"] for e in first})


def test_before_send_drops_samples_and_edits(store: StorePage, collector: Collector) -> None:
    """The example before_send module (imported by the worker) drops internal searches, keeps about 1 section
    view in 10 by id and marks those with their sample rate; other events pass unchanged."""
    store.page.add_init_script("window.gloodTrackerConfig = {before_send: '/static/examples/before_send.js'}")
    store.open("/collections/all")
    track = {"section": "1", "products": []}
    internal = store.track("search_submitted", {"searchResult": {"query": "internal-test"}})
    shopper = store.track("search_submitted", {"searchResult": {"query": "shirts"}})
    views = [store.track("glood:section:view", {}, {"track": track}) for _ in range(60)]
    kept = [i for i in views if int(i[:2], 16) % 10 == 0]
    store.flush()
    events = collector.wait_for("glood", lambda ev: {shopper, *kept} <= {e["event_id"] for e in ev},
                                client_id=store.client_id)
    by_id = {e["event_id"]: e for e in events}
    assert internal not in by_id and not (set(views) - set(kept)) & set(by_id)
    assert by_id[shopper]["event"]["data"] == {"searchResult": {"query": "shirts"}}
    assert all(by_id[i]["event"]["data"] == {"sample_rate": 0.1} for i in kept)
    assert store.status()["stats"]["dropped_before_send"] == 1 + len(views) - len(kept)

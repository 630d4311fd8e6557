"""The tracker's lifetime in the page: stop() flushes, releases every hook, and leaves the page working."""

from __future__ import annotations

from .support import Collector, StorePage


def test_stop_flushes_and_releases_every_hook(store: StorePage, collector: Collector) -> None:
    """After stop(): queued events were sent, the tab lock is free, and clicks, scrolls, mutations and timers
    make no events and raise no errors (a destroyed proxy still attached would), and the API answers inertly."""
    store.page.add_init_script("window.gloodTrackerConfig = {flush_interval_ms: 600000, max_batch: 1000}")
    store.open("/products/classic-oxford-shirt")
    client_id = store.client_id
    collector.wait_for_names("glood", ["page_viewed"], client_id=client_id)
    tab_id = store.status()["tab_id"]
    last = store.track("checkout_started", {"checkout": {"last": True}})
    store.page.evaluate("window.gloodTracker.stop()")
    assert store.page.evaluate("document.documentElement.dataset.gloodTracker") == "stopped"
    collector.wait_for("glood", lambda ev: any(e["event_id"] == last for e in ev), client_id=client_id)
    held = store.page.evaluate("navigator.locks.query().then(s => s.held.map(l => l.name))")
    assert f"glood_tracker:tab:{tab_id}" not in held
    before = len(collector.events("glood", client_id=client_id))
    store.scroll_to("#section-below")
    store.page.evaluate("""() => {
        const s = document.createElement('section');
        s.setAttribute('data-glood-section', 'late-after-stop');
        document.body.appendChild(s);
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    store.page.locator("#section-similar .glood-product a").first.click(modifiers=["Control"])
    # A view timer (1 s) or a flush timer still armed would fire within 1.5 s of the page's own clock.
    since = store.page.evaluate("performance.now()")
    store.page.wait_for_function("(ms) => performance.now() > ms", arg=since + 1500, polling=100, timeout=30_000)
    store.page.evaluate("window.dispatchEvent(new Event('pagehide'))")
    assert store.page.evaluate(
        "Promise.all([gloodTracker.track('checkout_started', {}), gloodTracker.flush(), gloodTracker.stop()])") \
        == [None, 0, None]
    assert len(collector.events("glood", client_id=client_id)) == before

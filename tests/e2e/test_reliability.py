"""Nothing lost, nothing doubled, in a real browser: failing collectors, reloads, tabs, consent, broken storage."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from playwright.sync_api import BrowserContext, Page

from .support import Collector, LiveServer, StorePage

FETCH = "window.gloodTrackerConfig = {transport: 'fetch'}"
DOWN = 1_000_000


def _only_failed_requests(console_errors: list[str], status: int) -> None:
    """The browser logs each failed request as a console error; nothing else may be an error."""
    unexpected = [m for m in console_errors if f"status of {status}" not in m]
    assert unexpected == [], unexpected


def _ids(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["event_id"] for e in events)


def _epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def test_collector_down_across_a_reload_still_stores_every_event_once(store: StorePage, collector: Collector,
                                                                      console_errors: list[str]) -> None:
    """Sends fail (503) before and during a reload; the next page restores the backlog; once the collector is
    back every event is stored exactly once at both stand-ins."""
    store.page.add_init_script(FETCH)
    collector.fail("glood", DOWN)
    collector.fail("genlook", DOWN)
    store.open("/")
    client_id = store.status()["client_id"]
    tracked = [store.track("checkout_started", {"checkout": {"n": i}}) for i in range(5)]
    store.flush()
    collector.wait_for_stats(lambda s: s["glood"]["rejected"] >= 1 and s["genlook"]["rejected"] >= 1)
    first = store.status()
    assert first["pending"] >= 7  # page_viewed, a section render, five tracked
    store.page.reload()
    store.wait_ready()
    store.wait_status(lambda s: s["stats"].get("restored", 0) >= 7)
    assert collector.events("glood", client_id=client_id) == []
    collector.fail("glood", 0)
    collector.fail("genlook", 0)
    expected = set(tracked) | {"page_viewed"}
    glood = collector.wait_for("glood", lambda ev: set(tracked) <= set(_ids(ev)) and
                               [e["name"] for e in ev].count("page_viewed") == 2, timeout=45, client_id=client_id)
    genlook = collector.wait_for("genlook", lambda ev: set(_ids(glood)) <= set(_ids(ev)), timeout=45,
                                 client_id=client_id)
    assert expected - {"page_viewed"} <= set(_ids(glood))
    assert max(_ids(glood).values()) == 1 and max(_ids(genlook).values()) == 1
    assert all(e["deliveries"] == 1 for e in glood + genlook), "an event was delivered twice"
    stats = collector.stats()
    assert stats["glood"]["rejected_by_status"].get("503", 0) >= 2
    assert store.status()["pending"] == 0 and store.stored_keys() == sorted(
        k for k in store.stored_keys() if not k.startswith("glood_tracker:outbox:"))
    _only_failed_requests(console_errors, 503)


def test_retry_after_and_4xx_are_honoured(store: StorePage, collector: Collector, console_errors: list[str]) -> None:
    """A 429 with Retry-After is retried after it and then stored once; a 400 is not retried (dropped, counted)."""
    store.page.add_init_script(FETCH)
    store.open("/")
    collector.wait_for_names("glood", ["page_viewed"], client_id=store.client_id)
    collector.fail("glood", 1, status=429, retry_after=2)
    retried = store.track("checkout_started", {"checkout": {"case": "429"}})
    store.flush()
    collector.wait_for_stats(lambda s: s["glood"]["rejected_by_status"].get("429", 0) >= 1)
    events = collector.wait_for("glood", lambda ev: retried in _ids(ev), timeout=20, client_id=store.client_id)
    assert _ids(events)[retried] == 1
    collector.fail("glood", 1, status=400)
    dropped = store.track("checkout_started", {"checkout": {"case": "400"}})
    store.flush()
    store.wait_status(lambda s: s["stats"].get("dropped_glood", 0) >= 1)
    assert store.status()["pending"] == 0
    glood_ids = _ids(collector.events("glood", client_id=store.client_id))
    genlook_ids = _ids(collector.wait_for("genlook", lambda ev: dropped in _ids(ev), client_id=store.client_id))
    assert dropped not in glood_ids and genlook_ids[dropped] == 1
    _only_failed_requests(console_errors, 4)


def test_two_tabs_do_not_double_send_stored_events(page: Page, context: BrowserContext, store_server: LiveServer,
                                                   collector: Collector, console_errors: list[str]) -> None:
    """A live tab's stored backlog is left alone; a closed tab's is adopted by exactly one of two new tabs."""
    context.add_init_script(FETCH)
    collector.fail("glood", DOWN)
    collector.fail("genlook", DOWN)
    first = StorePage(page, store_server.url).open("/")
    client_id = first.status()["client_id"]
    tracked = [first.track("checkout_started", {"checkout": {"n": i}}) for i in range(4)]
    first.flush()
    collector.wait_for_stats(lambda s: s["glood"]["rejected"] >= 1)
    second = StorePage(context.new_page(), store_server.url).open("/collections/all")
    assert second.status()["stats"].get("restored", 0) == 0  # the first tab is alive: its backlog stays its own
    first.page.close()
    third, fourth = StorePage(context.new_page(), store_server.url), StorePage(context.new_page(), store_server.url)
    third.page.goto(store_server.url + "/cart")
    fourth.page.goto(store_server.url + "/")
    third.wait_ready()
    fourth.wait_ready()
    # Adoption runs right after readiness: each tab says when its claim is over (done or found nothing).
    restored = [tab.wait_status(lambda s: s["adopted"])["stats"].get("restored", 0) for tab in (third, fourth)]
    assert sorted(restored)[0] == 0 and sorted(restored)[1] >= 4, restored
    collector.fail("glood", 0)
    collector.fail("genlook", 0)
    glood = collector.wait_for("glood", lambda ev: set(tracked) <= set(_ids(ev)), timeout=45, client_id=client_id)
    collector.wait_for("genlook", lambda ev: set(tracked) <= set(_ids(ev)), timeout=45, client_id=client_id)
    for tab in (second, third, fourth):
        tab.flush()
    settled = collector.events("glood", client_id=client_id) + collector.events("genlook", client_id=client_id)
    assert all(e["deliveries"] == 1 for e in settled), [(e["name"], e["deliveries"]) for e in settled]
    assert len(glood) >= 4
    _only_failed_requests(console_errors, 503)


def test_events_wait_for_consent_and_go_with_their_own_times(consent_store: StorePage,
                                                            consent_collector: Collector) -> None:
    """Before the visitor answers the banner nothing is sent or stored; on Accept the buffered events go, with
    the times they happened."""
    visits = consent_collector.stats()["glood"]["visits"]
    consent_store.open("/")
    status = consent_store.status()
    assert status["consent"] == "pending" and status["pending"] >= 2
    assert consent_store.flush() == 0
    assert consent_store.stored_keys() == []
    assert consent_collector.stats()["glood"]["visits"] == visits  # not even a session init
    assert consent_collector.events("glood", client_id=status["client_id"]) == []
    accepted_at = consent_store.page.evaluate("Date.now()")
    consent_store.page.get_by_role("button", name="Accept").click()
    events = consent_collector.wait_for_names("glood", ["page_viewed", "glood:section:render"],
                                              client_id=status["client_id"])
    consent_collector.wait_for_names("genlook", ["home_page:page_view", "section:render"],
                                     client_id=status["client_id"])
    assert all(_epoch_ms(e["event"]["timestamp"]) < accepted_at for e in events)
    assert "glood_tracker:identity" in consent_store.stored_keys()


def test_declined_consent_sends_and_stores_nothing(consent_store: StorePage, consent_collector: Collector) -> None:
    """On Decline the buffer is dropped, track() makes nothing, storage holds no tracker data, and the next
    page starts denied."""
    consent_store.open("/")
    client_id = consent_store.status()["client_id"]
    consent_store.page.get_by_role("button", name="Decline").click()
    status = consent_store.status()
    assert status["consent"] == "denied" and status["pending"] == 0
    assert consent_store.track("checkout_started", {"checkout": {}}) is None
    assert consent_store.flush() == 0
    assert consent_store.stored_keys() == []
    consent_store.open("/collections/all")
    assert consent_store.status()["consent"] == "denied"
    assert consent_store.page.locator("#consent-banner").count() == 0
    consent_store.flush()
    assert consent_store.stored_keys() == []
    assert consent_collector.events("glood", client_id=client_id) == []
    assert consent_collector.events("genlook", client_id=client_id) == []


def test_throwing_storage_never_breaks_the_page_or_the_tracker(store: StorePage, collector: Collector) -> None:
    """With localStorage and sessionStorage throwing on every access, the tracker boots and delivers."""
    store.page.add_init_script("""
        for (const name of ['localStorage', 'sessionStorage'])
            Object.defineProperty(window, name, {get() { throw new DOMException('blocked', 'SecurityError'); }});
    """)
    store.open("/")
    client_id = store.status()["client_id"]
    event_id = store.track("checkout_started", {"checkout": {"storage": "blocked"}})
    store.flush()
    collector.wait_for("glood", lambda ev: event_id in _ids(ev), client_id=client_id)
    collector.wait_for("genlook", lambda ev: event_id in _ids(ev), client_id=client_id)


def test_beacon_events_waiting_for_a_visit_survive_a_reload(store: StorePage, collector: Collector,
                                                            console_errors: list[str]) -> None:
    """With the default beacon transport and Glood's init failing, Glood events wait, are stored, survive a
    reload, and are sent once the visit starts; Genlook, which stops waiting, gets each event once too."""
    collector.fail("glood", DOWN, endpoint="init")
    store.open("/")
    client_id = store.status()["client_id"]
    tracked = [store.track("checkout_started", {"checkout": {"n": i}}) for i in range(3)]
    store.wait_status(lambda s: s["stats"].get("sent_genlook", 0) >= 5, timeout=30)
    assert any(k.startswith("glood_tracker:outbox:") for k in store.stored_keys())
    store.page.reload()
    store.wait_ready()
    store.wait_status(lambda s: s["stats"].get("restored", 0) >= 5)
    collector.fail("glood", 0, endpoint="init")
    glood = collector.wait_for("glood", lambda ev: set(tracked) <= set(_ids(ev)), timeout=45, client_id=client_id)
    genlook = collector.wait_for("genlook", lambda ev: set(_ids(glood)) <= set(_ids(ev)), timeout=45,
                                 client_id=client_id)
    assert max(_ids(glood).values()) == 1 and all(e["deliveries"] == 1 for e in glood + genlook)
    assert len({e["session_id"] for e in glood}) == 1
    _only_failed_requests(console_errors, 503)


def test_a_garbage_stub_queue_is_refused_entry_by_entry(store: StorePage, collector: Collector,
                                                        console_errors: list[str]) -> None:
    """An older stub's `gloodTracker.q` with bad entries: each is refused on its own (console, `rejected`), the
    good entry is tracked with its time, and the tracker gets ready; a queue that is not an array is refused (as
    one bad entry)."""
    store.page.add_init_script("""
        window.gloodTracker = {q: [null, 'garbage',
                                   [Date.now() - 5000, 'search_submitted', {searchResult: {query: 'q'}}], {}]};
    """)
    store.open("/")
    status = store.status()
    assert status["stats"]["rejected"] == 3
    assert sum("is not an array, refused" in m for m in console_errors) == 3, console_errors
    events = collector.wait_for("glood", lambda ev: any(e["name"] == "search_submitted" for e in ev),
                                client_id=status["client_id"])
    assert all(e["deliveries"] == 1 for e in events)
    store.page.add_init_script("window.gloodTracker = {q: 'garbage'}")
    store.open("/collections/all")
    assert store.status()["stats"]["rejected"] == 1
    assert any("gloodTracker.q: entry 0 is not an array" in m for m in console_errors), console_errors

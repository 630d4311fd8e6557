"""Unit tests of delivery you can trust: persistence, adoption across pages and tabs, answers, retries, consent."""

from __future__ import annotations

import json

import pytest

from tracker.core.config import Config
from tracker.core.events import PageContext
from tracker.core.journal import JOURNAL_PREFIX, Entry, Journal, event_from_record, event_record
from tracker.core.pipeline import Pipeline
from tracker.core.retry import Backoff
from tracker.core.session import IDENTITY_KEY, VISIT_KEY
from tracker.core.storage import MemoryStorage
from tracker.core.transport import Receipt
from tracker.testing import BrokenStorage, FakeClock, MockTransport, sequential_ids

SHOP = "demo-store.myshopify.com"
PAGE = PageContext(url="https://demo-store.myshopify.com/products/a", page_type="product", pageview_id="pv-1",
                   product_id="1", variant_id="2", viewport_width=1280, viewport_height=720, user_agent="UA")
DAY = 24 * 60 * 60 * 1000


def make(sender=None, *, storage=None, clock=None, tab="tab-a", prefix="e", consent=None, **overrides) -> Pipeline:
    """A pipeline on shared doubles; ids are `<prefix>-n` so two pages never collide."""
    config = Config.from_mapping({"shop_domain": SHOP, "max_batch": 1000, **overrides})
    return Pipeline(config, sender or MockTransport(), clock=clock or FakeClock(now_ms=1_776_335_398_123),
                    storage=MemoryStorage() if storage is None else storage, new_id=sequential_ids(prefix),
                    rand=lambda: 1.0, backoff=Backoff(base_ms=1000, cap_ms=8000, min_ms=0), tab_id=tab,
                    consent=consent)


def track(pipeline: Pipeline, n: int = 1, name: str = "checkout_started") -> list[str]:
    return [pipeline.track(name, {"n": i}, page=PAGE).id for i in range(n)]


def stored_ids(storage: MemoryStorage, tab: str) -> list[str]:
    raw = storage.get(JOURNAL_PREFIX + tab)
    return [] if raw is None else [item["e"]["id"] for item in json.loads(raw)["events"]]


def glood_ids(transport: MockTransport) -> list[str]:
    return [b["event"]["id"] for b in transport.bodies("headless/events")]


def genlook_ids(transport: MockTransport) -> list[str]:
    return [e["$insert_id"] for b in transport.bodies("genlook") for e in b["events"]]


# -- the journal on its own -------------------------------------------------------------------


def test_event_record_round_trips():
    """An event survives event_record -> JSON -> event_from_record unchanged, id and time included."""
    pipeline = make()
    event = pipeline.track("glood:section:view", {"a": [1, "é"]}, {"track": {"section": "9"}}, page=PAGE)
    assert event_from_record(json.loads(json.dumps(event_record(event)))) == event


@pytest.mark.parametrize("record", [None, [], {"id": "x"}, {"id": "x", "name": "nope", "ts": 1, "page": {}},
                                    {"id": "x", "name": "page_viewed", "ts": "1", "page": {}},
                                    {"id": "x", "name": "page_viewed", "ts": 1, "page": {"url": 3j}}])
def test_bad_records_are_refused(record):
    """Records that are not events raise ValueError (they are dropped and counted, never sent)."""
    with pytest.raises(ValueError):
        event_from_record(record)


def test_fit_drops_expired_then_oldest_over_the_byte_cap():
    """Events past max_age go first; then the oldest until the backlog fits max_bytes."""
    clock = FakeClock(now_ms=10 * DAY)
    pipeline = make(clock=clock)
    old = pipeline.make_event("checkout_started", page=PAGE, timestamp_ms=8 * DAY)
    recent = [pipeline.make_event("checkout_started", {"pad": "x" * 300}, page=PAGE, timestamp_ms=10 * DAY - i)
              for i in (30, 20, 10)]
    one = len(json.dumps({"d": ["glood"], "e": event_record(recent[0])}, separators=(",", ":"))) + 1
    journal = Journal(MemoryStorage(), "t", clock, max_bytes=64 + 2 * one + 5, max_age_ms=DAY)
    kept, expired, overflow = journal.fit([Entry(e, ("glood",)) for e in [recent[2], old, recent[0], recent[1]]])
    assert [e.event for e in expired] == [old]
    assert [e.event for e in overflow] == [recent[0]]
    assert [e.event for e in kept] == recent[1:]


# -- persistence through the pipeline ---------------------------------------------------------------


def test_unsent_events_are_stored_and_a_later_page_of_the_tab_sends_them_once():
    """What a page could not send is stored; the next page of the tab adopts it, sends it, and clears it."""
    storage = MemoryStorage()
    first = make(storage=storage, tab="page-1")
    ids = track(first, 3)
    first.session_unavailable = True  # init keeps failing: Genlook goes without a visit, Glood waits
    first.flush("pagehide")
    assert stored_ids(storage, "page-1") == ids
    second_transport = MockTransport()
    second = make(second_transport, storage=storage, tab="page-2", prefix="f")
    assert second.adopt(alive={"page-2"}, previous="page-1") == 3
    assert storage.get(JOURNAL_PREFIX + "page-1") is None
    second.start_session("visit-1")
    second.flush("timer")
    assert glood_ids(second_transport) == ids
    assert genlook_ids(second_transport) == []  # Genlook already had them
    assert storage.keys(JOURNAL_PREFIX) == []


def test_adopted_events_keep_their_page_and_time():
    """A restored event is sent with its own page URL, pageview and timestamp, not the new page's."""
    storage = MemoryStorage()
    first = make(storage=storage, tab="p1")
    [event_id] = track(first)
    first.persist()
    transport = MockTransport()
    second = make(transport, storage=storage, tab="p2", prefix="f", clock=FakeClock(now_ms=1_776_335_999_000))
    second.adopt(alive=set(), previous=None)
    second.start_session("v")
    second.track("page_viewed", page=PageContext(url="https://x/other", page_type="home", pageview_id="pv-2"))
    second.flush("timer")
    [restored] = [b for b in transport.bodies("headless/events") if b["event"]["id"] == event_id]
    assert restored["page_url"] == PAGE.url and restored["event"]["timestamp"] == "2026-04-16T10:29:58.123Z"
    contexts = {b["context"]["$pageview_id"] for b in transport.bodies("genlook")}
    assert contexts == {"pv-1", "pv-2"}


def test_a_live_tab_keeps_its_backlog():
    """Another tab's stored events are left alone while that tab is alive."""
    storage = MemoryStorage()
    other = make(storage=storage, tab="tab-b")
    track(other, 2)
    other.persist()
    mine = make(storage=storage, tab="tab-a", prefix="f")
    assert mine.adopt(alive={"tab-a", "tab-b"}) == 0
    assert len(stored_ids(storage, "tab-b")) == 2


def test_without_liveness_only_stale_records_are_adopted():
    """When tab liveness is unknown, a record is adopted only once it has not been touched for stale_ms."""
    storage, clock = MemoryStorage(), FakeClock()
    other = make(storage=storage, tab="tab-b", clock=clock)
    track(other, 1)
    other.persist()
    mine = make(storage=storage, tab="tab-a", prefix="f", clock=clock)
    assert mine.adopt(alive=None) == 0
    clock.advance(mine.journal.stale_ms + 1)
    assert mine.adopt(alive=None) == 1


def test_two_tabs_do_not_both_send_an_orphan():
    """An orphaned backlog is claimed by the first tab that adopts it; a second tab finds nothing."""
    storage = MemoryStorage()
    gone = make(storage=storage, tab="gone")
    ids = track(gone, 4)
    gone.persist()
    a_transport, b_transport = MockTransport(), MockTransport()
    a = make(a_transport, storage=storage, tab="a", prefix="a")
    b = make(b_transport, storage=storage, tab="b", prefix="b")
    assert (a.adopt(alive={"a", "b"}), b.adopt(alive={"a", "b"})) == (4, 0)
    for p in (a, b):
        p.start_session("v")
        p.flush("timer")
    assert glood_ids(a_transport) == ids and glood_ids(b_transport) == []


def test_a_page_whose_backlog_was_claimed_does_not_send_it_too():
    """If another page took over our stored backlog (stale guess), we drop our copy instead of sending twice."""
    storage, clock = MemoryStorage(), FakeClock()
    transport = MockTransport()
    slow = make(transport, storage=storage, tab="slow", clock=clock)
    track(slow, 2)
    slow.persist()
    clock.advance(slow.journal.stale_ms + 1)
    other = make(storage=storage, tab="other", prefix="f", clock=clock)
    assert other.adopt(alive=None) == 2
    slow.start_session("v")
    slow.flush("timer")
    assert transport.sent == [] and slow.pending() == 0 and slow.stats["claimed_elsewhere"] == 2


def test_corrupt_records_are_dropped_and_counted():
    """Garbage under the journal prefix never breaks adoption; it is removed and counted."""
    storage = MemoryStorage()
    storage.set(JOURNAL_PREFIX + "junk", "{not json")
    storage.set(JOURNAL_PREFIX + "bad-event", json.dumps({"v": 1, "seen": 0, "events": [{"d": ["glood"], "e": {}}]}))
    pipeline = make(storage=storage)
    assert pipeline.adopt(alive=set()) == 0
    assert pipeline.stats["dropped_corrupt"] == 2 and storage.keys(JOURNAL_PREFIX) == []


def test_backlog_cap_limits_storage_not_what_the_page_still_sends():
    """Over persist_max_bytes the oldest events are left out of storage (newest kept, counted as unstored) but
    stay queued: while the page lives everything is sent."""
    storage, clock = MemoryStorage(), FakeClock()
    transport = MockTransport()
    pipeline = make(transport, storage=storage, clock=clock, persist_max_bytes=2000)
    ids = []
    for _ in range(10):
        ids += track(pipeline, 1)
        clock.advance(1)
    pipeline.persist()
    kept = stored_ids(storage, "tab-a")
    assert kept == ids[-len(kept):] and 0 < len(kept) < 10
    assert pipeline.unstored == 10 - len(kept) and pipeline.pending() == 10
    assert "dropped_overflow" not in pipeline.stats
    pipeline.start_session("visit-1")
    pipeline.flush("timer")
    assert glood_ids(transport) == ids


def test_events_past_max_age_are_dropped_and_counted():
    """Events older than persist_max_age_ms are not kept or sent."""
    clock = FakeClock()
    pipeline = make(clock=clock, persist_max_age_ms=60_000)
    track(pipeline, 2)
    clock.advance(60_001)
    track(pipeline, 1)
    pipeline.persist()
    assert pipeline.pending() == 1 and pipeline.stats["dropped_expired"] == 2


@pytest.mark.parametrize("storage", [BrokenStorage(), MemoryStorage(quota_chars=50)])
def test_full_or_disabled_storage_never_stops_delivery(storage):
    """When storage refuses writes, events still go out from memory; the failure is only counted."""
    transport = MockTransport()
    pipeline = make(transport, storage=storage)
    ids = track(pipeline, 3)
    pipeline.persist()
    assert pipeline.stats["persist_failed"] >= 1
    pipeline.start_session("v")
    pipeline.flush("timer")
    assert glood_ids(transport) == ids and genlook_ids(transport) == ids


# -- answers from a fetch -----------------------------------------------------------------------


def fetch_pipeline(**overrides) -> tuple[Pipeline, MockTransport, MemoryStorage, FakeClock]:
    transport, storage, clock = MockTransport.fetch_like(), MemoryStorage(), FakeClock()
    pipeline = make(transport, storage=storage, clock=clock, transport="fetch", **overrides)
    pipeline.start_session("v")
    return pipeline, transport, storage, clock


def test_fetch_transport_sends_json_with_a_content_type():
    """With transport fetch both destinations get headers (so the browser uses fetch, not a beacon)."""
    pipeline, transport, _, _ = fetch_pipeline()
    track(pipeline, 1)
    pipeline.flush("timer")
    assert {r.headers.get("Content-Type") for r, _ in transport.receipts} == {"application/json"}


def test_events_stay_stored_until_the_answer_comes():
    """A sent fetch keeps its events (in flight, not resent, still stored) until a 2xx removes them."""
    pipeline, transport, storage, _ = fetch_pipeline()
    ids = track(pipeline, 2)
    report = pipeline.flush("timer")
    assert len(report.awaiting) == 3 and report.sent == []
    assert pipeline.flush("timer").awaiting == []  # nothing is sent twice while in flight
    assert stored_ids(storage, "tab-a") == ids and pipeline.pending() == 2
    transport.settle_all(200)
    pipeline.persist_if_dirty()  # answers mark the backlog dirty; one write follows a burst of them
    assert pipeline.pending() == 0 and storage.get(JOURNAL_PREFIX + "tab-a") is None
    assert (pipeline.stats["sent_glood"], pipeline.stats["sent_genlook"]) == (2, 2)


@pytest.mark.parametrize("status", [None, 408, 429, 500, 503])
def test_retryable_answers_resend_the_same_ids_after_backoff(status):
    """Network failure, 408, 429 and 5xx: the events wait out the backoff and go again with the same ids."""
    pipeline, transport, _, clock = fetch_pipeline()
    ids = track(pipeline, 2)
    pipeline.flush("timer")
    transport.settle_all(status)
    assert pipeline.pending("glood") == 2
    assert pipeline.flush("timer").deferred == {"glood": 2, "genlook": 2}  # backing off
    clock.advance(1000)
    pipeline.flush("timer")
    transport.settle_all(200)
    assert glood_ids(transport) == ids + ids and pipeline.pending() == 0


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    """A 429 with Retry-After 5 s holds that destination for 5 s, not the 1 s backoff."""
    pipeline, transport, _, clock = fetch_pipeline()
    track(pipeline, 1)
    pipeline.flush("timer")
    for receipt in [r for req, r in transport.unsettled() if "headless" in req.url]:
        receipt.settle(429, 5000)
    transport.settle_all(200)
    clock.advance(4999)
    assert "glood" in pipeline.flush("timer").deferred
    clock.advance(1)
    assert pipeline.flush("timer").awaiting


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 415])
def test_other_4xx_answers_drop_the_events(status):
    """A 4xx other than 408/429 will not get better: the events are dropped and counted, not retried."""
    pipeline, transport, storage, clock = fetch_pipeline()
    track(pipeline, 2)
    pipeline.flush("timer")
    transport.settle_all(status)
    clock.advance(60_000)
    assert pipeline.flush("timer").awaiting == [] and pipeline.pending() == 0
    assert (pipeline.stats["dropped_glood"], pipeline.stats["dropped_genlook"]) == (2, 2)
    assert storage.get(JOURNAL_PREFIX + "tab-a") is None


def test_an_answer_after_the_page_moved_on_is_fine_and_a_missing_one_leaves_events_stored():
    """Events whose fetch never answered (the page went away) are still stored for the next page."""
    pipeline, transport, storage, _ = fetch_pipeline()
    ids = track(pipeline, 2)
    pipeline.flush("pagehide")
    assert stored_ids(storage, "tab-a") == ids
    receipt = Receipt()
    receipt.settle(200)
    seen = []
    receipt.subscribe(lambda status, retry: seen.append((status, retry)))
    assert seen == [(200, None)]


def test_failed_three_times_then_stored_once_end_to_end():
    """An event retried three times reaches each destination exactly once in the end (same id every time)."""
    pipeline, transport, _, clock = fetch_pipeline()
    [event_id] = track(pipeline, 1)
    for _ in range(3):
        pipeline.flush("timer")
        transport.settle_all(503)
        clock.advance(10_000)
    pipeline.flush("timer")
    transport.settle_all(200)
    assert set(glood_ids(transport)) == {event_id} and len(glood_ids(transport)) == 4
    assert pipeline.pending() == 0 and pipeline.stats["sent_glood"] == 1


# -- consent --------------------------------------------------------------------------------------


def test_pending_consent_buffers_in_memory_only():
    """Before consent nothing is sent, nothing is written to storage (not even the identity)."""
    storage = MemoryStorage()
    transport = MockTransport()
    pipeline = make(transport, storage=storage, require_consent=True)
    assert pipeline.consent == "pending" and not pipeline.needs_session
    track(pipeline, 3)
    pipeline.flush("pagehide")
    pipeline.persist()
    assert transport.sent == [] and storage.data == {} and pipeline.pending() == 3


def test_granting_consent_stores_and_sends_with_original_times():
    """On grant the identity and backlog are stored and the buffered events go, timestamps unchanged."""
    storage, clock = MemoryStorage(), FakeClock()
    transport = MockTransport()
    pipeline = make(transport, storage=storage, clock=clock, require_consent=True)
    ids = track(pipeline, 2)
    clock.advance(5000)
    pipeline.set_consent(True)
    assert IDENTITY_KEY in storage.data and stored_ids(storage, "tab-a") == ids
    assert pipeline.needs_session
    pipeline.start_session("v")
    pipeline.flush("session")
    assert glood_ids(transport) == ids
    assert {b["event"]["timestamp"] for b in transport.bodies("headless/events")} == {"2026-04-12T13:20:00.000Z"}


def test_denied_consent_drops_everything_and_sends_nothing():
    """On denial the buffer is dropped, stored tracker data is removed, and later events are not made."""
    storage = MemoryStorage()
    transport = MockTransport()
    pipeline = make(transport, storage=storage)
    pipeline.start_session("v")
    track(pipeline, 2)
    pipeline.persist()
    assert storage.data
    pipeline.set_consent(False)
    assert pipeline.track("checkout_started", page=PAGE) is None
    pipeline.flush("pagehide")
    assert transport.sent == [] and pipeline.pending() == 0
    assert storage.data == {} and pipeline.stats["dropped_consent"] == 3
    assert not pipeline.needs_session


def test_denied_at_start_removes_what_earlier_pages_stored():
    """A page that starts with consent denied clears the identity, visit and backlogs it would send."""
    storage = MemoryStorage()
    earlier = make(storage=storage, tab="p1")
    earlier.start_session("v")
    track(earlier, 1)
    earlier.persist()
    later = make(storage=storage, tab="p2", consent="denied")
    assert later.adopt(alive=set()) == 0
    assert IDENTITY_KEY not in storage.data and VISIT_KEY not in storage.data

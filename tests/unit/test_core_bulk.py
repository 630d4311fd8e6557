"""Bursts beyond the keepalive quota: beacons within the quota, the rest by the worker's own fetch (CPython)."""

from __future__ import annotations

import asyncio
import json

import test_core_worker  # its run(): replaced by a thread-free one inside Pyodide (tests/pyodide)
from test_core_pipeline import PAGE_A, make, track_n

from tracker.core.pipeline import BEACON_RESERVE_MS, BEACONS_PER_RESERVE, BULK_IN_FLIGHT_BYTES, BURST_EVENTS
from tracker.core.transport import BEACON_ACCEPTED, BEACON_REFUSED, FetchTransport, Receipt
from tracker.testing import FakeClock, MockTransport


def relay_and_bulk(**overrides):
    """A pipeline whose transport answers like the sensor's relay (receipts) and whose bulk transport records."""
    clock = FakeClock(now_ms=1_776_335_398_123)
    relay, bulk = MockTransport.fetch_like(), MockTransport.fetch_like()
    pipeline = make(relay, clock=clock, **overrides)
    pipeline.bulk = bulk
    pipeline.start_session("visit-1")
    return pipeline, relay, bulk, clock


def ids_in(transport: MockTransport, destination: str) -> list[str]:
    out = []
    for sent in transport.sent:
        body = sent.json()
        if destination == "glood" and "event" in body:
            out.append(body["event"]["id"])
        elif destination == "genlook" and "events" in body:
            out += [e["$insert_id"] for e in body["events"]]
    return out


def test_a_burst_goes_by_bulk_beyond_a_few_beacons_per_second():
    """Of 300 events, at most BEACONS_PER_RESERVE requests go as beacons; the rest by bulk, every event once."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    ids = track_n(pipeline, 300)
    pipeline.flush("size")
    assert len(relay.sent) == BEACONS_PER_RESERVE
    relay.settle_all(BEACON_ACCEPTED)
    for _ in range(20):
        bulk.settle_all(200)
        pipeline.flush("size")
    assert len(relay.sent) == BEACONS_PER_RESERVE  # the reserve window has not passed
    assert pipeline.pending() == 0
    for destination in ("glood", "genlook"):
        assert sorted(ids_in(relay, destination) + ids_in(bulk, destination)) == sorted(ids)


def test_a_backlog_past_burst_events_goes_by_bulk_only():
    """More than BURST_EVENTS queued: no beacon at all (each costs the main thread), every event by bulk."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    ids = track_n(pipeline, BURST_EVENTS + 100)
    pipeline.flush("size")
    assert relay.sent == [] and bulk.sent
    for _ in range(40):  # once no more than BURST_EVENTS wait, a few beacons go again
        bulk.settle_all(200)
        relay.settle_all(BEACON_ACCEPTED)
        pipeline.flush("size")
    assert pipeline.pending() == 0 and len(relay.sent) <= BEACONS_PER_RESERVE
    for destination in ("glood", "genlook"):
        assert sorted(ids_in(relay, destination) + ids_in(bulk, destination)) == sorted(ids)


def test_beacons_are_used_again_once_the_reserve_window_passes():
    """After BEACON_RESERVE_MS the accepted beacons no longer count against the quota: beacons go again."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    track_n(pipeline, 2)
    pipeline.flush("timer")
    relay.settle_all(BEACON_ACCEPTED)
    track_n(pipeline, 40)
    pipeline.flush("timer")
    assert len(relay.sent) == BEACONS_PER_RESERVE and bulk.sent
    relay.settle_all(BEACON_ACCEPTED)
    bulk.settle_all(200)
    clock.advance(BEACON_RESERVE_MS + 1)
    track_n(pipeline, 1)
    pipeline.flush("timer")
    assert len(relay.sent) == BEACONS_PER_RESERVE + 2  # the new event's Glood and Genlook bodies


def test_a_refused_beacon_goes_again_by_bulk_at_once_without_backoff():
    """BEACON_REFUSED (the browser's quota was full): the same body is fetched by bulk, no retry delay."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    (event_id,) = track_n(pipeline, 1)
    pipeline.flush("timer")
    relay.settle_all(BEACON_REFUSED)
    assert [s.body for s in bulk.sent] == [s.body for s in relay.sent]
    assert pipeline.stats["rerouted_glood"] == 1 and pipeline.stats["refused_glood"] == 0
    bulk.settle_all(200)
    assert pipeline.pending() == 0 and pipeline.stats["sent_glood"] == 1


def test_without_bulk_a_refused_beacon_is_retried_later():
    """No bulk transport (no fetch seam): a refused beacon is a failure to retry, with backoff."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    pipeline.bulk = None
    track_n(pipeline, 1)
    pipeline.flush("timer")
    relay.settle_all(BEACON_REFUSED)
    assert pipeline.stats["refused_glood"] == 1 and pipeline.pending("glood") == 1
    assert not pipeline.retry["glood"].ready(clock.monotonic_ms())


def test_bulk_requests_in_flight_are_capped():
    """Bulk requests waiting for answers never hold more than BULK_IN_FLIGHT_BYTES."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    track_n(pipeline, 200, pad=3000)
    pipeline.flush("size")
    in_flight = sum(len(s.body) for s in bulk.sent)
    assert 0 < in_flight <= BULK_IN_FLIGHT_BYTES and pipeline.bulk_in_flight_bytes == in_flight
    assert pipeline.pending() > 0


def test_pagehide_never_uses_bulk():
    """A final flush sends only within the keepalive quota: a worker's fetch would not outlive the page."""
    pipeline, relay, bulk, clock = relay_and_bulk()
    track_n(pipeline, 300)
    pipeline.flush("pagehide")
    assert bulk.sent == [] and relay.sent


def test_fetch_transport_settles_with_status_and_retry_after():
    """FetchTransport: the answer's status and Retry-After settle the receipt; a network failure is None."""
    out: list[tuple[int | None, float | None]] = []

    async def go() -> None:
        answers = iter([(503, "2"), OSError("offline")])
        kicked = []

        async def fetch(url: str, body: str, headers: dict[str, str]) -> tuple[int, str | None]:
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            assert json.loads(body) == {"a": 1} and headers == {"Content-Type": "application/json"}
            return answer

        transport = FetchTransport(fetch, lambda: 1_000, lambda: kicked.append(1))
        for _ in range(2):
            receipt = transport.send("https://c.example/e", b'{"a":1}')
            assert isinstance(receipt, Receipt)
            receipt.subscribe(lambda status, delay: out.append((status, delay)))
        while transport.waiting:
            await asyncio.sleep(0)
        assert len(kicked) == 2

    test_core_worker.run(go)  # a loop on its own thread: Playwright's sync API may hold this thread's loop
    assert out == [(503, 2000.0), (None, None)]


def test_journal_keeps_the_newest_that_fit_and_encodes_only_them():
    """Over persist_max_bytes the oldest are left out of storage; only what is kept is encoded."""
    pipeline = make(persist_max_bytes=20_000)
    ids = track_n(pipeline, 400, page=PAGE_A)
    pipeline.persist()
    stored = json.loads(pipeline.storage.get(pipeline.journal.key))
    kept = [e["e"]["id"] for e in stored["events"]]
    assert kept == ids[-len(kept):] and 0 < len(kept) < 400
    assert pipeline.unstored == 400 - len(kept)
    assert len(pipeline.journal._encoded) == len(kept)

"""Unit tests for the core's seams and test doubles: clock, ids, storage, transport, outbox."""

from __future__ import annotations

import uuid

import pytest

from tracker.core.clock import SystemClock
from tracker.core.events import Event, PageContext
from tracker.core.ids import uuid4_ids
from tracker.core.queue import Outbox
from tracker.core.storage import MemoryStorage
from tracker.testing import BrokenStorage, FakeClock, MockTransport, Sent, sequential_ids


def test_fake_clock_moves_only_when_told():
    """FakeClock readings stay put until advance() moves both."""
    clock = FakeClock(now_ms=1000, monotonic_ms=5.0)
    assert (clock.now_ms(), clock.monotonic_ms()) == (1000, 5.0)
    clock.advance(250)
    assert (clock.now_ms(), clock.monotonic_ms()) == (1250, 255.0)


def test_fake_clock_cannot_go_back():
    """A negative advance is refused."""
    with pytest.raises(ValueError, match="cannot go back"):
        FakeClock().advance(-1)


def test_system_clock_is_sane():
    """SystemClock gives epoch ms after 2020 and a non-decreasing monotonic clock."""
    clock = SystemClock()
    first = clock.monotonic_ms()
    assert clock.now_ms() > 1_577_836_800_000
    assert clock.monotonic_ms() >= first


def test_sequential_ids():
    """sequential_ids counts with a prefix; each factory has its own counter."""
    a, b = sequential_ids("evt"), sequential_ids()
    assert [a(), a(), b()] == ["evt-1", "evt-2", "id-1"]


def test_seeded_ids_are_deterministic_uuid4():
    """With a seed, ids are reproducible version-4 UUIDs."""
    first, second = sequential_ids(seed=7), sequential_ids(seed=7)
    ids = [first() for _ in range(3)]
    assert ids == [second() for _ in range(3)]
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 4 for i in ids)


def test_uuid4_ids():
    """uuid4_ids makes distinct version-4 UUID strings."""
    ids = {uuid4_ids() for _ in range(20)}
    assert len(ids) == 20 and all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


def test_memory_storage_round_trip_and_remove():
    """MemoryStorage stores, overwrites and removes values."""
    storage = MemoryStorage()
    assert storage.set("k", "v1") and storage.set("k", "v2")
    assert storage.get("k") == "v2"
    storage.remove("k")
    storage.remove("absent")
    assert storage.get("k") is None


def test_memory_storage_quota():
    """A capped MemoryStorage refuses writes past its quota, counting keys and values, replacing in place."""
    storage = MemoryStorage(quota_chars=10)
    assert storage.set("ab", "12345678")  # 10 chars
    assert not storage.set("c", "")  # 11
    assert storage.set("ab", "1234")  # replacement frees the old value
    assert storage.set("c", "123")
    assert storage.data == {"ab": "1234", "c": "123"}


def test_broken_storage():
    """BrokenStorage refuses writes and finds nothing."""
    storage = BrokenStorage()
    assert storage.set("k", "v") is False
    assert storage.get("k") is None
    assert storage.remove("k") is None


def test_mock_transport_records_accepted_and_refused():
    """MockTransport accepts by default and records refusals separately."""
    transport = MockTransport()
    assert transport.send("/a", b'{"x":1}', {"h": "1"})
    assert transport.sent == [Sent("/a", b'{"x":1}', {"h": "1"})]
    assert transport.sent[0].json() == {"x": 1}
    refusing = MockTransport(lambda url, body, headers: url != "/no")
    assert refusing.send("/yes", b"{}") and not refusing.send("/no", b"[]")
    assert ([s.url for s in refusing.sent], [s.url for s in refusing.refused]) == (["/yes"], ["/no"])
    assert refusing.sent[0].headers == {}


def test_mock_transport_bodies_filters_by_url():
    """bodies(url_part) decodes accepted bodies whose URL contains the part."""
    transport = MockTransport()
    transport.send("/glood/events", b'{"g":1}')
    transport.send("/genlook", b'{"l":2}')
    assert transport.bodies("glood") == [{"g": 1}]
    assert transport.bodies() == [{"g": 1}, {"l": 2}]


def _event(event_id: str) -> Event:
    return Event(event_id, "page_viewed", 0, PageContext())


def test_outbox_keeps_order_and_first_copy():
    """Outbox keeps insertion order and refuses a second event with the same id."""
    box = Outbox()
    first = _event("a")
    assert box.add(first) and box.add(_event("b"))
    assert not box.add(Event("a", "cart_viewed", 9, PageContext()))
    assert [e.id for e in box.pending()] == ["a", "b"] and box.pending()[0] is first
    assert len(box) == 2 and "a" in box and "z" not in box


def test_outbox_remove_and_iterate_snapshot():
    """remove() drops ids (unknown ones ignored); iterating is safe while removing."""
    box = Outbox()
    for i in "abcd":
        box.add(_event(i))
    for event in box:
        if event.id in "ac":
            box.remove([event.id])
    box.remove(["zz"])
    assert [e.id for e in box] == ["b", "d"]

"""Unit tests for tracker.core.session (visitor identity and the Glood visit)."""

from __future__ import annotations

import json

import pytest

from tracker.core.session import IDENTITY_KEY, VISIT_KEY, Identity, Session
from tracker.core.storage import MemoryStorage
from tracker.testing import BrokenStorage, FakeClock, sequential_ids

TTL = 30 * 60 * 1000


# -- Identity -----------------------------------------------------------------------------


def test_identity_is_created_and_stored():
    """A first visit makes two new ids and stores them as JSON."""
    storage = MemoryStorage()
    identity = Identity.load_or_create(storage, sequential_ids("u"))
    assert identity == Identity("u-1", "u-2")
    assert json.loads(storage.data[IDENTITY_KEY]) == {"user_id": "u-1", "client_id": "u-2"}


def test_identity_is_reloaded_from_storage():
    """A stored identity is reused and no new ids are drawn."""
    storage = MemoryStorage()
    first = Identity.load_or_create(storage, sequential_ids("a"))
    second = Identity.load_or_create(storage, sequential_ids("b"))
    assert second == first == Identity("a-1", "a-2")


@pytest.mark.parametrize("stored", [
    "{not json", "", "null", "[]", '"text"', '{"user_id": "u"}', '{"user_id": 1, "client_id": "c"}',
    '{"user_id": "u", "client_id": null}',
])
def test_corrupt_or_partial_identity_is_replaced(stored):
    """Corrupt or incomplete stored JSON is ignored and overwritten with new ids."""
    storage = MemoryStorage()
    storage.set(IDENTITY_KEY, stored)
    identity = Identity.load_or_create(storage, sequential_ids("n"))
    assert identity == Identity("n-1", "n-2")
    assert json.loads(storage.data[IDENTITY_KEY]) == {"user_id": "n-1", "client_id": "n-2"}


def test_broken_storage_gives_fresh_ids_each_time():
    """With storage disabled an identity is still made, just not remembered."""
    new_id = sequential_ids("b")
    assert Identity.load_or_create(BrokenStorage(), new_id) == Identity("b-1", "b-2")
    assert Identity.load_or_create(BrokenStorage(), new_id) == Identity("b-3", "b-4")


# -- Session ------------------------------------------------------------------------------


def test_new_session_has_no_visit():
    """Without a stored visit the session is inactive."""
    session = Session(MemoryStorage(), FakeClock(), TTL)
    assert (session.visit_id, session.active) == (None, False)


def test_start_activates_and_stores_the_visit():
    """start() adopts the visit id and stores it with the time."""
    clock, storage = FakeClock(now_ms=5_000_000), MemoryStorage()
    session = Session(storage, clock, TTL)
    session.start("visit-1")
    assert (session.visit_id, session.active) == ("visit-1", True)
    assert json.loads(storage.data[VISIT_KEY]) == {"visit_id": "visit-1", "last_seen": 5_000_000}


@pytest.mark.parametrize("bad", ["", None, 42])
def test_start_rejects_empty_or_non_string_visit(bad):
    """start() refuses a visit id that is not a non-empty string."""
    session = Session(MemoryStorage(), FakeClock(), TTL)
    with pytest.raises(ValueError, match="visit_id must be a non-empty string"):
        session.start(bad)
    assert session.visit_id is None


def test_session_expires_after_ttl_of_inactivity():
    """Active until ttl ms have passed since the last activity, inactive from then on."""
    clock = FakeClock()
    session = Session(MemoryStorage(), clock, TTL)
    session.start("v")
    clock.advance(TTL - 1)
    assert session.active
    clock.advance(1)
    assert not session.active


def test_touch_extends_the_visit():
    """Activity pushes the expiry back."""
    clock = FakeClock()
    session = Session(MemoryStorage(), clock, TTL)
    session.start("v")
    clock.advance(TTL - 10)
    session.touch()
    clock.advance(TTL - 10)
    assert session.active


def test_touch_without_visit_stores_nothing():
    """touch() before any visit is a no-op."""
    storage = MemoryStorage()
    Session(storage, FakeClock(), TTL).touch()
    assert storage.data == {}


def test_visit_resumes_within_ttl_on_next_page():
    """A new Session on the same storage resumes a visit that has not gone idle."""
    clock, storage = FakeClock(), MemoryStorage()
    Session(storage, clock, TTL).start("visit-1")
    clock.advance(TTL - 1)
    resumed = Session(storage, clock, TTL)
    assert (resumed.visit_id, resumed.active) == ("visit-1", True)
    clock.advance(1)
    assert not resumed.active  # the resumed visit keeps its original last_seen


def test_visit_is_not_resumed_after_ttl():
    """A stored visit idle for ttl ms is not resumed."""
    clock, storage = FakeClock(), MemoryStorage()
    Session(storage, clock, TTL).start("visit-1")
    clock.advance(TTL)
    assert Session(storage, clock, TTL).visit_id is None


@pytest.mark.parametrize("stored", [
    "garbage", "[]", '{"visit_id": "v"}', '{"visit_id": 5, "last_seen": 1}', '{"visit_id": "v", "last_seen": "1"}',
])
def test_corrupt_stored_visit_is_ignored(stored):
    """A corrupt or partial stored visit is treated as none."""
    storage = MemoryStorage()
    storage.set(VISIT_KEY, stored)
    assert Session(storage, FakeClock(), TTL).visit_id is None


def test_expire_forgets_the_visit():
    """expire() clears the visit in memory and storage."""
    storage = MemoryStorage()
    session = Session(storage, FakeClock(), TTL)
    session.start("v")
    session.expire()
    assert (session.visit_id, session.active, VISIT_KEY in storage.data) == (None, False, False)


def test_session_works_with_broken_storage():
    """With storage disabled a visit still works for the page's lifetime."""
    clock = FakeClock()
    session = Session(BrokenStorage(), clock, TTL)
    session.start("v")
    assert session.active
    assert Session(BrokenStorage(), clock, TTL).visit_id is None

"""Unit and property tests for tracker.core.retry (backoff, outcomes, retry state)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.core.retry import Backoff, RetryState, outcome_for_status, parse_retry_after


def test_delays_grow_exponentially_up_to_the_cap():
    """With the top of the jitter range the delay doubles from 1 s and stops at 60 s."""
    backoff = Backoff()
    delays = [backoff.delay_ms(n, rand=lambda: 1.0) for n in range(1, 10)]
    assert delays == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]


def test_jitter_scales_the_ceiling():
    """The delay is the ceiling times the random draw."""
    assert Backoff().delay_ms(3, rand=lambda: 0.5) == 2000
    assert Backoff(base_ms=100, factor=3, cap_ms=10_000, min_ms=0).delay_ms(3, rand=lambda: 0.25) == 225


def test_delay_never_below_minimum():
    """A zero draw still waits min_ms."""
    assert Backoff().delay_ms(1, rand=lambda: 0.0) == 250
    assert Backoff(min_ms=0).delay_ms(5, rand=lambda: 0.0) == 0


def test_attempt_counts_from_one():
    """Attempt 0 is a programming error."""
    with pytest.raises(ValueError, match="attempt counts from 1"):
        Backoff().delay_ms(0)


def test_huge_attempt_numbers_stay_at_the_cap():
    """After thousands of failures (an offline tab) the delay is capped, not an OverflowError."""
    assert Backoff().delay_ms(5000, rand=lambda: 1.0) == 60_000
    assert Backoff(base_ms=500, cap_ms=30_000).delay_ms(10**6, rand=lambda: 0.5) == 15_000


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(1, 3000), st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_bounds(attempt, draw):
    """Every delay is within [min_ms, max(min_ms, min(cap, base * 2**(attempt-1)))]."""
    backoff = Backoff()
    delay = backoff.delay_ms(attempt, rand=lambda: draw)
    ceiling = 60_000 if attempt > 7 else min(60_000, 1000 * 2 ** (attempt - 1))
    assert 250 <= delay <= max(250, ceiling)


def test_default_rand_is_random_and_bounded():
    """Without an injected draw, delays vary but stay within bounds."""
    delays = {Backoff().delay_ms(7) for _ in range(50)}
    assert len(delays) > 1
    assert all(250 <= d <= 60_000 for d in delays)


@pytest.mark.parametrize("status, outcome", [
    (200, "ok"), (201, "ok"), (202, "ok"), (204, "ok"), (299, "ok"),
    (408, "retry"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"), (599, "retry"),
    (None, "retry"),
    (400, "drop"), (401, "drop"), (403, "drop"), (404, "drop"), (413, "drop"), (422, "drop"),
    (301, "drop"), (100, "drop"),
])
def test_outcome_for_status(status, outcome):
    """2xx ok; 408, 429, 5xx and no answer retry; other 4xx (and anything else) drop."""
    assert outcome_for_status(status) == outcome


def test_retry_state_failures_set_not_before():
    """Each failure counts and pushes not_before by the growing delay."""
    state = RetryState(Backoff(), rand=lambda: 1.0)
    assert state.ready(0)
    assert state.failed(100) == 1000
    assert (state.failures, state.not_before_ms) == (1, 1100)
    assert not state.ready(1099) and state.ready(1100)
    assert state.failed(1100) == 2000
    assert (state.failures, state.not_before_ms) == (2, 3100)


def test_retry_after_wins_only_when_longer():
    """A Retry-After longer than the backoff is used; a shorter one is ignored."""
    state = RetryState(Backoff(), rand=lambda: 1.0)
    assert state.failed(0, retry_after_ms=5000) == 5000
    assert state.failed(0, retry_after_ms=10) == 2000


def test_success_resets_the_streak():
    """succeeded() clears failures and makes the destination ready at once."""
    state = RetryState(Backoff(), rand=lambda: 1.0)
    state.failed(0)
    state.failed(0)
    state.succeeded()
    assert (state.failures, state.not_before_ms, state.ready(0)) == (0, 0.0, True)
    assert state.failed(0) == 1000


@pytest.mark.parametrize("value, expected", [
    ("120", 120_000.0), (" 0 ", 0.0), (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None),
    ("Thu, 16 Apr 2026 10:30:00 GMT", 1_776_335_400_000 - 1_776_335_398_000),
    ("Thu, 16 Apr 2026 10:00:00 GMT", 0.0),
])
def test_parse_retry_after(value, expected):
    """Retry-After as delay-seconds or HTTP-date becomes ms from now; junk becomes None; the past becomes 0."""
    assert parse_retry_after(value, now_ms=1_776_335_398_000) == expected

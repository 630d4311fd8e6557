"""Retry policy: exponential backoff with full jitter, and which answers are worth retrying."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["Backoff", "RetryState", "outcome_for_status", "parse_retry_after"]


@dataclass(frozen=True)
class Backoff:
    """Delay before retry `attempt` (1-based): uniform in [0, min(cap, base * factor**(attempt-1))]."""

    base_ms: float = 1000.0
    factor: float = 2.0
    cap_ms: float = 60_000.0
    min_ms: float = 250.0

    def delay_ms(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        try:
            ceiling = min(self.cap_ms, self.base_ms * self.factor ** (attempt - 1))
        except OverflowError:  # thousands of failures in a row: far past the cap
            ceiling = self.cap_ms
        return max(self.min_ms, ceiling * rand())


def outcome_for_status(status: int | None) -> str:
    """"ok", "retry" or "drop" for an HTTP answer (None = network failure or not sent)."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "ok"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "drop"


def parse_retry_after(value: str | None, now_ms: int) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP-date) as ms from now; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text) * 1000.0
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() * 1000.0 - now_ms)


class RetryState:
    """One destination's failure streak and when it may be tried again (monotonic ms)."""

    def __init__(self, backoff: Backoff, rand: Callable[[], float] = random.random) -> None:
        self.backoff = backoff
        self.rand = rand
        self.failures = 0
        self.not_before_ms = 0.0

    def ready(self, now_ms: float) -> bool:
        return now_ms >= self.not_before_ms

    def failed(self, now_ms: float, retry_after_ms: float | None = None, *, concurrent: bool = False) -> float:
        """Record a failure; returns the delay chosen (Retry-After wins when longer).

        `concurrent`: the answer to one of several requests sent together; while a backoff from a
        sibling's failure is running it is not another attempt (only a longer Retry-After extends it).
        """
        if concurrent and now_ms < self.not_before_ms:
            if retry_after_ms is not None:
                self.not_before_ms = max(self.not_before_ms, now_ms + retry_after_ms)
            return self.not_before_ms - now_ms
        self.failures += 1
        delay = self.backoff.delay_ms(self.failures, self.rand)
        if retry_after_ms is not None:
            delay = max(delay, retry_after_ms)
        self.not_before_ms = now_ms + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before_ms = 0.0

"""Time seams: wall-clock epoch milliseconds and a monotonic clock, with a test double."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "FakeClock"]


class Clock(Protocol):
    """Where the tracker reads time from."""

    def now_ms(self) -> int:
        """Wall-clock time in epoch milliseconds (event timestamps)."""

    def monotonic_ms(self) -> float:
        """A clock that never goes back (durations, viewability, backoff)."""


class SystemClock:
    """CPython's clocks."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic_ms(self) -> float:
        return time.monotonic() * 1000.0


class FakeClock:
    """A clock that moves only when told to; both readings advance together."""

    def __init__(self, now_ms: int = 1_776_000_000_000, monotonic_ms: float = 0.0) -> None:
        self._now = now_ms
        self._mono = monotonic_ms

    def now_ms(self) -> int:
        return self._now

    def monotonic_ms(self) -> float:
        return self._mono

    def advance(self, ms: float) -> None:
        if ms < 0:
            raise ValueError("a clock cannot go back")
        self._mono += ms
        self._now += int(ms)

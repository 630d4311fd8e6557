"""Time seams: wall-clock epoch milliseconds and a monotonic clock, with a test double."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


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

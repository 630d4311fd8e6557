"""Test doubles for the core's seams, like httpx's MockTransport: a clock that moves when told, storage that
refuses everything, a transport that records requests, predictable ids. Not part of the shipped tracker."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core.ids import IdFactory
from .core.transport import Receipt

__all__ = ["FakeClock", "BrokenStorage", "Sent", "MockTransport", "sequential_ids"]


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


class BrokenStorage:
    """Storage that is disabled: reads find nothing, writes are refused."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> bool:
        return False

    def remove(self, key: str) -> None:
        return None

    def keys(self, prefix: str = "") -> list[str]:
        return []


@dataclass(frozen=True)
class Sent:
    """One request a MockTransport accepted."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class MockTransport:
    """Records requests; `handler(url, body, headers)` decides: True/False like a beacon, or a Receipt.

    `MockTransport.fetch_like()` answers every request with a Receipt kept in `receipts`, for tests
    to `settle` with a status, as a server would.
    """

    def __init__(self, handler: Callable[[str, bytes, Mapping[str, str]], bool | Receipt] | None = None) -> None:
        self.handler = handler
        self.sent: list[Sent] = []
        self.refused: list[Sent] = []
        self.receipts: list[tuple[Sent, Receipt]] = []

    @classmethod
    def fetch_like(cls) -> MockTransport:
        return cls(lambda _url, _body, _headers: Receipt())

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
             destination: str = "", event_ids: tuple[str, ...] = ()) -> bool | Receipt:
        request = Sent(url, bytes(body), dict(headers or {}))
        result = True if self.handler is None else self.handler(url, request.body, request.headers)
        if isinstance(result, Receipt):
            self.receipts.append((request, result))
        ok = bool(result)
        (self.sent if ok else self.refused).append(request)
        return result if isinstance(result, Receipt) else ok

    def unsettled(self) -> list[tuple[Sent, Receipt]]:
        return [(request, receipt) for request, receipt in self.receipts if not receipt.settled]

    def settle_all(self, status: int | None, retry_after_ms: float | None = None) -> int:
        """Answer every request still waiting; returns how many were answered."""
        waiting = self.unsettled()
        for _request, receipt in waiting:
            receipt.settle(status, retry_after_ms)
        return len(waiting)

    def bodies(self, url_part: str = "") -> list[Any]:
        return [s.json() for s in self.sent if url_part in s.url]


def sequential_ids(prefix: str = "id", seed: int | None = None) -> IdFactory:
    """A test double: `id-1`, `id-2`, ... (or seeded UUIDs when `seed` is given)."""
    counter = 0
    rng = random.Random(seed)

    def make() -> str:
        nonlocal counter
        counter += 1
        if seed is not None:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return f"{prefix}-{counter}"

    return make

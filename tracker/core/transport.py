"""The transport seam (`send(url, body, headers) -> bool | Receipt`) and a recording test double."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .protocol import BEACON_ACCEPTED, BEACON_REFUSED, NOT_SENT  # the sensor's answer codes
from .retry import parse_retry_after

__all__ = ["Transport", "Receipt", "Outcome", "RelayTransport", "FetchTransport", "Fetch", "BEACON_ACCEPTED",
           "NOT_SENT", "BEACON_REFUSED"]

#: What a request's answer says: HTTP status (None = network failure) and Retry-After in ms (or None).
Outcome = Callable[[int | None, float | None], None]


class Receipt:
    """A request handed to the network whose answer will be known later (a `fetch`, unlike a beacon).

    The transport calls `settle(status, retry_after_ms)` once the answer arrives; whoever sent the
    request `subscribe`s to it, before or after that happens. Truthy: the request did go out.
    """

    def __init__(self) -> None:
        self._callback: Outcome | None = None
        self._outcome: tuple[int | None, float | None] | None = None

    @property
    def settled(self) -> bool:
        return self._outcome is not None

    def settle(self, status: int | None, retry_after_ms: float | None = None) -> None:
        if self._outcome is not None:
            return
        self._outcome = (status, retry_after_ms)
        if self._callback is not None:
            self._callback(status, retry_after_ms)

    def subscribe(self, callback: Outcome) -> None:
        self._callback = callback
        if self._outcome is not None:
            callback(*self._outcome)


class Transport(Protocol):
    """Hands one request body to the network.

    True = accepted for delivery (a beacon: nothing more will be known); a `Receipt` = sent, the
    answer follows (a fetch); False = nothing was sent.
    """

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
             destination: str = "", event_ids: tuple[str, ...] = ()) -> bool | Receipt: ...





class RelayTransport:
    """The worker's transport: requests are handed to the main-thread sensor, which owns `sendBeacon`.

    `send` queues a request (`take` collects them for one `send` message) and returns a Receipt that
    `answer` settles when the sensor reports back: BEACON_ACCEPTED counts as delivered, NOT_SENT
    and network failures (None) as failures to retry, anything else as the HTTP status it is.
    """

    def __init__(self) -> None:
        self._next = 0
        self._outgoing: list[dict[str, Any]] = []
        self._waiting: dict[int, Receipt] = {}

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
             destination: str = "", event_ids: tuple[str, ...] = ()) -> bool | Receipt:
        self._next += 1
        receipt = Receipt()
        self._waiting[self._next] = receipt
        self._outgoing.append({"n": self._next, "d": destination, "u": url, "x": body.decode("utf-8"),
                               "h": dict(headers) if headers else None, "i": list(event_ids)})
        return receipt

    def take(self) -> list[dict[str, Any]]:
        """Requests queued since the last call, as the sensor's `send` message lists them."""
        out, self._outgoing = self._outgoing, []
        return out

    def answer(self, request: int, status: int | None, retry_after_ms: float | None = None) -> bool:
        """Settle request `request`; False when it is unknown or already answered."""
        receipt = self._waiting.pop(request, None)
        if receipt is None:
            return False
        if status in (BEACON_ACCEPTED, BEACON_REFUSED):
            receipt.settle(status, None)  # the pipeline counts the quota a beacon holds, or sends it another way
        elif status is None or status == NOT_SENT:
            receipt.settle(None, retry_after_ms)
        else:
            receipt.settle(status, retry_after_ms)
        return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)


#: The worker's own POST: (HTTP status, Retry-After header or None); raises when the network fails.
Fetch = Callable[[str, str, Mapping[str, str]], Awaitable[tuple[int, str | None]]]


class FetchTransport:
    """Requests the worker makes itself with `fetch` (no keepalive, so no 64 KiB quota), answered like any fetch.

    For what a burst brings beyond one keepalive quota while the page lives: beacons go from the main thread
    within the quota, the rest from here. A page that goes away cancels these requests; their events are in
    the sensor's hold (docs/design.md §6) and leave by beacon. `settled()` is called after each answer, so the
    owner can send what waits next.
    """

    def __init__(self, fetch: Fetch, now_ms: Callable[[], int], settled: Callable[[], None]) -> None:
        self._fetch = fetch
        self._now_ms = now_ms
        self._settled = settled
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
             destination: str = "", event_ids: tuple[str, ...] = ()) -> bool | Receipt:
        receipt = Receipt()
        sent = dict(headers) if headers else {"Content-Type": "application/json"}
        task = asyncio.ensure_future(self._go(receipt, url, body.decode("utf-8"), sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return receipt

    async def _go(self, receipt: Receipt, url: str, body: str, headers: Mapping[str, str]) -> None:
        try:
            status, retry_after = await self._fetch(url, body, headers)
        except Exception:  # noqa: BLE001 - a network failure: retried like any
            status, retry_after = None, None
        receipt.settle(status, parse_retry_after(retry_after, self._now_ms()))
        self._settled()

    @property
    def waiting(self) -> int:
        return len(self._tasks)

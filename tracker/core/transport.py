"""The transport seam (`send(url, body, headers) -> bool | Receipt`) and a recording test double."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["Transport", "Receipt", "Outcome", "RelayTransport", "BEACON_ACCEPTED", "NOT_SENT"]

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



#: The sensor's answers that are not HTTP statuses: a beacon the browser queued, a request not made.
BEACON_ACCEPTED = 0
NOT_SENT = -1


class RelayTransport:
    """The worker's transport: requests are handed to the main-thread sensor, which owns `sendBeacon`.

    `send` queues a request (`take` collects them for one `send` message) and returns a Receipt that
    `answer` settles when the sensor reports back: BEACON_ACCEPTED counts as delivered (202), NOT_SENT
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
        if status == BEACON_ACCEPTED:
            receipt.settle(202, None)
        elif status is None or status == NOT_SENT:
            receipt.settle(None, retry_after_ms)
        else:
            receipt.settle(status, retry_after_ms)
        return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)

"""A destination's outbox: events waiting to be sent, oldest first, each once; some may be in flight."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .events import Event

__all__ = ["Outbox"]


class Outbox:
    """Insertion-ordered events keyed by id; adding an id twice keeps the first.

    An event `hold`-en is in flight (sent, answer awaited): not `pending`, still counted and
    still listed, until it is `remove`d (delivered, dropped) or `release`d (to be sent again).
    """

    def __init__(self) -> None:
        self._events: dict[str, Event] = {}
        self._in_flight: set[str] = set()

    def add(self, event: Event) -> bool:
        if event.id in self._events:
            return False
        self._events[event.id] = event
        return True

    def remove(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self._events.pop(event_id, None)
            self._in_flight.discard(event_id)

    def hold(self, ids: Iterable[str]) -> None:
        self._in_flight.update(i for i in ids if i in self._events)

    def release(self, ids: Iterable[str]) -> None:
        self._in_flight.difference_update(ids)

    def restamp(self, change: Callable[[Event], Event]) -> None:
        """Replace every event (same id, same place in the queue) by `change(event)`."""
        self._events = {event_id: change(event) for event_id, event in self._events.items()}

    def clear(self) -> None:
        self._events.clear()
        self._in_flight.clear()

    def pending(self) -> list[Event]:
        """Events ready to be sent: not in flight."""
        return [e for e in self._events.values() if e.id not in self._in_flight]

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events.values()))

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._events

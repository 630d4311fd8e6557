"""A destination's outbox: events waiting to be sent, oldest first, each once."""

from __future__ import annotations

from typing import Iterable, Iterator

from .events import Event

__all__ = ["Outbox"]


class Outbox:
    """Insertion-ordered pending events keyed by id; adding an id twice keeps the first."""

    def __init__(self) -> None:
        self._events: dict[str, Event] = {}

    def add(self, event: Event) -> bool:
        if event.id in self._events:
            return False
        self._events[event.id] = event
        return True

    def remove(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self._events.pop(event_id, None)

    def pending(self) -> list[Event]:
        return list(self._events.values())

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events.values()))

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._events

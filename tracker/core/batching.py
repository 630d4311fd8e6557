"""Cutting queued events into request bodies within count and byte limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .encoders import json_bytes

__all__ = ["Body", "Budget", "genlook_bodies", "glood_bodies"]


@dataclass(frozen=True)
class Body:
    """One request: where it goes, its exact bytes and the events it carries."""

    destination: str
    url: str
    payload: bytes
    event_ids: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.payload)


class Budget:
    """Bytes left of the keepalive quota shared by every request sent in one flush."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def fits(self, size: int) -> bool:
        return size <= self.left

    def spend(self, size: int) -> None:
        self.left -= size


def genlook_bodies(
    events: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
    *,
    url: str,
    max_events: int,
    max_bytes: int,
    headers: tuple[tuple[str, str], ...] = (),
    destination: str = "genlook",
) -> Iterator[Body]:
    """Bodies for (event_id, item, context) triples, in order, in Genlook's format (for `destination`).

    Events sharing a context (same page view) share a body; a body holds at most
    `max_events` events and `max_bytes` bytes. An event too big for a body of its
    own is yielded alone (the caller refuses such events before they are queued).
    """
    groups: dict[bytes, tuple[dict[str, Any], list[tuple[str, bytes]]]] = {}
    for event_id, item, context in events:
        key = json_bytes(context)
        groups.setdefault(key, (context, []))[1].append((event_id, json_bytes(item)))
    for context_bytes, (_context, members) in groups.items():
        yield from _chunks(members, context_bytes, url, max_events, max_bytes, headers, destination)


def _chunks(members: Iterable[tuple[str, bytes]], context_bytes: bytes, url: str, max_events: int, max_bytes: int,
            headers: tuple[tuple[str, str], ...], destination: str) -> Iterator[Body]:
    prefix, middle, suffix = b'{"events":[', b'],"context":', b"}"
    fixed = len(prefix) + len(middle) + len(context_bytes) + len(suffix)
    ids: list[str] = []
    parts: list[bytes] = []
    size = fixed

    def body() -> Body:
        payload = prefix + b",".join(parts) + middle + context_bytes + suffix
        return Body(destination, url, payload, tuple(ids), headers)

    for event_id, item in members:
        extra = len(item) + (1 if parts else 0)
        if parts and (len(parts) >= max_events or size + extra > max_bytes):
            yield body()
            ids, parts, size = [], [], fixed
            extra = len(item)
        ids.append(event_id)
        parts.append(item)
        size += extra
    if parts:
        yield body()


def glood_bodies(bodies: Iterable[tuple[str, dict[str, Any]]], *, url: str,
                 headers: tuple[tuple[str, str], ...] = (), destination: str = "glood") -> Iterator[Body]:
    """One Glood body per event (for `destination`)."""
    for event_id, body in bodies:
        yield Body(destination, url, json_bytes(body), (event_id,), headers)


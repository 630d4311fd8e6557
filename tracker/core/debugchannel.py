"""The inspector's debug channel: what the worker judged and did, posted to the page as `dbg` messages.

Only made when the boot message asks for it (`insp`, set by relay.js while `?glood_inspect=1` is on): without it
the worker has no channel, the pipeline no observer, and nothing of this runs or is kept. Every message is
`{"t": "dbg", "k": kind, "at": epoch ms, "pv": pageview id, "v": {...}}` (tracker/core/protocol.py `Debug`,
docs/design.md §6, docs/inspector.md); the page forwards it to the inspector as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from .clock import Clock
from .events import Event

__all__ = ["DebugKind", "DebugChannel"]


class DebugKind(StrEnum):
    """What a `dbg` message reports."""

    BOOT = "boot"          # Python is up: the tracker's version, the config, the page as the worker sees it
    FACT = "fact"          # a fact of the sensor, as the worker received it (before judging)
    EVENT = "event"        # an event judged and queued for the destinations
    DROPPED = "dropped"    # an event made but not queued (consent denied, bot, analytics off, before_send)
    REFUSED = "refused"    # a call or event refused (unknown name, bad data, too big)
    WAITING = "waiting"    # a flush held back: consent pending (events in memory) or a destination backing off
    BODY = "body"          # a request body handed to the network (beacon, keepalive fetch, the worker's fetch)
    OUTCOME = "outcome"    # a request's answer: delivered, to be retried, dropped, rerouted
    HIDDEN = "hidden"      # bodies the sensor beaconed itself as the page was hidden or left
    CONSENT = "consent"    # consent changed (and what it held back or dropped)
    STATE = "state"        # ids, consent, queue and counters (with each hold)


def _section_of(event: Event) -> dict[str, Any] | None:
    """The section an event belongs to (`customData.track`), as the inspector shows it."""
    track = event.custom_data.get("track") if isinstance(event.custom_data, dict) else None
    if not isinstance(track, dict):
        return None
    products = track.get("products")
    first = products[0] if isinstance(products, list) and products else None
    return {"section": track.get("section"), "serve_id": track.get("sectionServeId"),
            "product": first.get("productId") if isinstance(first, dict) else None}


class DebugChannel:
    """Posts `dbg` messages through `post`; `pageview` names the page view they belong to."""

    def __init__(self, post: Callable[[dict[str, Any]], None], clock: Clock, pageview: Callable[[], str]) -> None:
        self._post = post
        self._clock = clock
        self._pageview = pageview

    def send(self, kind: DebugKind, value: Mapping[str, Any]) -> None:
        self._post({"t": "dbg", "k": kind.value, "at": self._clock.now_ms(), "pv": self._pageview(),
                    "v": dict(value)})

    def fact(self, fact: Mapping[str, Any]) -> None:
        self.send(DebugKind.FACT, fact)

    def event(self, event: Event) -> None:
        self.send(DebugKind.EVENT, {"id": event.id, "name": event.name, "ts": event.timestamp_ms,
                                    "page": dataclasses.asdict(event.page), "data": event.data,
                                    "custom": event.custom_data, "section": _section_of(event)})

    def refused(self, what: str, reason: str) -> None:
        self.send(DebugKind.REFUSED, {"what": what, "reason": reason})

    def observe(self, kind: str, fields: Mapping[str, Any]) -> None:
        """The pipeline's observer (`Pipeline.observer`): its own reports, by kind name."""
        try:
            debug_kind = DebugKind(kind)
        except ValueError:
            debug_kind = DebugKind.STATE
            fields = {"unknown": kind, **fields}
        self.send(debug_kind, fields)

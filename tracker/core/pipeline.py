"""The tracker's core: make events, queue them per destination, flush within the keepalive quota."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .batching import Body, Budget, genlook_bodies, glood_bodies
from .clock import Clock, SystemClock
from .config import Config
from .encoders import genlook_context, genlook_item, glood_body, json_bytes
from .events import Event, PageContext, TrackError, check_json_object, event_type, iso_timestamp
from .ids import IdFactory, uuid4_ids
from .queue import Outbox
from .retry import Backoff, RetryState
from .session import Identity, Session
from .storage import MemoryStorage, Storage
from .transport import Transport

__all__ = ["Pipeline", "FlushReport", "DESTINATIONS", "FINAL_REASONS"]

DESTINATIONS = ("glood", "genlook")
#: Flushes made as the page goes away: backoff is ignored, it is the last chance.
FINAL_REASONS = frozenset({"pagehide", "hidden"})
_PLACEHOLDER_SESSION = "00000000-0000-4000-8000-000000000000"


@dataclass
class FlushReport:
    """What one flush did."""

    reason: str
    sent: list[Body] = field(default_factory=list)
    refused: list[Body] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)

    @property
    def events_sent(self) -> int:
        return sum(len(b.event_ids) for b in self.sent)


class Pipeline:
    """Pure-Python tracker core. The browser layer feeds it events and triggers; tests drive it directly."""

    def __init__(
        self,
        config: Config,
        transport: Transport,
        *,
        clock: Clock | None = None,
        storage: Storage | None = None,
        new_id: IdFactory = uuid4_ids,
        rand: Callable[[], float] = random.random,
        backoff: Backoff | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.clock = clock or SystemClock()
        self.storage = storage or MemoryStorage()
        self.new_id = new_id
        self.log = log
        self.identity = Identity.load_or_create(self.storage, new_id)
        self.session = Session(self.storage, self.clock, config.session_ttl_ms)
        self.outboxes = {name: Outbox() for name in DESTINATIONS}
        self.retry = {name: RetryState(backoff or Backoff(), rand) for name in DESTINATIONS}
        self.stats: Counter[str] = Counter()
        #: Set by the browser layer when the init endpoint keeps failing: Genlook stops waiting for a visit id.
        self.session_unavailable = False

    # -- making events -------------------------------------------------------------

    def make_event(self, name: str, data: Any = None, custom_data: Any = None, *,
                   page: PageContext, timestamp_ms: int | None = None) -> Event:
        """Validate and build an event; raises TrackError with a clear message."""
        if not isinstance(name, str):
            raise TrackError(f"event name must be a string, not {type(name).__name__}")
        event_type(name)
        if timestamp_ms is None:
            timestamp_ms = self.clock.now_ms()
        try:
            timestamp_ms = int(timestamp_ms)
            iso_timestamp(timestamp_ms)
        except (TypeError, ValueError, OverflowError, OSError):
            raise TrackError(f"timestamp_ms must be epoch milliseconds, not {timestamp_ms!r}") from None
        event = Event(
            id=self.new_id(),
            name=name,
            timestamp_ms=timestamp_ms,
            page=page,
            data=check_json_object(data, "data"),
            custom_data=check_json_object(custom_data, "customData"),
        )
        self._check_size(event)
        return event

    def _check_size(self, event: Event) -> None:
        limit = self.config.max_body_bytes
        glood = len(json_bytes(glood_body(event, session_id=_PLACEHOLDER_SESSION,
                                          identity=self.identity, config=self.config)))
        genlook = len(json_bytes({"events": [genlook_item(event)], "context": genlook_context(
            event, session_id=_PLACEHOLDER_SESSION, identity=self.identity)}))
        size = max(glood, genlook)
        if size > limit:
            raise TrackError(f"event {event.name!r} is {size} bytes encoded; one request may carry at most {limit}")

    def track(self, name: str, data: Any = None, custom_data: Any = None, *,
              page: PageContext, timestamp_ms: int | None = None) -> Event:
        """Make an event and queue it for every destination (flushing when the batch is full)."""
        try:
            event = self.make_event(name, data, custom_data, page=page, timestamp_ms=timestamp_ms)
        except TrackError:
            self.stats["rejected"] += 1
            raise
        self.enqueue(event)
        return event

    def enqueue(self, event: Event) -> None:
        for outbox in self.outboxes.values():
            outbox.add(event)
        self.stats["tracked"] += 1
        if self.session.active:  # an idle-expired visit is over: wait for a new one, do not revive it
            self.session.touch()
        self._debug(f"queued {event.name} {event.id}")
        if self.pending() >= self.config.max_batch:
            self.flush("size")

    def pending(self, destination: str | None = None) -> int:
        if destination is not None:
            return len(self.outboxes[destination])
        return max(len(o) for o in self.outboxes.values())

    # -- session ---------------------------------------------------------------------

    @property
    def needs_session(self) -> bool:
        """Glood events wait for a visit id from the init endpoint."""
        return not self.session.active

    def start_session(self, visit_id: str) -> None:
        self.session.start(visit_id)
        self._debug(f"visit {visit_id}")

    # -- flushing --------------------------------------------------------------------

    def flush(self, reason: str) -> FlushReport:
        """Send what is ready, round-robin across destinations, within one keepalive quota."""
        report = FlushReport(reason)
        now = self.clock.monotonic_ms()
        final = reason in FINAL_REASONS
        budget = Budget(self.config.keepalive_quota_bytes)
        streams: dict[str, Iterator[Body]] = {}
        for name in DESTINATIONS:
            if not self.outboxes[name]:
                continue
            if not final and not self.retry[name].ready(now):
                report.deferred[name] = len(self.outboxes[name])
                continue
            stream = self._bodies(name, final)
            if stream is None:
                report.deferred[name] = len(self.outboxes[name])
                continue
            streams[name] = stream
        while streams:
            for name in list(streams):
                body = next(streams[name], None)
                if body is None:
                    del streams[name]
                    continue
                if not budget.fits(body.size):
                    report.deferred[name] = len(self.outboxes[name])
                    del streams[name]
                    continue
                if self.transport.send(body.url, body.payload, dict(body.headers)):
                    budget.spend(body.size)
                    self.outboxes[name].remove(body.event_ids)
                    self.retry[name].succeeded()
                    report.sent.append(body)
                    self.stats[f"sent_{name}"] += len(body.event_ids)
                else:
                    delay = self.retry[name].failed(now)
                    report.refused.append(body)
                    report.deferred[name] = len(self.outboxes[name])
                    self.stats[f"refused_{name}"] += 1
                    self._debug(f"{name}: send refused ({body.size} bytes); retry in {delay:.0f} ms")
                    del streams[name]
        if report.sent or report.refused:
            self._debug(f"flush[{reason}]: {report.events_sent} event(s) in {len(report.sent)} request(s), "
                        f"{len(report.refused)} refused, waiting {report.deferred}")
        return report

    def _bodies(self, name: str, final: bool) -> Iterator[Body] | None:
        """Bodies for a destination, or None while it waits for a visit id.

        Glood cannot go without one. Genlook waits for one too (so its context carries
        `$session_id`) unless the page is going away or the init endpoint is unavailable.
        """
        if not self.session.active and (name == "glood" or not (final or self.session_unavailable)):
            return None
        events = self.outboxes[name].pending()
        if name == "genlook":
            session_id = self.session.visit_id if self.session.active else None
            triples = [(e.id, genlook_item(e), genlook_context(e, session_id=session_id, identity=self.identity))
                       for e in events]
            return genlook_bodies(triples, url=self.config.genlook_url,
                                  max_events=self.config.genlook_max_events,
                                  max_bytes=self.config.max_body_bytes)
        session_id = self.session.visit_id or ""
        pairs = [(e.id, glood_body(e, session_id=session_id, identity=self.identity, config=self.config))
                 for e in events]
        return glood_bodies(pairs, url=self.config.glood_events_url, headers=self._glood_headers())

    def _glood_headers(self) -> tuple[tuple[str, str], ...]:
        if not self.config.glood_token:
            return ()
        return (("Authorization", f"Bearer {self.config.glood_token}"),
                ("x-shop", self.config.shop_domain),
                ("Content-Type", "application/json"))

    def _debug(self, message: str) -> None:
        if self.log is not None and self.config.debug:
            self.log(message)

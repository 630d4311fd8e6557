"""The tracker's core: make events, queue them per destination, persist them, flush within the keepalive quota."""

from __future__ import annotations

import functools
import itertools
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from .batching import Body, Budget
from .clock import Clock, SystemClock
from .config import Config
from .destination import DEFAULT_DESTINATIONS, Destination, Stamped, VisitRule
from .events import Event, Owner, PageContext, TrackError, check_json_object, event_type, iso_timestamp
from .ids import IdFactory, uuid4_ids
from .journal import Entry, Journal
from .privacy import Consent
from .queue import Outbox
from .retry import Backoff, RetryState, outcome_for_status
from .session import IDENTITY_KEY, VISIT_KEY, Identity, Session
from .storage import GatedStorage, MemoryStorage, Storage
from .transport import BEACON_ACCEPTED, BEACON_REFUSED, Receipt, Transport

__all__ = ["Pipeline", "Route", "route", "FlushReport", "DESTINATIONS", "FINAL_REASONS", "CONSENT_STATES"]

#: The names of the destinations every event goes to by default (tracker/core/destination.py), in order.
DESTINATIONS = tuple(d.name for d in DEFAULT_DESTINATIONS)
#: Flushes made as the page goes away: backoff is ignored, it is the last chance.
FINAL_REASONS = frozenset({"pagehide", "hidden"})
_PLACEHOLDER_SESSION = "00000000-0000-4000-8000-000000000000"
#: One flush or standby looks at most at this many events per destination: a keepalive quota (64 KiB) holds
#: fewer, and encoding a whole burst backlog each time would cost O(backlog).
EVENTS_PER_FLUSH = 200
#: Bytes of requests in flight by the `bulk` transport (what a burst brings beyond the keepalive quota).
BULK_IN_FLIGHT_BYTES = 256 * 1024
#: A beacon the browser accepted holds part of its keepalive quota until its request is over, which the page is
#: never told: with a bulk transport, a beacon's bytes count against the quota for this long.
BEACON_RESERVE_MS = 1000
#: With a bulk transport, at most this many beacons per BEACON_RESERVE_MS: each costs the main thread a few
#: milliseconds (the bench: ~3 ms on a busy machine), so a burst's thousands go by the bulk transport instead.
BEACONS_PER_RESERVE = 12
#: A destination with more events queued than this is sending a burst: with a bulk transport, none of it goes by
#: beacon (a page left meanwhile may then send some of it twice; collectors keep each event id once).
BURST_EVENTS = 500
#: The consent states' values (see `Consent`).
CONSENT_STATES = tuple(state.value for state in Consent)


@dataclass
class FlushReport:
    """What one flush did."""

    reason: str
    sent: list[Body] = field(default_factory=list)
    refused: list[Body] = field(default_factory=list)
    #: Sent bodies whose answer is awaited (a fetch): their events stay queued until it comes.
    awaiting: list[Body] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)

    @property
    def events_sent(self) -> int:
        return sum(len(b.event_ids) for b in self.sent)


class Route(Enum):
    """How one body leaves in a flush."""

    #: By the sensor (a beacon, or a keepalive fetch when it needs headers): within the keepalive quota.
    BEACON = "beacon"
    #: By the worker's own fetch: no quota, its answer seen (only while the page lives).
    WORKER_FETCH = "worker_fetch"
    #: Not now: it waits in the queue for a later flush (or the next page).
    DEFER = "defer"


def route(*, fits_quota: bool, bursting: bool, beacons: int, has_bulk: bool, bulk_room: bool, final: bool) -> Route:
    """The way a body goes. A beacon unless it does not fit the keepalive quota, its destination is sending a
    burst, or BEACONS_PER_RESERVE beacons went within the last second (each costs the main thread); then the worker's
    own fetch, when there is one with room for it and the page is not going (`final`: a request the worker starts
    then is never answered), else it waits."""
    if fits_quota and not bursting and not (has_bulk and beacons >= BEACONS_PER_RESERVE):
        return Route.BEACON
    if final or not (has_bulk and bulk_room):
        return Route.DEFER
    return Route.WORKER_FETCH


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
        tab_id: str | None = None,
        consent: Consent | str | None = None,
        flush_on_size: bool = True,
        before_send: Callable[[dict[str, Any]], Any] | None = None,
        destinations: Sequence[Destination] = DEFAULT_DESTINATIONS,
    ) -> None:
        self.config = config
        #: The APIs every event is queued for, in order (flushes go round-robin across them).
        self.destinations = tuple(destinations)
        names = [d.name for d in self.destinations]
        if not names or not all(names) or len(set(names)) != len(names):
            raise ValueError("destinations need distinct, non-empty names")
        self.transport = transport
        self.clock = clock or SystemClock()
        if consent is not None and consent not in CONSENT_STATES:
            raise ValueError(f"consent must be one of {', '.join(CONSENT_STATES)}")
        self.consent = Consent(consent) if consent else Consent.PENDING if config.require_consent else Consent.GRANTED
        #: Nothing is written to storage without consent; reads and removals always work.
        self.storage = GatedStorage(MemoryStorage() if storage is None else storage,
                                    lambda: self.consent is Consent.GRANTED)
        self.new_id = new_id
        self.log = log
        self.identity = Identity.load_or_create(self.storage, new_id)
        self.session = Session(self.storage, self.clock, config.session_ttl_ms)
        self.journal = Journal(self.storage, tab_id or uuid4_ids(), self.clock,
                               max_bytes=config.persist_max_bytes, max_age_ms=config.persist_max_age_ms)
        self.outboxes = {name: Outbox() for name in names}
        self.retry = {name: RetryState(backoff or Backoff(), rand) for name in names}
        self.stats: Counter[str] = Counter()
        #: False: a full batch does not flush inside `enqueue` (the caller flushes once after a burst).
        self.flush_on_size = flush_on_size
        #: The merchant's hook: the event as JSON in, the event (edited) or None out (see `_before_send`).
        self.before_send = before_send
        #: Bytes of requests sent whose answer is awaited: they hold part of the keepalive quota.
        self.in_flight_bytes = 0
        #: Sends what does not fit the keepalive quota while the page lives (the worker's own fetch), or None:
        #: then it waits for the next flush. Its requests' bytes in flight are counted apart.
        self.bulk: Transport | None = None
        self.bulk_in_flight_bytes = 0
        #: "<destination> <event id>" in flight by the bulk transport: a page left meanwhile beacons them again
        #: without knowing whether they arrived (the one double send the handover rule allows, counted).
        self.bulk_ids: set[str] = set()
        self._beacons: deque[tuple[float, int]] = deque()  # (when accepted, bytes): see BEACON_RESERVE_MS
        #: Queued events the last `persist` left out of storage (over persist_max_bytes): still sent while
        #: the page lives, lost if it goes first.
        self.unstored = 0
        #: Why nothing is tracked on this page ("disabled": the shop turned analytics off; "bot"), or None.
        self.muted: str | None = None
        #: Set by the browser layer when the init endpoint keeps failing: Genlook stops waiting for a visit id.
        self.session_unavailable = False
        #: "<destination> <event id>" of events known to have left another way (a gone page's beacons, named in
        #: the record it left): never queued again (docs/design.md §6, the handover rule).
        self.already_sent: set[str] = set()
        #: "<destination> <event id>" of events settled since the worker's last hold: the sensor forgets them.
        self.acked: list[str] = []
        #: The inspector's debug channel (tracker/core/debugchannel.py), set only while the inspector is on:
        #: told `(kind, fields)` of each event dropped, flush held back, body sent and answer. None: nothing runs.
        self.observer: Callable[[str, dict[str, Any]], None] | None = None
        self._dirty = False
        if self.consent is Consent.DENIED:
            self._forget_stored()
        if not self.session.analytics:
            self.muted = "disabled"

    # -- making events -------------------------------------------------------------

    def make_event(self, name: str, data: Any = None, custom_data: Any = None, *,
                   page: PageContext, timestamp_ms: int | None = None, event_id: str | None = None) -> Event:
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
        if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 64):
            raise TrackError("an event id must be a string of 1 to 64 characters")
        event = Event(
            id=event_id or self.new_id(),
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
        size = max(d.size(event, _PLACEHOLDER_SESSION, self.identity, self.config) for d in self.destinations)
        if size > limit:
            raise TrackError(f"event {event.name!r} is {size} bytes encoded; one request may carry at most {limit}")

    def track(self, name: str, data: Any = None, custom_data: Any = None, *,
              page: PageContext, timestamp_ms: int | None = None, event_id: str | None = None) -> Event | None:
        """Make an event and queue it for every destination (flushing when the batch is full).

        Bad input raises TrackError; with consent denied nothing is made and None is returned.
        `event_id` keeps an id made elsewhere (the sensor's, or a stable one of a fact).
        """
        try:
            event = self.make_event(name, data, custom_data, page=page, timestamp_ms=timestamp_ms,
                                    event_id=event_id)
        except TrackError:
            self.stats["rejected"] += 1
            raise
        if self.consent is Consent.DENIED:
            self.stats["dropped_consent"] += 1
            self._observe("dropped", id=event.id, name=event.name, reason="consent denied")
            return None
        if self.muted is not None:
            self.stats[f"dropped_{self.muted}"] += 1
            self._observe("dropped", id=event.id, name=event.name, reason=self.muted)
            return None
        if self.before_send is not None:
            kept = self._before_send(event)
            if kept is None:
                self._observe("dropped", id=event.id, name=event.name, reason="before_send")
                return None
            event = kept
        self.enqueue(event)
        return event

    def _before_send(self, event: Event) -> Event | None:
        """The merchant's hook sees the event as plain JSON and returns it (edited or not) or None to drop it.
        A hook that fails, or returns something that is not an event, leaves the event as it was (counted)."""
        assert self.before_send is not None
        plain = {"id": event.id, "name": event.name, "timestamp": event.timestamp, "data": event.data,
                 "customData": event.custom_data, "page_type": event.page.page_type, "page_url": event.page.url}
        try:
            answer = self.before_send(plain)
        except Exception as exc:  # noqa: BLE001 - a merchant's hook must not stop tracking
            self.stats["before_send_failed"] += 1
            self._debug(f"before_send failed on {event.name}: {exc}")
            return event
        if answer is None:
            self.stats["dropped_before_send"] += 1
            return None
        try:
            if not isinstance(answer, dict):
                raise TrackError("before_send must return the event object or null")
            name = answer.get("name", event.name)
            if not isinstance(name, str):
                raise TrackError("before_send changed the name to something that is not a string")
            event_type(name)
            edited = replace(event, name=name, data=check_json_object(answer.get("data"), "data"),
                             custom_data=check_json_object(answer.get("customData"), "customData"))
            self._check_size(edited)
        except TrackError as exc:
            self.stats["before_send_failed"] += 1
            self._debug(f"before_send's answer for {event.name} ignored: {exc}")
            return event
        return edited

    def enqueue(self, event: Event) -> None:
        skipped = {name for name in self.outboxes if f"{name} {event.id}" in self.already_sent}
        self.stats["skipped_sent"] += len(skipped)
        if len(skipped) == len(self.outboxes):
            return
        for name, outbox in self.outboxes.items():
            if name not in skipped:
                outbox.add(event)
        self.stats["tracked"] += 1
        self._dirty = True
        if self.session.active:  # an idle-expired visit is over: wait for a new one, do not revive it
            self.session.touch()
        self._debug(f"queued {event.name} {event.id}")
        if self.flush_on_size and self.pending() >= self.config.max_batch:
            self.flush("size")

    # -- persistence -----------------------------------------------------------------

    def backlog(self) -> list[Entry]:
        """Every queued event (pending or in flight) with the destinations it still has to reach."""
        destinations: dict[str, list[str]] = {}
        events: dict[str, Event] = {}
        for name in self.outboxes:
            for event in self.outboxes[name]:
                events.setdefault(event.id, event)
                destinations.setdefault(event.id, []).append(name)
        return [Entry(events[i], tuple(destinations[i])) for i in events]

    def persist(self) -> None:
        """Store the backlog within the caps, with consent: events older than persist_max_age_ms are dropped
        (counted); past persist_max_bytes the oldest are left out of storage but still sent while the page
        lives (`unstored`)."""
        self._dirty = False
        kept, expired, overflow = self.journal.fit(self.backlog())
        if expired:
            ids = [e.event.id for e in expired]
            for outbox in self.outboxes.values():
                outbox.remove(ids)
            self.stats["dropped_expired"] += len(ids)
            self._debug(f"dropped_expired: {len(ids)} event(s)")
        self.unstored = len(overflow)
        if self.consent is not Consent.GRANTED:
            return
        if not self.journal.save(kept):
            self.stats["persist_failed"] += 1

    def persist_if_dirty(self) -> None:
        if self._dirty:
            self.persist()

    def adopt(self, alive: Any = None, previous: str | None = None) -> int:
        """Take over the stored backlog of pages that are gone (see Journal.claim); returns events adopted."""
        if self.consent is Consent.DENIED or self.muted is not None:
            return 0
        entries, corrupt = self.journal.claim(alive, previous)
        if corrupt:
            self.stats["dropped_corrupt"] += corrupt
        adopted = 0
        for entry in sorted(entries, key=lambda e: e.event.timestamp_ms):
            sent = [d for d in entry.destinations if f"{d} {entry.event.id}" in self.already_sent]
            self.stats["skipped_sent"] += len(sent)
            added = [self.outboxes[d].add(entry.event) for d in entry.destinations
                     if d in self.outboxes and d not in sent]
            adopted += any(added)
        if adopted:
            self.stats["restored"] += adopted
            self._debug(f"restored {adopted} unsent event(s) from an earlier page")
        self.persist()
        return adopted

    # -- consent ---------------------------------------------------------------------

    def set_consent(self, granted: bool) -> None:
        """Grant: store and send what was kept in memory. Deny: drop it all, store nothing, send nothing."""
        state = Consent.GRANTED if granted else Consent.DENIED
        if state == self.consent:
            return
        self.consent = state
        self._debug(f"consent {state}")
        if granted:
            self._observe("consent", state=state.value, held=self.pending(), dropped=0)
            self.identity.save(self.storage)
            self.persist()
            return
        dropped = self._drop_backlog("dropped_consent")
        self._observe("consent", state=state.value, held=0, dropped=dropped)
        self._forget_stored()

    def _drop_backlog(self, reason: str) -> int:
        """Empty every outbox, counting the distinct events dropped under `reason`."""
        dropped = len({event.id for outbox in self.outboxes.values() for event in outbox})
        for outbox in self.outboxes.values():
            outbox.clear()
        self.stats[reason] += dropped
        return dropped

    def _forget_stored(self) -> None:
        self.journal.clear()
        self.session.expire()
        self.storage.remove(IDENTITY_KEY)
        self.storage.remove(VISIT_KEY)

    def status(self) -> dict[str, Any]:
        """The pipeline's part of `status()`: consent, queue, the anonymous client id, the visit, counters."""
        return {"consent": self.consent, "pending": self.pending(),
                "in_flight": max(o.in_flight for o in self.outboxes.values()),
                "client_id": self.identity.client_id, "session_id": self.session.visit_id,
                "unstored": self.unstored, "stats": dict(self.stats)}

    def pending(self, destination: str | None = None) -> int:
        if destination is not None:
            return len(self.outboxes[destination])
        return max(len(o) for o in self.outboxes.values())

    # -- session ---------------------------------------------------------------------

    @property
    def needs_session(self) -> bool:
        """Glood events wait for a visit id from the init endpoint (asked for only with consent)."""
        return self.consent is Consent.GRANTED and not self.session.active

    def awaits_visit(self) -> bool:
        """Whether queued events wait for a visit id that only init can give: `needs_session`, and some are
        queued for a destination that cannot go without one (Glood)."""
        return self.needs_session and any(len(self.outboxes[d.name]) for d in self.destinations
                                          if d.visit is VisitRule.REQUIRED)

    def start_session(self, visit_id: str, token: str | None = None, analytics: bool = True) -> None:
        """A visit answered by init. With analytics off for the shop, what waited is dropped (counted) and
        nothing more is tracked during the visit."""
        self.session.start(visit_id, token, analytics)
        self._debug(f"visit {visit_id}" + ("" if analytics else " (analytics disabled by the shop)"))
        if not analytics:
            self.mute("disabled")

    def mute(self, reason: str) -> None:
        """Track nothing more on this page: what waited is dropped and, like later events, counted as
        `dropped_<reason>`."""
        self.muted = reason
        self._drop_backlog(f"dropped_{reason}")
        self.persist()

    def adopt_identity(self, user_id: Any, client_id: Any) -> None:
        """The anonymous ids init answers are the ones to keep (the server may assign them)."""
        user = user_id if isinstance(user_id, str) and user_id else self.identity.user_id
        client = client_id if isinstance(client_id, str) and client_id else self.identity.client_id
        if (user, client) != (self.identity.user_id, self.identity.client_id):
            self.identity = Identity(user, client)
            self.identity.save(self.storage)

    # -- flushing --------------------------------------------------------------------

    def flush(self, reason: str) -> FlushReport:
        """Send what is ready, round-robin across destinations, within one keepalive quota."""
        report = FlushReport(reason)
        if self.consent is not Consent.GRANTED:
            report.deferred = {n: len(o) for n, o in self.outboxes.items() if o}
            if report.deferred:
                self._observe("waiting", reason=f"consent {self.consent}", deferred=report.deferred)
            self.persist_if_dirty()
            return report
        if self.journal.lost():  # another page adopted our stored backlog: it sends those events now
            lost = self._drop_backlog("claimed_elsewhere")
            self._debug(f"{lost} event(s) taken over by another page")
        now = self.clock.monotonic_ms()
        final = reason in FINAL_REASONS
        budget = Budget(self.config.keepalive_quota_bytes - self.in_flight_bytes - self._beacon_bytes(now))
        beacons = len(self._beacons) if self.bulk is not None else 0
        bursting: set[str] = set()
        streams: dict[str, Iterator[Body]] = {}
        for destination in self.destinations:
            name = destination.name
            if not self.outboxes[name].pending():
                continue
            if not final and not self.retry[name].ready(now):
                report.deferred[name] = len(self.outboxes[name])
                continue
            stream = self._bodies(destination)
            if stream is None:
                report.deferred[name] = len(self.outboxes[name])
                continue
            streams[name] = stream
            if self.bulk is not None and len(self.outboxes[name]) > BURST_EVENTS:
                bursting.add(name)
        while streams:
            for name in list(streams):
                body = next(streams[name], None)
                if body is None:
                    del streams[name]
                    continue
                way = route(fits_quota=budget.fits(body.size), bursting=name in bursting, beacons=beacons,
                            has_bulk=self.bulk is not None, bulk_room=self._bulk_room(body.size), final=final)
                if way is Route.DEFER:
                    report.deferred[name] = len(self.outboxes[name])
                    del streams[name]
                    continue
                bulk = way is Route.WORKER_FETCH
                transport = self.bulk if bulk and self.bulk is not None else self.transport
                result = transport.send(body.url, body.payload, dict(body.headers),
                                        destination=name, event_ids=body.event_ids)
                self._observe_body(body, "fetch" if bulk else "keepalive" if body.headers else "beacon", result)
                if isinstance(result, Receipt):
                    if bulk:
                        self.bulk_in_flight_bytes += body.size
                        self.bulk_ids.update(f"{name} {i}" for i in body.event_ids)
                    else:
                        beacons += 1
                        budget.spend(body.size)
                        self.in_flight_bytes += body.size
                    self.outboxes[name].hold(body.event_ids)
                    report.awaiting.append(body)
                    result.subscribe(functools.partial(self._settle, name, body, bulk))
                elif result:
                    budget.spend(body.size)
                    self.outboxes[name].remove(body.event_ids)
                    self._dirty = True
                    self.retry[name].succeeded()
                    report.sent.append(body)
                    self.stats[f"sent_{name}"] += len(body.event_ids)
                else:
                    delay = self.retry[name].failed(now)
                    report.refused.append(body)
                    report.deferred[name] = len(self.outboxes[name])
                    self.stats[f"refused_{name}"] += 1
                    self._debug(f"{name}: send refused ({body.size} bytes); retry in {delay:.0f} ms")
                    self._observe("outcome", d=name, ids=list(body.event_ids), status=None, outcome="retry",
                                  delay=delay, why="not sent")
                    del streams[name]
        if report.sent or report.refused or report.awaiting:
            self._debug(f"flush[{reason}]: {report.events_sent} event(s) in {len(report.sent)} request(s), "
                        f"{len(report.awaiting)} awaiting an answer, {len(report.refused)} refused, "
                        f"waiting {report.deferred}")
        self.persist_if_dirty()  # requests in flight leave the stored backlog as it was
        return report

    def standby(self) -> list[Body]:
        """The bodies to hand to `sendBeacon` if the page went away now: every queued event, in flight or
        not (a request not yet made when the page goes is never made), oldest first, round-robin across
        destinations, within one keepalive quota. Nothing is sent and nothing changes.

        A destination whose last request failed gets none: a request as the page goes would likely fail too and
        its answer is never seen, while counted as sent (the handover rule); its events wait in the stored
        backlog for the next page."""
        if self.consent is not Consent.GRANTED:
            return []
        budget = Budget(self.config.keepalive_quota_bytes)
        streams = {d.name: stream for d in self.destinations
                   if len(self.outboxes[d.name]) and not self.retry[d.name].failures
                   for stream in [self._bodies(d, list(self.outboxes[d.name]))]
                   if stream is not None}
        out: list[Body] = []
        while streams:
            for name in list(streams):
                body = next(streams[name], None)
                if body is None or not budget.fits(body.size):
                    del streams[name]
                    continue
                budget.spend(body.size)
                out.append(body)
        return out

    def delivered(self, name: str, event_ids: list[str]) -> None:
        """Events that left by another way (the sensor's beacons as the page was hidden): sent."""
        outbox = self.outboxes.get(name)
        if outbox is None:
            return
        known = [i for i in event_ids if i in outbox]
        self.acked.extend(f"{name} {i}" for i in event_ids)
        if known:
            outbox.remove(known)
            self.stats[f"sent_{name}"] += len(known)
            self._dirty = True
        self._observe("hidden", d=name, ids=list(event_ids), known=len(known))

    def _settle(self, name: str, body: Body, bulk: bool, status: int | None, retry_after_ms: float | None) -> None:
        """The answer to a sent body: delivered, to be retried (backoff, Retry-After) or refused for good.

        A beacon the browser refused (its keepalive quota full, as in a burst) goes again at once by the bulk
        transport when there is one and it has room; otherwise it is retried like a network failure."""
        outbox = self.outboxes[name]
        if bulk:
            self.bulk_in_flight_bytes = max(0, self.bulk_in_flight_bytes - body.size)
            self.bulk_ids.difference_update(f"{name} {i}" for i in body.event_ids)
        else:
            self.in_flight_bytes = max(0, self.in_flight_bytes - body.size)
        if status == BEACON_ACCEPTED:
            if self.bulk is not None and not bulk:
                self._beacons.append((self.clock.monotonic_ms(), body.size))
            status = 202
        elif status == BEACON_REFUSED:
            if self.bulk is not None and self.consent is Consent.GRANTED and self._bulk_room(body.size):
                result = self.bulk.send(body.url, body.payload, dict(body.headers),
                                        destination=name, event_ids=body.event_ids)
                if isinstance(result, Receipt):
                    self.bulk_in_flight_bytes += body.size
                    self.bulk_ids.update(f"{name} {i}" for i in body.event_ids)
                    self.stats[f"rerouted_{name}"] += 1
                    self._observe("outcome", d=name, ids=list(body.event_ids), status=status, outcome="rerouted",
                                  why="sendBeacon refused it (keepalive quota full): the worker fetches it")
                    result.subscribe(functools.partial(self._settle, name, body, True))
                    return
            status = None
        outcome = outcome_for_status(status)
        if self.observer is not None:
            self._observe("outcome", d=name, ids=list(body.event_ids), status=status, outcome=outcome,
                          way="fetch" if bulk else "keepalive" if body.headers else "beacon",
                          retry_after=retry_after_ms,
                          why=None if outcome == "ok" else "network failure" if status is None
                          else f"answered {status}")
        if outcome != "retry":
            self.acked.extend(f"{name} {i}" for i in body.event_ids)
        if outcome == "ok":
            outbox.remove(body.event_ids)
            self.retry[name].succeeded()
            self.stats[f"sent_{name}"] += len(body.event_ids)
        elif outcome == "retry":
            outbox.release(body.event_ids)
            delay = self.retry[name].failed(self.clock.monotonic_ms(), retry_after_ms, concurrent=True)
            self.stats[f"refused_{name}"] += 1
            self._debug(f"{name}: answered {status}; retry in {delay:.0f} ms")
        else:
            outbox.remove(body.event_ids)
            self.stats[f"dropped_{name}"] += len(body.event_ids)
            self._debug(f"{name}: answered {status}; {len(body.event_ids)} event(s) dropped")
        self._dirty = True  # stored on the next persist: one write for a burst of answers

    def take_acked(self) -> list[str]:
        """"<destination> <event id>" of the events settled since the last call (see `acked`)."""
        acked, self.acked = self.acked, []
        return acked

    def hand_over(self, sent: Iterable[str]) -> None:
        """Events a gone page's record names as sent ("<destination> <event id>"): dropped from the queues
        and never queued again."""
        for item in sent:
            name, _, event_id = item.partition(" ")
            if name in self.outboxes and event_id:
                self.already_sent.add(item)
                if event_id in self.outboxes[name]:
                    self.outboxes[name].remove([event_id])
                    self.stats["skipped_sent"] += 1
                    self._dirty = True

    def taken(self, until_ms: float) -> int:
        """Another page took this page's record (it was restored from the back/forward cache after the page
        that adopted it): every event made until `until_ms` went with it. Dropped here, counted."""
        ids = {e.id for o in self.outboxes.values() for e in o if e.timestamp_ms <= until_ms}
        for outbox in self.outboxes.values():
            outbox.remove(ids)
        self.stats["claimed_elsewhere"] += len(ids)
        self._dirty = True
        return len(ids)

    def _bulk_room(self, size: int) -> bool:
        """A bulk transport is there and a body of `size` bytes fits within BULK_IN_FLIGHT_BYTES."""
        return self.bulk is not None and self.bulk_in_flight_bytes + size <= BULK_IN_FLIGHT_BYTES

    def _beacon_bytes(self, now: float) -> int:
        """Bytes of beacons accepted within BEACON_RESERVE_MS: still holding the browser's keepalive quota."""
        while self._beacons and now - self._beacons[0][0] > BEACON_RESERVE_MS:
            self._beacons.popleft()
        return sum(size for _, size in self._beacons)

    def _bodies(self, destination: Destination, events: list[Event] | None = None) -> Iterator[Body] | None:
        """Bodies for a destination's pending events (or `events`), or None while it waits for a visit id
        (its `VisitRule`: Glood cannot go without one; Genlook waits for one too, so that one event carries the
        same session at both destinations, unless the init endpoint keeps failing)."""
        visit = self.session.active
        if not destination.may_send(visit, self.session_unavailable):
            return None
        if events is None:
            events = self.outboxes[destination.name].pending()
        current = self.session.visit_id if visit else None
        token = self.session.token if visit else None
        # Runs of events under one visit token (events made before a reset keep theirs), each its own bodies.
        runs: list[tuple[str | None, list[Stamped]]] = []
        for event in events[:EVENTS_PER_FLUSH]:
            own = token if event.owner is None or event.owner.session_id is None else event.owner.token
            if not runs or runs[-1][0] != own:
                runs.append((own, []))
            runs[-1][1].append((event, self._session_of(event, current), self._identity_of(event)))
        return itertools.chain.from_iterable(destination.bodies(stamped, self.config, own) for own, stamped in runs)

    def _identity_of(self, event: Event) -> Identity:
        owner = event.owner
        return self.identity if owner is None else Identity(owner.user_id, owner.client_id)

    @staticmethod
    def _session_of(event: Event, current: str | None) -> str | None:
        return current if event.owner is None or event.owner.session_id is None else event.owner.session_id

    def reset_identity(self, at_ms: float | None = None) -> None:
        """A visitor logged out (`reset()`, at `at_ms` when it is replayed from a page that is gone): new
        anonymous ids and a new visit from now on; what is queued and was made before keeps the ids, visit and
        visit token it was made under."""
        active = self.session.active
        old = Owner(self.identity.user_id, self.identity.client_id, self.session.visit_id if active else None,
                    self.session.token if active else None)

        def before(event: Event) -> bool:
            return at_ms is None or event.timestamp_ms <= at_ms

        for outbox in self.outboxes.values():
            outbox.restamp(lambda e: e if e.owner is not None or not before(e) else replace(e, owner=old))
        self.identity = Identity(self.new_id(), self.new_id())
        self.identity.save(self.storage)
        self.session.expire()
        self.journal.forget_encodings()
        self._dirty = True
        self._debug("identity reset: new anonymous ids, a new visit")

    def _debug(self, message: str) -> None:
        if self.log is not None and self.config.debug:
            self.log(message)

    def _observe(self, kind: str, **fields: Any) -> None:
        """Tell the inspector's debug channel, when there is one (`observer`)."""
        if self.observer is not None:
            self.observer(kind, fields)

    def _observe_body(self, body: Body, way: str, result: bool | Receipt) -> None:
        if self.observer is not None:
            self.observer("body", {"d": body.destination, "u": body.url, "x": body.payload.decode("utf-8", "replace"),
                                   "ids": list(body.event_ids), "way": way, "bytes": body.size,
                                   "taken": bool(result)})

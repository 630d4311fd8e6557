"""The tracker as it runs in the worker: the sensor's messages in, events judged, queued and handed back.

Everything here is pure Python behind small seams (post a message, make a request, schedule, Web Locks),
so it runs in CPython tests as it runs in Pyodide's worker. The messages are the contract of
docs/design.md §6.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .adoption import ADOPT_LOCK, TAB_LOCK_PREFIX, Adoption, Locks
from .clock import Clock
from .config import Config, ConfigError
from .debugchannel import DebugChannel, DebugKind
from .encoders import LIB_VERSION
from .events import MAX_DEPTH, TrackError
from .facts import Emit, FactError, PageBoot, PageJudge
from .pipeline import BURST_EVENTS, Pipeline
from .privacy import ATTRIBUTION_KEY, Attribution, BrowserSignals, Consent, initial_consent, is_bot
from .retry import parse_retry_after
from .storage import MirrorStorage, Storage
from .transport import Fetch, FetchTransport, RelayTransport
from .visit import INIT_ATTEMPTS_BEFORE_FALLBACK, Request, VisitStart

__all__ = ["WorkerTracker", "Seams", "Locks", "Cancel", "read_config", "TAB_LOCK_PREFIX", "ADOPT_LOCK",
           "INIT_ATTEMPTS_BEFORE_FALLBACK", "HOLD_DELAY_MS"]

# Adoption (adoption.py) and the visit's start (visit.py) are objects of their own; their names stay importable here.

#: A burst of facts is judged at once and answered with one hold message, this long after its first.
HOLD_DELAY_MS = 25
#: While a burst's backlog is being sent (more than this many events queued), holds follow at most every
#: HOLD_BURST_GAP_MS: each one copies bodies and the stored backlog to the main thread. What changes meanwhile is
#: not lost: facts not yet in a hold stay with the sensor.
HOLD_BURST_GAP_MS = 500
#: The customer `identify()` named, until `reset()`.
CUSTOMER_KEY = "glood_tracker:customer"


class Cancel(Protocol):
    def cancel(self) -> Any: ...




@dataclass
class Seams:
    """What the worker tracker needs from its host: the browser's worker scope, or test doubles."""

    post: Callable[[dict[str, Any]], None]
    request: Request
    clock: Clock
    later: Callable[[float, Callable[[], None]], Cancel]
    locks: Locks | None = None
    #: The worker's own POST for what a burst brings beyond the keepalive quota; None: it waits for the quota.
    fetch: Fetch | None = None


def call_args(fact: Mapping[str, Any]) -> list[Any]:
    """The arguments of an API call fact: JSON text from the sensor (or a list); TrackError when it is nested
    past MAX_DEPTH, found before parsing (parsing thousands of levels overflows Pyodide's stack)."""
    raw = fact.get("a")
    if isinstance(raw, str):
        if json_too_deep(raw, MAX_DEPTH + 2):  # the argument list and its object are two levels
            raise TrackError(f"data is nested more than {MAX_DEPTH} levels deep")
        try:
            raw = json.loads(raw)
        except ValueError:
            raise TrackError("the call's arguments are not JSON") from None
    return raw if isinstance(raw, list) else []


def json_too_deep(text: str, limit: int) -> bool:
    """Whether JSON `text` nests objects and arrays more than `limit` deep (a scan, no recursion)."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def stored_customer(storage: Storage) -> str | None:
    """The customer id `identify()` kept in storage, or None."""
    try:
        raw = json.loads(storage.get(CUSTOMER_KEY) or "null")
    except ValueError:
        return None
    return raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None


def read_config(boot: Mapping[str, Any]) -> Config:
    """The page's `#glood-tracker-config` text, overridden by `window.gloodTrackerConfig` and `?glood_debug=1`."""
    raw: Any = {}
    text = boot.get("cfg")
    if isinstance(text, str) and text.strip():
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"#glood-tracker-config is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError("#glood-tracker-config must hold a JSON object")
    overrides = boot.get("ov")
    if overrides is not None:
        if not isinstance(overrides, dict):
            raise ConfigError("window.gloodTrackerConfig must be an object")
        raw.update(overrides)
    if boot.get("dbg") is True:
        raw["debug"] = True
    return Config.from_mapping(raw)


class WorkerTracker:
    """One page's tracker. `start()` after construction; then `handle(message)` for each sensor message."""

    def __init__(self, boot: Mapping[str, Any], seams: Seams,
                 before_send: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.seams = seams
        #: How the host started Python (the browser's worker script: snapshot restored or not, timings), for status().
        self.boot_info: Callable[[], Any] | None = None
        self.config = read_config(boot)
        self.page_boot = PageBoot.from_message(boot.get("page") or {})
        self.page_id = self.page_boot.page_id
        self.previous = boot.get("prev") if isinstance(boot.get("prev"), str) else None
        store = boot.get("store")
        self.storage = MirrorStorage(store if isinstance(store, dict) else {})
        self.transport = RelayTransport()
        self.signals = BrowserSignals.from_message(boot.get("sig"))
        consent = initial_consent(self.signals, require_consent=self.config.require_consent,
                                  honor_gpc=self.config.honor_gpc)
        self.pipeline = Pipeline(self.config, self.transport, clock=seams.clock, storage=self.storage,
                                 log=self._log, tab_id=self.page_id, consent=consent, flush_on_size=False,
                                 before_send=before_send)
        if seams.fetch is not None:
            self.pipeline.bulk = FetchTransport(seams.fetch, seams.clock.now_ms, self._kick)
        self._kick_timer: Cancel | None = None
        if self.config.filter_bots and is_bot(self.signals):
            self.pipeline.mute("bot")
        self.attribution: Attribution | None = None
        self.judge = PageJudge(self.page_boot, self.config.view_ratio, self.config.view_duration_ms)
        for problem in self.judge.problems:
            self.error(problem)
        self.upto = 0
        #: Facts up to this sequence number went to another page with this page's record (restored from the
        #: back/forward cache after that page adopted it): judged for their state only, nothing tracked.
        quiet = boot.get("quiet")
        self.quiet: int = quiet if isinstance(quiet, int) else 0
        self._muted_track = False
        #: When the visitor's identity (identify/reset) and consent last changed, by call time: a call replayed
        #: from a gone page's record that is older than the change is not applied again.
        self._changed_at = {"identity": float("-inf"), "consent": float("-inf")}
        self.stopped = False
        self._hold_timer: Cancel | None = None
        self._last_hold = float("-inf")
        self._view_timer: Cancel | None = None
        self._flush_timer: Cancel | None = None
        self._rpc_next = 0
        self._rpc: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.adoption = Adoption(self.pipeline, self.storage, self.page_id, self.previous, seams.locks,
                                 ask=self.ask_sensor, judge=self._judge_record, refreshed=self._storage_refreshed,
                                 finished=self._adopted, debug=self.debug, stopped=lambda: self.stopped)
        self.visit = VisitStart(self.config, self.pipeline, seams.request, sleep=self._sleep, spawn=self._spawn,
                                page=lambda: self.judge.page, customer=lambda: self.customer_id,
                                started=self._visit_started, changed=self._after, warn=self.warn,
                                stopped=lambda: self.stopped)
        #: The customer `identify()` named, as kept in storage (CUSTOMER_KEY) until `reset()`; None: anonymous.
        self.customer_id = stored_customer(self.storage)
        #: The inspector's debug channel, only when the boot message asks for it (`insp`); None: nothing of it runs.
        self.channel: DebugChannel | None = None
        if boot.get("insp") is True:
            self.channel = DebugChannel(seams.post, seams.clock, lambda: self.judge.pageview_id)
            self.pipeline.observer = self.channel.observe

    # -- logging --------------------------------------------------------------------------

    def _log(self, message: str) -> None:
        self.seams.post({"t": "log", "l": "log", "m": message})

    def error(self, message: str) -> None:
        self.seams.post({"t": "log", "l": "error", "m": message})

    def warn(self, message: str) -> None:
        self.seams.post({"t": "log", "l": "warn", "m": message})

    def debug(self, message: str) -> None:
        if self.config.debug:
            self._log(message)

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Emit the page's own events, start the visit and adoption, tell the sensor it is ready."""
        if self.pipeline.consent is Consent.GRANTED and self.pipeline.muted is None:
            session = self.pipeline.session
            self.attribution = Attribution.update(self.pipeline.storage, self.page_boot.url, self.page_boot.referrer,
                                                  session.visit_id if session.active else None)
        if self.channel is not None:
            self.channel.send(DebugKind.BOOT, {
                "version": LIB_VERSION, "page": self.page_id, "t0": self.page_boot.t0,
                "page_type": self.judge.page.page_type,
                "config": dataclasses.asdict(self.config), "consent": self.pipeline.consent.value,
                "muted": self.pipeline.muted, "quiet": self.quiet})
        with self._quietly(self.quiet > 0):
            self._track_all(self.judge.start())
        self._arm_flush_timer()
        self.visit.ensure()
        # The page's own events (its view first) go at once when the visit is known, not with the first timer:
        # they waited for Python already (a return visit's first event came 2 s after ready).
        if self.pipeline.consent is Consent.GRANTED and self.pipeline.pending():
            self.flush("ready")
        self._spawn(self.adoption.run())
        self.seams.post({"t": "ready", "v": LIB_VERSION})
        self.debug(f"ready (v{LIB_VERSION}, page {self.judge.page.page_type}, pageview {self.judge.pageview_id})")
        self._after()

    def handle(self, message: Any) -> None:
        """One message from the sensor; a malformed one is reported and ignored."""
        if self.stopped or not isinstance(message, dict):
            return
        handler = self._handlers.get(message.get("t"))
        try:
            if handler is None:
                self.error(f"unknown message {str(message.get('t'))[:40]!r} from the sensor")
            else:
                handler(self, message)
        finally:
            self._after()

    def _on_re(self, message: Mapping[str, Any]) -> None:
        future = self._rpc.pop(message.get("n"), None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message.get("v"))

    def _on_fail(self, message: Mapping[str, Any]) -> None:
        self.pipeline.stats["persist_failed"] += 1

    def _on_bye(self, message: Mapping[str, Any]) -> None:
        """stop(): the page lets go of the worker (the script destroys Python and the page terminates it)."""

    #: Each message kind of the sensor (tracker/core/protocol.py, TO_WORKER; `boot` starts the tracker; the snapshot
    #: maker's `make-snapshot` and `made` are worker.mjs's own) and its handler.
    _handlers: dict[Any, Callable[[WorkerTracker, Mapping[str, Any]], None]] = {
        "facts": lambda self, m: self._facts(m.get("f")),
        "ans": lambda self, m: self._answers(m.get("a")),
        "hide": lambda self, m: self._hidden(m.get("sent"), m.get("dup")),
        "taken": lambda self, m: self._taken(m.get("upto"), m.get("at")),
        "ask": lambda self, m: self._ask(m.get("n"), m.get("m")),
        "re": _on_re,
        "fail": _on_fail,
        "bye": _on_bye,
    }

    # -- facts ---------------------------------------------------------------------------

    def _facts(self, facts: Any) -> None:
        for fact in facts if isinstance(facts, list) else []:
            if not isinstance(fact, dict):
                continue
            seq = fact.get("s")
            if isinstance(seq, int) and seq > self.upto:
                self.upto = seq
            if self.channel is not None:
                self.channel.fact(fact)
            with self._quietly(isinstance(seq, int) and seq <= self.quiet):
                if fact.get("k") == "call":
                    ts = fact.get("t")
                    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                        self._track_all(self.judge.due(float(ts)))  # views that fell due before the call come first
                    self._call(fact)
                    continue
                try:
                    emits = self.judge.apply(fact)
                except FactError as exc:
                    self.error(f"fact ignored: {exc}")
                    continue
                self._track_all(emits)
            if fact.get("k") in ("add", "chg", "ajax", "post") and emits:
                self.flush("cart")
        self._arm_view_timer()

    @contextlib.contextmanager
    def _quietly(self, quiet: bool) -> Iterator[None]:
        """Judge without tracking: what is judged here was tracked by another page already."""
        before, self._muted_track = self._muted_track, self._muted_track or quiet
        try:
            yield
        finally:
            self._muted_track = before

    def _call(self, fact: Mapping[str, Any], page: Any = None) -> None:
        """An API call fact of this page, or (`page` given) one replayed from a gone page's record: applied in
        the order made, except an identity or consent change older than the latest this tracker applied."""
        method = fact.get("m")
        args = self._call_args(fact, report=page is None)
        if args is None:
            return
        raw_t = fact.get("t")
        at = float(raw_t) if isinstance(raw_t, (int, float)) and not isinstance(raw_t, bool) else None
        group = {"consent": "consent", "identify": "identity", "reset": "identity"}.get(str(method))
        stale = False
        if group is not None and at is not None:
            stale = at < self._changed_at[group]
            if not stale:
                self._changed_at[group] = at
        if method == "track":
            self._track_call(fact, args, page)
        elif method == "consent":
            if not stale:
                self.set_consent(bool(args[0]) if args else False)
        elif method == "identify":
            self.identify(args[0] if args else None, args[1] if len(args) > 1 else None, raw_t, page=page,
                          apply=not stale)
        elif method == "reset":
            if not stale:
                self.reset(at if page is not None else None)
        elif method == "refused":  # the worker's script refused the call before Python saw it
            self.pipeline.stats["rejected"] += 1
            if self.channel is not None:
                self.channel.refused(f"{str(args[0])[:40] if args else 'a call'}()",
                                     str(args[1])[:200] if len(args) > 1 else "refused")
            self.error(f"{str(args[0])[:40] if args else 'a call'}() rejected: "
                       f"{str(args[1])[:200] if len(args) > 1 else 'refused'}")
        else:
            self.error(f"unknown call {str(method)[:40]!r}")

    def _call_args(self, fact: Mapping[str, Any], *, report: bool = True) -> list[Any] | None:
        """An API call fact's arguments (see `call_args`), or None when they are refused: counted as rejected
        and, when `report`, said on the console."""
        try:
            return call_args(fact)
        except TrackError as exc:
            self.pipeline.stats["rejected"] += 1
            if report:
                self.error(f"{str(fact.get('m'))[:40]}() rejected: {exc}")
            if self.channel is not None:
                self.channel.refused(f"{str(fact.get('m'))[:40]}()", str(exc))
            return None

    def _track_call(self, fact: Mapping[str, Any], args: list[Any], page: Any = None) -> None:
        """A `track(name, data, customData)` call fact, tracked with its own time and the sensor's event id."""
        name, data, custom = (args + [None, None, None])[:3]
        self.track(name, data, custom, timestamp_ms=fact.get("t"), event_id=fact.get("e"), page=page)

    def track(self, name: Any, data: Any = None, custom: Any = None, *, timestamp_ms: Any = None,
              event_id: Any = None, page: Any = None) -> str | None:
        """Track an event by Glood name; bad input is reported on the console and returns None."""
        if self._muted_track:
            return None
        page = page or self.judge.page
        customer = self.customer_id
        if customer and not page.customer_id:
            page = replace(page, customer_id=customer)
        try:
            ts = int(timestamp_ms) if isinstance(timestamp_ms, (int, float)) and not isinstance(timestamp_ms, bool) \
                else None
            event = self.pipeline.track(name, data, custom, page=page, timestamp_ms=ts,
                                        event_id=event_id if isinstance(event_id, str) else None)
        except TrackError as exc:
            self.error(f"track({str(name)[:80]!r}) rejected: {exc}")
            if self.channel is not None:
                self.channel.refused(f"track({str(name)[:80]!r})", str(exc))
            return None
        if self.channel is not None and event is not None:
            self.channel.event(event)
        if event is None:
            self.debug(f"{name} not tracked: consent denied")
            return None
        self.debug(f"{event.name} {json.dumps(event.custom_data or event.data)[:300]}")
        return event.id

    def _track_all(self, emits: list[Emit], page: Any = None) -> None:
        for emit in emits:
            data = emit.data
            if emit.name == "page_viewed" and self.attribution is not None and page is None:
                data = {**data, "attribution": self.attribution.to_json()}
            self.track(emit.name, data, emit.custom, timestamp_ms=emit.timestamp_ms, event_id=emit.id, page=page)

    def _on_view_timer(self) -> None:
        self._view_timer = None
        if not self.stopped:
            self._track_all(self.judge.due(self.seams.clock.now_ms()))
            self._arm_view_timer()
            self._after()

    def _arm_view_timer(self) -> None:
        if self._view_timer is not None:
            self._view_timer.cancel()
            self._view_timer = None
        deadline = self.judge.next_deadline()
        if deadline is not None and not self.stopped:
            delay = max(0.0, deadline - self.seams.clock.now_ms()) + 1
            self._view_timer = self.seams.later(delay, self._on_view_timer)

    # -- identity ------------------------------------------------------------------------

    def identify(self, customer_id: Any, traits: Any = None, timestamp_ms: Any = None, *, page: Any = None,
                 apply: bool = True) -> None:
        """A logged-in customer: their id goes with later events and the next init (kept in memory while consent
        is pending, stored once granted); `glood:customer_preference` carries it with the traits. `apply`
        False: only the event (a replayed call older than the visitor's latest identity change)."""
        if isinstance(customer_id, (int, float)) and not isinstance(customer_id, bool):
            customer_id = str(int(customer_id))
        if not isinstance(customer_id, str) or not customer_id or (traits is not None and not isinstance(traits, dict)):
            self.pipeline.stats["rejected"] += 1
            self.error("identify(customer_id, traits) rejected: customer_id must be a non-empty string and "
                       "traits an object")
            return
        if apply and self.pipeline.consent is not Consent.DENIED:
            self.customer_id = customer_id
            self.pipeline.storage.set(CUSTOMER_KEY, json.dumps({"id": customer_id}))  # not without consent
        self.track("glood:customer_preference", {"customer_id": customer_id, "traits": traits or {}},
                   timestamp_ms=timestamp_ms, page=page)

    def reset(self, at_ms: float | None = None) -> None:
        """Logout: new anonymous ids, a new visit, no customer; what is queued and was made before (before
        `at_ms`, for a reset replayed from a gone page) goes under the ids, visit and token it was made under."""
        self.pipeline.reset_identity(at_ms)
        self.pipeline.storage.remove(CUSTOMER_KEY)
        self.customer_id = None
        self.pipeline.storage.remove(ATTRIBUTION_KEY)
        self.visit.ensure()

    # -- consent -------------------------------------------------------------------------

    def set_consent(self, granted: bool) -> None:
        """The visitor's analytics consent: grant sends what waited in memory; denial drops it all."""
        if granted and self.config.honor_gpc and self.signals.gpc:
            self.debug("consent granted, but Global Privacy Control is on: analytics stay denied")
            granted = False
        self.pipeline.set_consent(granted)
        if not granted:
            self.pipeline.storage.remove(CUSTOMER_KEY)
            self.customer_id = None
            self.pipeline.storage.remove(ATTRIBUTION_KEY)
        if granted:
            if self.customer_id:  # identify() while consent was pending: kept in memory until now
                self.pipeline.storage.set(CUSTOMER_KEY, json.dumps({"id": self.customer_id}))
            self.visit.ensure()
            self.flush("consent")

    # -- sending -------------------------------------------------------------------------

    def flush(self, reason: str) -> int:
        report = self.pipeline.flush(reason)
        if self.pipeline.awaits_visit():
            self.visit.ensure()
        return len(report.awaiting) + report.events_sent

    def _arm_flush_timer(self) -> None:
        if not self.stopped:
            self._flush_timer = self.seams.later(self.config.flush_interval_ms, self._on_flush_timer)

    def _on_flush_timer(self) -> None:
        if self.stopped:
            return
        if self.pipeline.pending():
            self.flush("timer")
        self._arm_flush_timer()
        self._after()

    def _answers(self, answers: Any) -> None:
        now = self.seams.clock.now_ms()
        for item in answers if isinstance(answers, list) else []:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int)):
                continue
            request, status, retry_after = item
            status = status if isinstance(status, int) and not isinstance(status, bool) else None
            delay = parse_retry_after(retry_after if isinstance(retry_after, str) else None, now)
            self.transport.answer(request, status, delay)

    def _hidden(self, sent: Any, unanswered: Any) -> None:
        """The sensor sent bodies of ours with `sendBeacon` as the page was hidden: those events are out.
        `unanswered` of them were in flight by the worker's own fetch, answer unseen: perhaps sent twice."""
        for item in sent if isinstance(sent, list) else []:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[1], list):
                self.pipeline.delivered(str(item[0]), [i for i in item[1] if isinstance(i, str)])
        if isinstance(unanswered, int) and unanswered > 0:
            self.pipeline.stats["resent_unanswered"] += unanswered

    def _taken(self, upto: Any, at: Any) -> None:
        """This page was restored from the back/forward cache after another page took the record it left: the
        events made until it left (`at`) and the facts up to `upto` went with it (docs/design.md §6)."""
        if not (isinstance(upto, int) and isinstance(at, (int, float))) or isinstance(at, bool):
            self.error("malformed taken message")
            return
        self.quiet = max(self.quiet, upto)
        dropped = self.pipeline.taken(float(at))
        self.debug(f"this page's record was taken by another page: {dropped} queued event(s) went with it")

    def _kick(self) -> None:
        """A bulk request was answered: send what waits next, once for the answers of one turn."""
        if self._kick_timer is None and not self.stopped:
            self._kick_timer = self.seams.later(0, self._kicked)

    def _kicked(self) -> None:
        self._kick_timer = None
        if not self.stopped:
            self._after()

    def _after(self) -> None:
        """After any change: a full batch is flushed (once per message, however many events a burst brought;
        answers free the keepalive quota for the next), requests go now, and the sensor's copy of what to
        send follows shortly."""
        if not self.stopped and self.pipeline.pending() >= self.config.max_batch:
            self.flush("size")
        outgoing = self.transport.take()
        if outgoing:
            self.seams.post({"t": "send", "b": outgoing})
        if self._hold_timer is None and not self.stopped:
            delay: float = HOLD_DELAY_MS
            if self.pipeline.pending() > BURST_EVENTS:
                delay = max(delay, self._last_hold + HOLD_BURST_GAP_MS - self.seams.clock.monotonic_ms())
            self._hold_timer = self.seams.later(delay, self._post_hold)

    def _post_hold(self) -> None:
        """What the sensor needs if the page goes now: bodies for every queued event, storage writes,
        the judge's state and the last fact it reflects (docs/design.md §6)."""
        self._hold_timer = None
        self._last_hold = self.seams.clock.monotonic_ms()
        self.pipeline.persist_if_dirty()
        standby = self.pipeline.standby()
        bulk = self.pipeline.bulk_ids
        bodies = [{"d": b.destination, "u": b.url, "x": b.payload.decode("utf-8"),
                   "h": dict(b.headers) if b.headers else None, "i": list(b.event_ids),
                   "f": any(f"{b.destination} {i}" in bulk for i in b.event_ids)} for b in standby]
        # `fb`: events in flight by the worker's own fetch that these bodies do not carry: the stored backlog keeps
        # them, so the next page sends them again if this page goes before their answer (counted as doubles).
        carried_bulk = sum(f"{b.destination} {i}" in bulk for b in standby for i in b.event_ids)
        # `all`: these bodies carry every stored event (beacons, whose delivery needs no answer), so once they
        # are sent the stored backlog can go.
        carried = sum(len(b.event_ids) for b in standby if not b.headers)
        queued = sum(len(o) for o in self.pipeline.outboxes.values())
        if self.channel is not None:
            self.channel.send(DebugKind.STATE, {**self.status(), "user_id": self.pipeline.identity.user_id})
        self.seams.post({"t": "hold", "upto": self.upto, "b": bodies, "w": self.storage.take_writes(),
                         "st": self.judge.snapshot(), "c": self.pipeline.consent, "all": carried == queued,
                         "ack": self.pipeline.take_acked(), "fb": len(bulk) - carried_bulk})

    # -- questions from the page -----------------------------------------------------------

    def _ask(self, request: Any, method: Any) -> None:
        """Answer a question of the page's API; the sensor's copy of what to send is brought up to date first,
        so that whoever asked sees storage as the tracker left it."""
        if method == "flush":
            value: Any = self.flush("manual")
        elif method == "pending":
            value = self.pipeline.pending()
        elif method == "status":
            value = self.status()
        elif method == "stop":
            value = self.stop()
        else:
            value = None
            self.error(f"unknown question {str(method)[:40]!r}")
        if not self.stopped:
            outgoing = self.transport.take()
            if outgoing:
                self.seams.post({"t": "send", "b": outgoing})
            if self._hold_timer is not None:
                self._hold_timer.cancel()
            self._post_hold()
        self.seams.post({"t": "reply", "n": request, "v": value})

    def status(self) -> dict[str, Any]:
        """What the tracker holds, for people and tests: consent, queue, ids, counters."""
        status = {**self.pipeline.status(), "tab_id": self.page_id, "pageview_id": self.judge.pageview_id,
                  "facts": self.upto, "adopted": self.adopted}
        if self.boot_info is not None:
            status["boot"] = self.boot_info()  # how the worker script started Python (worker.mjs)
        return status

    def stop(self) -> bool:
        """Flush what can go, post the last hold, and stop every timer and task."""
        if self.stopped:
            return False
        self.pipeline.flush("hidden")
        outgoing = self.transport.take()
        if outgoing:
            self.seams.post({"t": "send", "b": outgoing})
        self._post_hold()
        self.stopped = True
        for timer in (self._hold_timer, self._view_timer, self._flush_timer):
            if timer is not None:
                timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        return True

    # -- helpers: tasks and questions to the sensor ------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def ask_sensor(self, method: str, **fields: Any) -> Any:
        """A question to the sensor (a fresh storage snapshot, writes applied) and its answer."""
        self._rpc_next += 1
        future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        self._rpc[self._rpc_next] = future
        self.seams.post({"t": method, "n": self._rpc_next, **fields})
        return await future

    async def _sleep(self, ms: float) -> None:
        future: asyncio.Future[None] = asyncio.get_event_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.seams.later(ms, wake)
        await future

    # -- earlier pages ---------------------------------------------------------------------

    @property
    def adopted(self) -> bool:
        """True once adoption of earlier pages' records is over (whatever it found)."""
        return self.adoption.over

    def _storage_refreshed(self) -> None:
        self.customer_id = stored_customer(self.storage)  # another tab may have identified or reset

    def _adopted(self, restored: int) -> None:
        if restored and self.pipeline.session.active:
            self.flush("restore")
        self._after()

    def _visit_started(self, answer: Mapping[str, Any]) -> None:
        if self.attribution is not None and self.attribution.visit_id is None:
            self.attribution = self.attribution.bind(self.pipeline.storage, answer["visit_id"])
        if self.pipeline.pending():
            self.flush("session")

    def _judge_record(self, record: Mapping[str, Any]) -> int:
        """Judge the facts an earlier page's sensor kept (its worker never did), from the state it had."""
        try:
            boot = PageBoot.from_message(record["boot"])
        except FactError as exc:
            self.pipeline.stats["dropped_corrupt"] += 1
            self.debug(f"stored facts ignored: {exc}")
            return 0
        judge = PageJudge.restore(boot, record.get("st"), ratio=self.config.view_ratio,
                                  duration_ms=self.config.view_duration_ms)
        before = self.pipeline.stats["tracked"]
        raw_quiet = record.get("quiet")
        quiet = raw_quiet if isinstance(raw_quiet, int) else 0
        with self._quietly(quiet > 0):
            self._track_all(judge.start(), judge.page)
        for fact in record["f"]:
            if not isinstance(fact, dict):
                continue
            seq = fact.get("s")
            with self._quietly(isinstance(seq, int) and seq <= quiet):
                if fact.get("k") == "call":  # every call, in the order made (identify, reset, consent too)
                    self._call(fact, judge.page)
                    continue
                try:
                    self._track_all(judge.apply(fact), judge.page)
                except FactError:
                    self.pipeline.stats["dropped_corrupt"] += 1
        self._track_all(judge.due(float(record["seen"])), judge.page)
        dropped = record.get("x")
        if isinstance(dropped, int) and dropped > 0:
            self.pipeline.stats["dropped_overflow"] += dropped
        return self.pipeline.stats["tracked"] - before

"""The tracker in the page: wires the core to the DOM, the network and the public JavaScript API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import js

from ..core.cart import removed_line
from ..core.config import Config, ConfigError
from ..core.encoders import LIB_VERSION, json_bytes
from ..core.events import Event, SectionTrack, TrackError
from ..core.ids import uuid4_ids
from ..core.pipeline import Pipeline
from ..core.retry import Backoff
from .dom import CART_ADD_FORM, CART_CHANGE_FORM, PRODUCT_SELECTOR, SECTION_SELECTOR, PageData, cart_add, closest, \
    cart_change, js_to_python, page_context, page_data, product_ref, read_json_tag, section_track
from .ffi import Bindings, js_object, nullable
from .observers import SectionWatcher
from .platform import BeaconTransport, BrowserClock, WebStorage

__all__ = ["BrowserTracker", "start", "read_config"]

PAGE_EVENTS = {"product": "product_viewed", "collection": "collection_viewed", "cart": "cart_viewed"}
INIT_ATTEMPTS_BEFORE_FALLBACK = 3
#: sessionStorage key: the id of this tab's latest page (its stored backlog is ours to adopt).
TAB_KEY = "glood_tracker:tab"
#: Web Locks: each page holds `<prefix><tab id>` while alive; adoption runs under ADOPT_LOCK.
TAB_LOCK_PREFIX = "glood_tracker:tab:"
ADOPT_LOCK = "glood_tracker:adopt"
PERSIST_DELAY_MS = 100


def shopify_consent() -> str | None:
    """Consent from Shopify's Customer Privacy API, if the page has it: granted, denied or pending."""
    shopify = nullable(getattr(js.window, "Shopify", None))
    privacy = nullable(getattr(shopify, "customerPrivacy", None)) if shopify is not None else None
    if privacy is None:
        return None
    try:
        if bool(privacy.analyticsProcessingAllowed()):
            return "granted"
        visitor = nullable(privacy.currentVisitorConsent())
        analytics = str(nullable(getattr(visitor, "analytics", None)) or "") if visitor is not None else ""
    except Exception as exc:  # noqa: BLE001 - a half-loaded or unusual privacy API
        js.console.warn(f"[glood-tracker] customer privacy API unreadable ({exc}); waiting for consent")
        return "pending"
    return "denied" if analytics == "no" else "pending"


def _log(message: str) -> None:
    js.console.log(f"[glood-tracker] {message}")


def read_config() -> Config:
    """The JSON tag `#glood-tracker-config`, overridden by `window.gloodTrackerConfig` and `?glood_debug=1`."""
    raw = read_json_tag("glood-tracker-config")
    overrides = getattr(js.window, "gloodTrackerConfig", None)
    if overrides is not None:
        extra = js_to_python(overrides)
        if not isinstance(extra, dict):
            raise ConfigError("window.gloodTrackerConfig must be an object")
        raw.update(extra)
    if str(js.URLSearchParams.new(js.window.location.search).get("glood_debug")) == "1":
        raw["debug"] = True
    return Config.from_mapping(raw)


class BrowserTracker:
    """One tracker per page. `start()` builds and boots it; `stop()` releases every JavaScript hook."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bindings = Bindings()
        self.clock = BrowserClock()
        self.tab_id = uuid4_ids()
        tabs = WebStorage("sessionStorage")
        self.previous_tab = tabs.get(TAB_KEY)
        tabs.set(TAB_KEY, self.tab_id)
        self.pipeline = Pipeline(config, BeaconTransport(), clock=self.clock, storage=WebStorage("localStorage"),
                                 log=_log, tab_id=self.tab_id, consent=shopify_consent())
        self._persist_timer = self.bindings.timer(self.pipeline.persist_if_dirty, "persist timer")
        self._release_tab_lock: Any = None
        self.page_data: PageData = page_data()
        self.page = page_context(self.page_data, uuid4_ids())
        self.api = self._api_object()
        self.watcher = SectionWatcher(
            self.bindings, self.clock, ratio=config.view_ratio, duration_ms=config.view_duration_ms,
            on_render=lambda track: self._section_event("glood:section:render", track),
            on_view=lambda track: self._section_event("glood:section:view", track),
        )
        self._init_task: Any = None
        self._init_adoption: Any = None
        self.stopped = False

    # -- boot --------------------------------------------------------------------------

    def boot(self) -> None:
        self._standard_page_events()
        self._replay_stub_queue()
        self.watcher.start()
        self.bindings.listen(js.document, "click", self._on_click, capture=True)
        self.bindings.listen(js.document, "submit", self._on_submit, capture=True)
        self.bindings.listen(js.document, "visibilitychange", self._on_visibility)
        self.bindings.listen(js.window, "pagehide", lambda _e: self.flush("pagehide"))
        self.bindings.listen(js.document, "visitorConsentCollected", self._on_consent_collected)
        self.bindings.interval(self._on_interval, self.config.flush_interval_ms, "flush timer")
        self._adopt_earlier_pages()
        self._ensure_session()
        self.api.ready = True
        js.document.documentElement.dataset.gloodTracker = "ready"
        js.document.dispatchEvent(js.CustomEvent.new("glood:tracker:ready"))
        self._debug(f"ready (v{LIB_VERSION}, page {self.page.page_type}, pageview {self.page.pageview_id})")

    def _standard_page_events(self) -> None:
        started = int(js.performance.timeOrigin)
        self._emit("page_viewed", {"page_type": self.page.page_type, "url": self.page.url,
                                   "title": str(js.document.title), "referrer": str(js.document.referrer)},
                   timestamp_ms=started)
        follow_up = PAGE_EVENTS.get(self.page.page_type)
        if follow_up is not None:
            key = {"product_viewed": "product", "collection_viewed": "collection", "cart_viewed": "cart"}[follow_up]
            self._emit(follow_up, {key: self.page_data.get(key)}, timestamp_ms=started)

    def _replay_stub_queue(self) -> None:
        queued = nullable(getattr(self.api, "q", None))
        calls = js_to_python(queued) if queued is not None else []
        self.api.q = js.Array.new()
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, list) or len(call) < 2:
                js.console.error(f"[glood-tracker] ignoring malformed queued call {call!r}")
                continue
            timestamp, name, *rest = call
            data = rest[0] if rest else None
            custom = rest[1] if len(rest) > 1 else None
            self.track(name, data, custom, timestamp_ms=timestamp if isinstance(timestamp, (int, float)) else None)

    def _api_object(self) -> Any:
        api = nullable(getattr(js.window, "gloodTracker", None))
        if api is None:
            api = js.Object.new()
            js.window.gloodTracker = api
        api.track = self.bindings.proxy(self._js_track, "gloodTracker.track")
        api.flush = self.bindings.proxy(lambda: self.flush("manual").events_sent, "gloodTracker.flush")
        api.stop = self.bindings.proxy(self.stop, "gloodTracker.stop")
        api.pending = self.bindings.proxy(lambda: self.pipeline.pending(), "gloodTracker.pending")
        api.setConsent = self.bindings.proxy(lambda granted=None: self.set_consent(bool(granted)),
                                             "gloodTracker.setConsent")
        api.status = self.bindings.proxy(lambda: js_object(self.status()), "gloodTracker.status")
        api.version = LIB_VERSION
        api.ready = False
        return api

    # -- public API -----------------------------------------------------------------------

    def track(self, name: Any, data: Any = None, custom_data: Any = None, *,
              timestamp_ms: int | None = None) -> str | None:
        """Track an event by Glood name; bad input is reported on the console and returns None."""
        try:
            event = self.pipeline.track(name, data, custom_data, page=self.page, timestamp_ms=timestamp_ms)
        except TrackError as exc:
            js.console.error(f"[glood-tracker] track({name!r}) rejected: {exc}")
            return None
        if event is None:
            self._debug(f"{name} not tracked: consent denied")
            return None
        self._after_track(event)
        if not self.stopped:
            self._persist_timer.schedule(PERSIST_DELAY_MS)
        return event.id

    def set_consent(self, granted: bool) -> None:
        """The visitor's analytics consent: grant sends what waited in memory; denial drops it all."""
        self.pipeline.set_consent(granted)
        if granted:
            self._ensure_session()
            self.flush("consent")

    def status(self) -> dict[str, Any]:
        """What the tracker holds, for people and tests: consent, queue, ids, counters."""
        return {"consent": self.pipeline.consent, "pending": self.pipeline.pending(),
                "in_flight": max(o.in_flight for o in self.pipeline.outboxes.values()),
                "tab_id": self.tab_id, "client_id": self.pipeline.identity.client_id,
                "session_id": self.pipeline.session.visit_id, "stats": dict(self.pipeline.stats)}

    def _js_track(self, name: Any = None, data: Any = None, custom_data: Any = None) -> str | None:
        try:
            args = [js_to_python(name), js_to_python(data), js_to_python(custom_data)]
        except ValueError as exc:
            js.console.error(f"[glood-tracker] track() rejected: {exc}")
            return None
        return self.track(*args)

    def flush(self, reason: str) -> Any:
        report = self.pipeline.flush(reason)
        if self.pipeline.needs_session and self.pipeline.pending("glood"):
            self._ensure_session()
        return report

    def stop(self) -> None:
        """Flush what can go, then remove every listener, observer, timer and proxy."""
        if self.stopped:
            return
        self.stopped = True
        self.pipeline.flush("hidden")
        self.api.ready = False
        js.document.documentElement.dataset.gloodTracker = "stopped"
        if self._release_tab_lock is not None:
            self._release_tab_lock()
        self.bindings.destroy()
        # The API's Python functions are gone: plain JavaScript stand-ins keep late callers from throwing.
        for name, answer in (("track", "null"), ("flush", "0"), ("pending", "0"), ("setConsent", "undefined"),
                             ("status", "null"), ("stop", "undefined")):
            setattr(self.api, name, js.Function.new(f"return {answer};"))

    # -- DOM events ---------------------------------------------------------------------

    def _emit(self, name: str, data: dict[str, Any] | None = None, custom: dict[str, Any] | None = None,
              *, timestamp_ms: int | None = None) -> None:
        self.track(name, data, custom, timestamp_ms=timestamp_ms)

    def _section_event(self, name: str, track: SectionTrack) -> None:
        self._emit(name, {}, {"track": track.to_json()})

    def _after_track(self, event: Event) -> None:
        if self.config.debug:
            self._debug(f"{event.name} {json_bytes(event.custom_data or event.data).decode()[:300]}")

    def _on_click(self, event: Any) -> None:
        target = nullable(event.target)
        product_el = closest(target, PRODUCT_SELECTOR)
        if product_el is None or closest(target, CART_ADD_FORM) is not None:
            return
        section_el = closest(product_el, SECTION_SELECTOR)
        if section_el is None:
            return
        self._section_event("glood:section:click", section_track(section_el, (product_ref(product_el),)))

    def _on_submit(self, event: Any) -> None:
        form = nullable(event.target)
        if form is None or getattr(form, "matches", None) is None:
            return
        if form.matches(CART_CHANGE_FORM):
            removed = removed_line(self.page_data.get("cart"), cart_change(form))
            if removed is not None:
                self._emit("product_removed_from_cart", removed)
                self.flush("cart_change")
            return
        if not form.matches(CART_ADD_FORM):
            return
        added = cart_add(form)
        if added.section is not None:
            self._section_event("glood:section:add_to_cart", added.section)
        self._emit("product_added_to_cart", {
            "cartLine": {"merchandise": {"id": added.variant_id, "product": {"id": added.product_id}},
                         "quantity": added.quantity}})
        self.flush("cart_add")

    def _on_visibility(self, _event: Any) -> None:
        if str(js.document.visibilityState) == "hidden":
            self.flush("hidden")

    def _on_interval(self) -> None:
        if self.pipeline.pending():
            self.flush("timer")

    def _on_consent_collected(self, event: Any) -> None:
        detail = nullable(getattr(event, "detail", None))
        allowed = nullable(getattr(detail, "analyticsAllowed", None)) if detail is not None else None
        if allowed is None:
            consent = shopify_consent()
            if consent is None or consent == "pending":
                return
            allowed = consent == "granted"
        self.set_consent(bool(allowed))

    # -- earlier pages' backlog -------------------------------------------------------------

    def _adopt_earlier_pages(self) -> None:
        """Send what earlier pages stored and could not send: this tab's previous page, and closed tabs.

        With Web Locks each page holds a lock named after its tab id for its lifetime, so a page
        is gone exactly when its lock is free; the claim itself runs under one shared lock so two
        tabs never take the same backlog. Without Web Locks, staleness decides (Journal.claim).
        """
        locks = nullable(getattr(js.navigator, "locks", None))
        if locks is None:
            self._adopt(None)
            return

        def keep_lock(_lock: Any) -> Any:
            return js.Promise.new(self.bindings.proxy(self._hold_tab_lock, "tab lock"))

        locks.request(TAB_LOCK_PREFIX + self.tab_id, self.bindings.proxy(keep_lock, "tab lock"))
        self._init_adoption = asyncio.ensure_future(self._adopt_with_locks(locks))

    def _hold_tab_lock(self, resolve: Any, _reject: Any) -> None:
        self._release_tab_lock = resolve

    async def _adopt_with_locks(self, locks: Any) -> None:
        try:
            snapshot = await locks.query()
            names = [nullable(getattr(lock, "name", None)) for group in (snapshot.held, snapshot.pending)
                     for lock in group]
            alive = {str(n)[len(TAB_LOCK_PREFIX):] for n in names
                     if n is not None and str(n).startswith(TAB_LOCK_PREFIX)}
            alive.add(self.tab_id)
            await locks.request(ADOPT_LOCK, self.bindings.proxy(lambda _lock: self._adopt(alive), "adopt"))
        except Exception as exc:  # noqa: BLE001 - Web Locks refused (e.g. an opaque origin)
            self._debug(f"Web Locks unavailable ({exc}); adopting stale backlogs only")
            self._adopt(None)

    def _adopt(self, alive: Any) -> None:
        if self.stopped:
            return
        if self.pipeline.adopt(alive, self.previous_tab) and self.pipeline.session.active:
            self.flush("restore")

    # -- session --------------------------------------------------------------------------

    def _ensure_session(self) -> None:
        if not self.pipeline.needs_session or (self._init_task is not None and not self._init_task.done()):
            return
        self._init_task = asyncio.ensure_future(self._init_session())

    async def _init_session(self) -> None:
        backoff = Backoff(base_ms=500, cap_ms=30_000)
        attempt = 0
        while not self.stopped and self.pipeline.needs_session:
            attempt += 1
            try:
                visit_id = await self._request_visit()
            except Exception as exc:  # noqa: BLE001 - network errors, bad answers
                js.console.warn(f"[glood-tracker] session init failed (attempt {attempt}): {exc}")
                if attempt >= INIT_ATTEMPTS_BEFORE_FALLBACK:
                    self.pipeline.session_unavailable = True
                await asyncio.sleep(backoff.delay_ms(attempt) / 1000)
                continue
            self.pipeline.start_session(visit_id)
            self.pipeline.session_unavailable = False
            if self.pipeline.pending():
                self.flush("session")

    async def _request_visit(self) -> str:
        body = {"shop_domain": self.config.shop_domain, "client_id": self.pipeline.identity.client_id,
                "user_id": self.pipeline.identity.user_id, "channel": self.config.channel,
                "page_url": self.page.url}
        headers = {"Content-Type": "application/json"}
        if self.config.glood_token:
            headers.update({"Authorization": f"Bearer {self.config.glood_token}", "x-shop": self.config.shop_domain})
        response = await js.fetch(self.config.glood_init_url, js_object({
            "method": "POST", "headers": headers, "body": json.dumps(body), "credentials": "omit"}))
        if not response.ok:
            raise RuntimeError(f"{self.config.glood_init_url} answered {response.status}")
        answer = json.loads(str(await response.text()))
        visit_id = answer.get("visit_id") if isinstance(answer, dict) else None
        if not isinstance(visit_id, str) or not visit_id:
            raise RuntimeError("init answer has no visit_id")
        return visit_id

    def _debug(self, message: str) -> None:
        if self.config.debug:
            _log(message)


def start() -> BrowserTracker | None:
    """Read the page's config and boot the tracker; a bad config is reported and nothing is tracked."""
    try:
        config = read_config()
    except (ConfigError, ValueError) as exc:
        js.console.error(f"[glood-tracker] not started: {exc}")
        js.document.documentElement.dataset.gloodTracker = "error"
        return None
    tracker = BrowserTracker(config)
    tracker.boot()
    return tracker

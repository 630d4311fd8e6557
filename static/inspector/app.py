"""The inspector: what the tracker sees on this page, computed by `tracker.core` itself (docs/inspector.md).

It runs under PyScript on the page's main thread, with the tracker's own wheel installed by micropip, and reads
the worker's debug messages (`dbg`, tracker/core/debugchannel.py) that relay.js hands to the loader
(`window.gloodInspector`). Each watched section is outlined with live badges; a timeline lists what happened from
the page's first moment; the ids, consent and boot timings sit on top. The share visible and the view timer are
the core's viewability rule fed with the sensor's facts; each body is checked against the core's encoders and
event rules (the collectors' JSON Schemas need `jsonschema`, which the browser runtime does not have).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy, jsnull  # type: ignore[import-not-found]

from tracker.core.config import Config, ConfigError
from tracker.core.encoders import genlook_item, glood_body
from tracker.core.events import EVENT_NAMES, Event, PageContext, TrackError, check_json_object, event_type
from tracker.core.facts import visible_share
from tracker.core.session import Identity
from tracker.core.viewability import Viewability

document = js.document
SECTION_EVENTS = {"glood:section:render": "rendered", "glood:section:view": "viewable",
                  "glood:section:click": "clicked", "glood:section:add_to_cart": "added"}
TICK_MS = 200


# -- the model ------------------------------------------------------------------------------------------------

@dataclass
class Section:
    """A watched section as the sensor saw it; its share visible and view timer by the core's rule."""

    key: int
    serve_id: str
    name: str
    rule: Viewability[int]
    share: float = 0.0
    gone: bool = False


@dataclass
class Judged:
    """An event as the worker judged it, and what became of it at each destination."""

    id: str
    name: str
    ts: float
    pv: str
    serve_id: str | None
    product: str | None
    raw: dict[str, Any]
    delivery: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    row: Any = None

    def event(self) -> Event:
        page = self.raw.get("page") or {}
        return Event(id=self.id, name=self.name, timestamp_ms=int(self.ts),
                     page=PageContext(**{k: v for k, v in page.items() if k in PageContext.__dataclass_fields__}),
                     data=self.raw.get("data") or {}, custom_data=self.raw.get("custom") or {})


@dataclass
class PageView:
    pv: str
    origin: float
    url: str
    flags: dict[str, dict[str, int]] = field(default_factory=dict)  # serve id -> rendered/viewable/clicked/added


def check_body(destination: str, text: str, judged: dict[str, Judged], config: Config | None) -> dict[str, list[str]]:
    """What is wrong with a body, by event id ("" for the body as a whole), by the core's own rules: the event
    names and types, JSON objects, the size limit, and the encoders' output for the event as judged."""
    problems: dict[str, list[str]] = {}

    def say(event_id: str, message: str) -> None:
        problems.setdefault(event_id, []).append(message)

    if config is not None and len(text.encode("utf-8")) > config.max_body_bytes:
        say("", f"{len(text.encode('utf-8'))} bytes: more than max_body_bytes ({config.max_body_bytes})")
    try:
        body = json.loads(text)
    except ValueError as exc:
        say("", f"not JSON: {exc}")
        return problems
    if destination == "glood":
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        event_id = str(event.get("id") or "")
        name = event.get("name")
        if not event_id:
            say("", "event.id is missing")
        if name not in EVENT_NAMES:
            say(event_id, f"event.name {name!r} is not one of Glood's event names")
        elif event.get("type") != event_type(name):
            say(event_id, f"event.type {event.get('type')!r}, expected {event_type(name)!r}")
        for key in ("data", "customData"):
            try:
                check_json_object(event.get(key), key)
            except TrackError as exc:
                say(event_id, str(exc))
        if not isinstance(body.get("session_id"), str) or not body.get("session_id"):
            say(event_id, "session_id is missing")
        known = judged.get(event_id)
        if known is not None and config is not None and isinstance(body.get("session_id"), str):
            identity = Identity(str(body.get("user_id") or ""), str(body.get("client_id") or ""))
            expected = glood_body(known.event(), session_id=body["session_id"], identity=identity, config=config)
            for key, value in expected.items():
                if body.get(key) != value:
                    say(event_id, f"{key} differs from the encoder's ({json.dumps(body.get(key))[:80]} ≠ "
                                  f"{json.dumps(value)[:80]})")
    elif destination == "genlook":
        items = body.get("events")
        if not isinstance(items, list) or not items:
            say("", "events is not a non-empty list")
            return problems
        if config is not None and len(items) > config.genlook_max_events:
            say("", f"{len(items)} events: more than genlook_max_events ({config.genlook_max_events})")
        for item in items:
            event_id = str(item.get("$insert_id") or "") if isinstance(item, dict) else ""
            known = judged.get(event_id)
            if not event_id:
                say("", "an event without $insert_id")
            elif known is not None and genlook_item(known.event()) != item:
                say(event_id, "differs from the encoder's Genlook event")
    return problems


# -- the page's side ------------------------------------------------------------------------------------------

def found(node: Any) -> bool:
    """A DOM query's answer is an element (JavaScript's null is `jsnull` in Pyodide, not None)."""
    return node is not None and node is not jsnull


def element(tag: str, cls: str = "", text: str = "", **attrs: str) -> Any:
    node = document.createElement(tag)
    if cls:
        node.className = cls
    if text:
        node.textContent = text
    for name, value in attrs.items():
        node.setAttribute(name.replace("_", "-"), value)
    return node


def section_element(serve_id: str) -> Any:
    return document.querySelector(f'[data-glood-serve-id="{js.CSS.escape(serve_id)}"]')


class Inspector:
    def __init__(self, api: Any) -> None:
        self.api = api
        self.config: Config | None = None
        self.boot: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.consent = "?"
        self.held: list[str] = []
        self.sections: dict[int, Section] = {}
        self.pages: dict[str, PageView] = {}
        self.pv: str | None = None
        self.judged: dict[str, Judged] = {}
        self.messages: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.ratio, self.duration = 0.5, 1000.0
        self.python_ready = js.Date.now()
        self._build()

    # -- DOM ---------------------------------------------------------------------------------------

    def _build(self) -> None:
        root = document.getElementById("glood-inspector")
        if not found(root):
            root = element("div", id="glood-inspector")
            document.body.append(root)
        root.textContent = ""
        self.root = root
        head = element("header", "gi-head")
        head.append(element("strong", text="Glood inspector"))
        self.ids = element("dl", "gi-ids")
        self.timings = element("dl", "gi-ids gi-timings")
        self.consent_line = element("p", "gi-consent")
        tools = element("div", "gi-tools")
        self.filter = element("input", "gi-filter", type="search", placeholder="filter (name, id, section, text)",
                              aria_label="filter the timeline")
        self.filter.addEventListener("input", create_proxy(lambda _e: self._apply_filter()))
        export = element("button", "gi-export", "Export JSON", type="button")
        export.addEventListener("click", create_proxy(lambda _e: self.export()))
        clear = element("button", "gi-clear", "All sections", type="button")
        clear.addEventListener("click", create_proxy(lambda _e: self.select(None)))
        hide = element("button", "gi-close", "Turn off", type="button", title="turn the inspector off for this tab")
        hide.addEventListener("click", create_proxy(lambda _e: self.turn_off()))
        tools.append(self.filter, clear, export, hide)
        self.page_line = element("p", "gi-page")
        self.timeline = element("ol", "gi-timeline")
        root.append(head, self.consent_line, self.ids, self.timings, self.page_line, tools, self.timeline)
        self.layer = element("div", id="glood-inspector-outlines")
        document.body.append(self.layer)
        self.outlines: dict[int, Any] = {}

    def turn_off(self) -> None:
        js.sessionStorage.removeItem("glood_inspect")
        url = js.URL.new(js.location.href)
        url.searchParams.delete("glood_inspect")
        js.location.assign(url.href)

    # -- messages ----------------------------------------------------------------------------------

    def receive(self, text: str) -> None:
        try:
            message = json.loads(text)
            self.messages.append(message)
            self._handle(message)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the inspector
            js.console.error(f"[glood-inspector] {type(exc).__name__}: {exc}")

    def _page(self, message: dict[str, Any]) -> PageView:
        pv = str(message.get("pv") or "")
        page = self.pages.get(pv)
        if page is None:
            origin = float(self.boot.get("t0") or js.performance.timeOrigin) if not self.pages else \
                float(message.get("at") or js.Date.now())
            page = self.pages[pv] = PageView(pv, origin, str(js.location.href))
            self.pv = pv
            self._apply_filter()  # a new page view (a route change): its own timeline
            self._row(page, "page", f"page view {pv[:8]} — {js.location.pathname}", {"pv": pv}, at=page.origin)
        return page

    def _handle(self, message: dict[str, Any]) -> None:
        kind, value = message.get("k"), message.get("v") or {}
        if kind == "boot":
            self.boot = value
            try:
                self.config = Config.from_mapping(value.get("config") or {})
                self.ratio, self.duration = self.config.view_ratio, float(self.config.view_duration_ms)
            except ConfigError:
                self.config = None
            self.consent = str(value.get("consent"))
        page = self._page(message)
        at = float(message.get("at") or 0)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(page, value, at)

    def _on_boot(self, page: PageView, value: dict[str, Any], at: float) -> None:
        self._row(page, "boot", f"Python ready in the worker (tracker {value.get('version')}, "
                                f"{value.get('page_type')} page, consent {value.get('consent')})", value, at=at)
        self._timings()

    def _on_fact(self, page: PageView, fact: dict[str, Any], at: float) -> None:
        kind, t = fact.get("k"), float(fact.get("t") or at)
        key = fact.get("i")
        text = f"fact {kind}"
        section = self.sections.get(key) if isinstance(key, int) else None
        if kind == "sec" and isinstance(key, int):
            attrs = fact.get("a") or {}
            section = self.sections[key] = Section(key, str(attrs.get("gloodServeId") or ""),
                                                   str(attrs.get("gloodSection") or ""),
                                                   Viewability(self.ratio, self.duration,
                                                               page_visible=document.visibilityState == "visible"))
            text += f" section {section.name} (serve {section.serve_id})"
        elif kind == "gone" and section is not None:
            section.gone = True
        elif kind == "io" and section is not None:
            visible, area, root = (list(fact.get("r") or []) + [0, 0, 0])[:3]
            section.share = visible_share(visible, area, root)
            section.rule.update(0, section.share, t)
            text += f" {section.serve_id}: {section.share:.0%} visible"
        elif kind == "vis":
            for item in self.sections.values():
                item.rule.set_page_visible(bool(fact.get("v")), t)
            text += " visible" if fact.get("v") else " hidden"
        elif kind in ("click", "add", "chg") and section is not None:
            text += f" in {section.serve_id}"
        elif kind == "call":
            text += f" {fact.get('m')}({str(fact.get('a'))[:60]})"
        elif kind == "url":
            text += f" {fact.get('url')}"
        self._row(page, "fact", text, fact, at=t, section=section.serve_id if section else None)

    def _on_event(self, page: PageView, value: dict[str, Any], at: float) -> None:
        section = value.get("section") or {}
        judged = Judged(str(value.get("id")), str(value.get("name")), float(value.get("ts") or at), page.pv,
                        section.get("serve_id"), section.get("product"), value)
        for destination in ("glood", "genlook"):
            judged.delivery[destination] = "queued" if self.consent != "pending" else "waiting for consent"
        self.judged[judged.id] = judged
        flag = SECTION_EVENTS.get(judged.name)
        if judged.name == "product_added_to_cart" and judged.serve_id:
            flag = "added"
        if flag and judged.serve_id:
            counts = page.flags.setdefault(judged.serve_id, {})
            counts[flag] = counts.get(flag, 0) + 1
        where = f" in {judged.serve_id}" if judged.serve_id else ""
        judged.row = self._row(page, "event", f"{judged.name}{where}", value, at=judged.ts,
                               section=judged.serve_id, event_id=judged.id)
        self._delivery(judged)

    def _on_dropped(self, page: PageView, value: dict[str, Any], at: float) -> None:
        self.held.append(f"{value.get('name')} ({value.get('reason')})")
        self._row(page, "dropped", f"{value.get('name')} not queued: {value.get('reason')}", value, at=at,
                  event_id=str(value.get("id")))
        self._consent()

    def _on_refused(self, page: PageView, value: dict[str, Any], at: float) -> None:
        self._row(page, "refused", f"{value.get('what')} refused: {value.get('reason')}", value, at=at, error=True)

    def _on_waiting(self, page: PageView, value: dict[str, Any], at: float) -> None:
        for judged in self.judged.values():
            for destination in (value.get("deferred") or {}):
                if judged.delivery.get(destination) in ("queued", "waiting for consent"):
                    judged.delivery[destination] = f"waiting: {value.get('reason')}"
                    self._delivery(judged)
        self._row(page, "waiting", f"flush held back: {value.get('reason')} {value.get('deferred')}", value, at=at)

    def _on_body(self, page: PageView, value: dict[str, Any], at: float) -> None:
        destination, way = str(value.get("d")), str(value.get("way"))
        problems = check_body(destination, str(value.get("x") or ""), self.judged, self.config)
        whole = problems.pop("", [])
        for event_id in value.get("ids") or []:
            judged = self.judged.get(event_id)
            if judged is None:
                continue
            judged.delivery[destination] = f"sent by {way}" if way == "beacon" else f"{way} in flight"
            judged.errors += [f"{destination}: {p}" for p in problems.get(event_id, []) + whole]
            self._delivery(judged)
        restored = [i for i in value.get("ids") or [] if i not in self.judged]
        text = (f"{destination} body by {way}, {value.get('bytes')} bytes, {len(value.get('ids') or [])} event(s)"
                + (f", {len(restored)} from an earlier page" if restored else "")
                + ("" if value.get("taken") else " — not taken by the browser"))
        flat = whole + [p for items in problems.values() for p in items]
        self._row(page, "body", text + (f" — {len(flat)} problem(s)" if flat else " — checked"), value, at=at,
                  error=bool(flat), detail=str(value.get("x") or "") + ("\n" + "\n".join(flat) if flat else ""))

    def _on_outcome(self, page: PageView, value: dict[str, Any], at: float) -> None:
        destination, outcome = str(value.get("d")), str(value.get("outcome"))
        status, way = value.get("status"), value.get("way") or "fetch"
        if outcome == "ok":
            state = "sent by beacon" if way == "beacon" else f"sent by {way} ({status})"
        elif outcome == "retry":
            state = f"retried: {value.get('why')}"
        elif outcome == "rerouted":
            state = "rerouted to the worker's fetch"
        else:
            state = f"dropped: {value.get('why')}"
        for event_id in value.get("ids") or []:
            judged = self.judged.get(event_id)
            if judged is not None:
                judged.delivery[destination] = state
                self._delivery(judged)
        self._row(page, "outcome", f"{destination}: {state} ({len(value.get('ids') or [])} event(s))", value,
                  at=at, error=outcome not in ("ok", "rerouted"))

    def _on_hidden(self, page: PageView, value: dict[str, Any], at: float) -> None:
        for event_id in value.get("ids") or []:
            judged = self.judged.get(event_id)
            if judged is not None:
                judged.delivery[str(value.get("d"))] = "sent by the page's beacon as it was hidden"
                self._delivery(judged)
        self._row(page, "hidden", f"{value.get('d')}: {len(value.get('ids') or [])} event(s) beaconed as the page "
                                  "was hidden", value, at=at)

    def _on_consent(self, page: PageView, value: dict[str, Any], at: float) -> None:
        self.consent = str(value.get("state"))
        if value.get("dropped"):
            self.held.append(f"{value.get('dropped')} queued event(s) dropped")
        self._row(page, "consent", f"consent {value.get('state')}: {value.get('held')} event(s) released, "
                                   f"{value.get('dropped')} dropped", value, at=at)
        self._consent()

    def _on_state(self, page: PageView, value: dict[str, Any], at: float) -> None:
        self.state = value
        self.consent = str(value.get("consent") or self.consent)
        pairs = [("client", value.get("client_id")), ("user", value.get("user_id")),
                 ("visit (session)", value.get("session_id")), ("page", value.get("tab_id")),
                 ("page view", value.get("pageview_id")), ("queued", value.get("pending"))]
        self.ids.textContent = ""
        for name, item in pairs:
            self.ids.append(element("dt", text=name), element("dd", text=str(item), data_id=name.split()[0]))
        self._consent()

    # -- rows --------------------------------------------------------------------------------------

    def _row(self, page: PageView, kind: str, text: str, value: Any, *, at: float, section: str | None = None,
             event_id: str | None = None, error: bool = False, detail: str | None = None) -> Any:
        row = element("li", f"gi-row gi-{kind}" + (" gi-error" if error else ""), data_kind=kind, data_pv=page.pv)
        if event_id:
            row.setAttribute("data-event-id", event_id)
        if section:
            row.setAttribute("data-section", section)
        row.append(element("time", text=f"+{max(0.0, at - page.origin):.0f} ms"), element("span", "gi-text", text))
        if detail or kind in ("fact", "event", "boot"):
            row.setAttribute("title", detail or json.dumps(value)[:2000])
        if event_id and kind == "event":
            row.addEventListener("click", create_proxy(lambda _e, i=event_id: self.highlight(i)))
        row.dataset.text = (text + " " + (event_id or "") + " " + (section or "")).lower()
        if page.pv != self.pv:
            row.hidden = True
        self.timeline.append(row)
        self._filter_row(row)
        return row

    def _delivery(self, judged: Judged) -> None:
        if judged.row is None:
            return
        chips = judged.row.querySelector(".gi-delivery")
        if not found(chips):
            chips = element("span", "gi-delivery")
            judged.row.append(chips)
        chips.textContent = " · ".join(f"{d}: {s}" for d, s in judged.delivery.items())
        if judged.errors:
            judged.row.classList.add("gi-error")
            judged.row.setAttribute("data-errors", "; ".join(judged.errors))
            judged.row.title = "\n".join(judged.errors)

    def _consent(self) -> None:
        held = f" — held back: {', '.join(self.held[-5:])}" if self.held else ""
        self.consent_line.textContent = f"consent: {self.consent}{held}"
        self.consent_line.dataset.consent = self.consent

    def _timings(self) -> None:
        origin = float(js.performance.timeOrigin)
        items = [("sensor start", float(self.boot.get("t0") or origin) - origin)]
        for entry in js.performance.getEntriesByType("resource"):
            if "/worker." in entry.name and entry.name.endswith(".mjs"):
                items.append(("worker start", float(entry.startTime)))
                break
        ready = next((m.get("at") for m in self.messages if m.get("k") == "boot"), None)
        if ready is not None:
            items.append(("Python ready (worker)", float(ready) - origin))
        items.append(("inspector ready", float(self.python_ready) - origin))
        self.timings.textContent = ""
        for name, ms in items:
            self.timings.append(element("dt", text=name), element("dd", text=f"{ms:.0f} ms"))

    # -- filtering, highlighting, export -------------------------------------------------------------

    def _filter_row(self, row: Any) -> None:
        needle = str(self.filter.value or "").strip().lower()
        current = row.getAttribute("data-pv") == self.pv
        match = (not needle or needle in str(row.dataset.text)) and (
            self.selected is None or row.getAttribute("data-section") == self.selected)
        row.hidden = not (current and match)

    def _apply_filter(self) -> None:
        for row in self.timeline.children:
            self._filter_row(row)

    def select(self, serve_id: str | None) -> None:
        self.selected = serve_id
        self.root.dataset.selected = serve_id or ""
        self._apply_filter()

    def highlight(self, event_id: str) -> None:
        judged = self.judged.get(event_id)
        if judged is None or not judged.serve_id:
            return
        target = section_element(judged.serve_id)
        if found(target) and judged.product and judged.name != "glood:section:render" \
                and judged.name != "glood:section:view":
            product = target.querySelector(f'[data-glood-product-id="{js.CSS.escape(judged.product)}"]')
            target = product if found(product) else target
        if not found(target):
            return
        for old in document.querySelectorAll(".gi-highlight"):
            old.classList.remove("gi-highlight")
        target.classList.add("gi-highlight")
        target.scrollIntoView(js.JSON.parse('{"block": "center"}'))
        js.setTimeout(create_proxy(lambda: target.classList.remove("gi-highlight")), 2500)

    def export(self) -> None:
        data = {"version": self.boot.get("version"), "state": self.state, "consent": self.consent,
                "pages": [{"pv": p.pv, "url": p.url, "sections": p.flags,
                           "events": [{"id": j.id, "name": j.name, "ts": j.ts, "section": j.serve_id,
                                       "delivery": j.delivery, "errors": j.errors}
                                      for j in self.judged.values() if j.pv == p.pv]}
                          for p in self.pages.values()],
                "messages": self.messages}
        blob = js.Blob.new([json.dumps(data, indent=1)], js.JSON.parse('{"type": "application/json"}'))
        link = element("a", href=js.URL.createObjectURL(blob), download="glood-inspector.json")
        link.click()
        js.URL.revokeObjectURL(link.href)

    # -- badges ------------------------------------------------------------------------------------

    def tick(self) -> None:
        now = float(js.Date.now())
        page = self.pages.get(self.pv or "")
        for key, section in self.sections.items():
            outline = self.outlines.get(key)
            target = section_element(section.serve_id) if section.serve_id and not section.gone else None
            if not found(target):
                if outline is not None:
                    outline.remove()
                    del self.outlines[key]
                continue
            if outline is None:
                outline = self.outlines[key] = self._outline(section)
            rect = target.getBoundingClientRect()
            style = outline.style
            style.top = f"{rect.top + js.scrollY}px"
            style.left = f"{rect.left + js.scrollX}px"
            style.width = f"{rect.width}px"
            style.height = f"{rect.height}px"
            flags = page.flags.get(section.serve_id, {}) if page else {}
            deadline = section.rule.next_deadline()
            timer = 0.0 if deadline is None else min(self.duration, max(0.0, self.duration - (deadline - now)))
            viewable = flags.get("viewable", 0) > 0
            if viewable:
                timer = self.duration
            badge = outline.firstChild
            badge.setAttribute("data-viewable", "true" if viewable else "false")
            badge.setAttribute("data-rendered", "true" if flags.get("rendered") else "false")
            rendered = "rendered" if flags.get("rendered") else "not rendered"
            badge.textContent = (f"{section.name or 'section'} · {rendered} · {section.share:.0%} visible · "
                                 f"view {timer / 1000:.1f}/{self.duration / 1000:.1f} s · "
                                 f"{'viewable' if viewable else 'not viewable'} · clicked {flags.get('clicked', 0)}"
                                 f" · added {flags.get('added', 0)}")
        self.page_line.textContent = f"page view {(self.pv or '')[:8]} — {len(self.timeline.children)} row(s)"

    def _outline(self, section: Section) -> Any:
        outline = element("div", "gi-outline")
        badge = element("button", "gi-badge", type="button", data_serve_id=section.serve_id,
                        data_section_key=str(section.key), data_viewable="false")
        badge.addEventListener("click", create_proxy(lambda _e, s=section.serve_id: self.select(s)))
        outline.append(badge)
        self.layer.append(outline)
        return outline


def main() -> None:
    api = js.window.gloodInspector
    inspector = Inspector(api)
    for text in list(api.log):
        inspector.receive(str(text))
    api.listen(create_proxy(inspector.receive))
    inspector.tick()
    js.setInterval(create_proxy(inspector.tick), TICK_MS)
    inspector._timings()
    inspector.root.dataset.state = "ready"
    js.window.gloodInspectorApp = create_proxy(lambda: json.dumps({"pv": inspector.pv,
                                                                   "events": len(inspector.judged)}))


main()

"""The sensor in Chromium: a tiny page per test on a fake secure origin (Playwright routes), the sensor's source
inlined first, and a stub relay standing in for relay.js (it exposes the `Sensor` object and records what would go to
the worker); or the real relay.js with a fake worker (REAL_RELAY) that records the messages it gets and posts the
page what a test tells it."""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Page, Route

ROOT = Path(__file__).resolve().parents[2]
#: The sensor under test; GLOOD_SENSOR_JS points at another copy (e.g. a mutant, to check that the tests can fail).
SENSOR_JS = Path(os.environ.get("GLOOD_SENSOR_JS") or ROOT / "static" / "tracker" / "sensor.js")
#: A fake origin served by page.route(): https, so a secure context (crypto.randomUUID, Web Locks) as in stores.
ORIGIN = "https://sensor.test"
PREFIX = "glood_tracker:"
RECORD_PREFIX = PREFIX + "facts:"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Stub relay snippets: the module's default export runs them with `sensor` in scope, after it set
# window.__sensor = sensor, window.__posted = [] and window.__restores = [].
#: relay.js's toWorker: every message the sensor posts, copied as it was when posted.
ATTACH = "sensor.toWorker = m => window.__posted.push(JSON.parse(JSON.stringify(m)));"
#: relay.js's onRestore hook, recorded with how many messages were posted before it was called.
RESTORES = "sensor.onRestore = taken => window.__restores.push({taken, posted: window.__posted.length});"
#: What relay.js does on the sensor's side (less the worker): the default stub.
RELAY = ATTACH + RESTORES
#: relay.js's onLeave, recorded in window.__leaves (its argument: true when leaving) and handing over nothing.
LEAVES = "window.__leaves = []; sensor.onLeave = send => { window.__leaves.push(send) };"
#: A stub relay that only exposes the sensor: no worker attached, no hooks (everything stays as the page made it).
EXPOSE = ""
#: No relay module at all: its import never resolves (the time before the relay, for as long as the test lasts).
NO_RELAY = None
#: The real relay.js (static/tracker/relay.js, the build's runtime written in) and FAKE_WORKER as its worker.
REAL_RELAY = "real"
RELAY_JS = ROOT / "static" / "tracker" / "relay.js"
#: The fake worker: each message it gets goes to the page's BroadcastChannel "to-worker" log (window.__posted,
#: in order, as the worker got it); what the page says on "to-page" it posts to relay.js.
FAKE_WORKER = """
const log = new BroadcastChannel("to-worker"), say = new BroadcastChannel("to-page");
self.onmessage = event => log.postMessage(event.data);
say.onmessage = event => self.postMessage(event.data);
"""


def hold(**fields: Any) -> dict[str, Any]:
    """A worker's `hold` message (protocol.js `Hold`): no bodies, everything sent, consent granted, unless told."""
    return {"t": "hold", "upto": 0, "b": [], "w": [], "st": {"judge": "state"}, "c": "granted", "all": True,
            "ack": [], "fb": 0, **fields}


def handover(**fields: Any) -> dict[str, Any]:
    """What relay.js's onLeave returns (types.d.ts `Handover`)."""
    return {"all": True, "sent": [], "dup": 0, **fields}


def with_hold(hold_message: dict[str, Any], leave: dict[str, Any]) -> str:
    """Stub relay snippet: the worker's last hold is `hold_message`; onLeave records its argument in
    window.__leaves and returns `leave`."""
    return (f"sensor.hold = {json.dumps(hold_message)};"
            f"window.__leaves = []; sensor.onLeave = send => (window.__leaves.push(send), {json.dumps(leave)});")


def section(key: str, serve: str, products: list[tuple[str, str | None]], *, attrs: str = "",
            element_id: str = "") -> str:
    """A recommendation section (docs/design.md §1) with one <li> per product: a link and an add-to-cart form."""
    items = "".join(
        f'<li class="glood-product" data-glood-product-id="{pid}"'
        + (f' data-glood-variant-id="{vid}"' if vid is not None else "")
        + f'><a href="#{pid}" id="link-{pid}">Product {pid}</a><span id="name-{pid}">{pid}</span>'
        f'<form action="/cart/add" method="post" id="add-{pid}"><input type="hidden" name="id" value="{vid or pid}">'
        f'<input type="hidden" name="quantity" value="2"><button type="submit" id="buy-{pid}" data-glood-add-to-cart>'
        "Add</button></form></li>"
        for pid, vid in products)
    ident = f' id="{element_id}"' if element_id else ""
    return (f'<section{ident} class="glood-section" data-glood-section="{key}" data-glood-serve-id="{serve}" {attrs}>'
            f"<h2>You may also like</h2><ul>{items}</ul></section>")


def page_context(data: dict[str, Any]) -> str:
    return f'<script type="application/json" id="glood-page">{json.dumps(data)}</script>'


class SensorLab:
    """One Playwright page, the test pages it opens, and the sensor's observable state in them."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.files: dict[str, tuple[str, str]] = {}
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self._opened = 0
        self._pending: list[Route] = []
        #: POST requests served (path, body), in order: a beacon, a keepalive fetch.
        self.received: list[tuple[str, str]] = []
        page.set_default_timeout(10_000)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.route(ORIGIN + "/**", self._serve)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _serve(self, route: Route) -> None:
        path = route.request.url[len(ORIGIN):].split("?")[0].split("#")[0]
        if path.startswith("/never/"):
            self._pending.append(route)  # never answered: an import of it never resolves
            return
        if path not in self.files:
            route.fulfill(status=404, body="not found")
            return
        content_type, body = self.files[path]
        if route.request.method == "POST":
            self.received.append((path, route.request.post_data or ""))
        route.fulfill(status=200, body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    def serve(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> str:
        self.files[path] = (content_type, body)
        return ORIGIN + path

    def take_errors(self) -> list[str]:
        """The console errors logged so far (a test that expects some takes them; any other fails it)."""
        errors, self.console_errors[:] = list(self.console_errors), []
        return errors

    def build(self, body: str = "", *, before: str = "", relay: str | None = RELAY,
              runtime: dict[str, Any] | None = None) -> str:
        """A test page: `before` (scripts run before the sensor), the sensor inlined with its data-runtime, a
        <title>, then `body`. `relay` is the stub relay's snippet, or NO_RELAY (its import never resolves)."""
        self._opened += 1
        worker_url = ORIGIN + "/never/worker.mjs"
        if relay is None:
            relay_url = f"{ORIGIN}/never/relay-{self._opened}.js"
        elif relay == REAL_RELAY:
            from tracker.build import with_build_runtime
            worker_url = self.serve("/fake-worker.mjs", FAKE_WORKER, "text/javascript")
            relay_url = self.serve(f"/relay-{self._opened}.js", with_build_runtime(RELAY_JS.read_text(), {
                "worker": worker_url, "pyodide": "", "index": "", "lock": "", "stdlib": "", "wheel": ""}),
                "text/javascript")
            # The page collects what the fake worker got; the relay's sensor is window.__sensor (set below).
            before = ("<script>window.__posted = []; new BroadcastChannel('to-worker').onmessage = "
                      "event => window.__posted.push(event.data);</script>") + before
        else:
            relay_url = self.serve(
                f"/relay-{self._opened}.js",
                "export default (sensor) => { window.__sensor = sensor; window.__posted = []; "
                f"window.__restores = [];\n{relay}\n}};\n", "text/javascript")
        config = {"relay": relay_url, "worker": worker_url, "pyodide": "", "index": "", "lock": "",
                  "stdlib": "", "wheel": "", "version": "0.0.0-sensor-test", "rc": False, "gpc": False,
                  **(runtime or {})}
        source = SENSOR_JS.read_text()
        assert "</script" not in source.lower()
        return ("<!doctype html><html><head><meta charset=\"utf-8\">" + before
                # Single-quoted, as tracker/build/embed.py writes it.
                + f"<script data-runtime='{html.escape(json.dumps(config), quote=False).replace(chr(39), '&#x27;')}'>"
                + f"{source}</script>"
                + f"<title>Sensor test</title></head><body>{body}</body></html>")

    def open(self, body: str = "", *, path: str = "/page.html", query: str = "", before: str = "",
             relay: str | None = RELAY, runtime: dict[str, Any] | None = None) -> SensorLab:
        """Open a test page (until its load event); with a stub relay, wait until the sensor handed itself to it."""
        self.serve(path, self.build(body, before=before, relay=relay, runtime=runtime))
        self.page.goto(ORIGIN + path + query)
        if relay == REAL_RELAY:
            # The relay's sensor: the one object the inline script made (the API's questions show it is running).
            self.page.wait_for_function("() => window.__posted.some(message => message.t == 'boot')")
        elif relay is not None:
            self.page.wait_for_function("() => window.__sensor !== undefined")
        return self

    def wait_received(self, count: int, timeout_s: float = 10.0) -> list[tuple[str, str]]:
        """Wait until `count` POST requests were served (the route handler runs while Playwright is called)."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            self.page.evaluate("() => new Promise(resolve => setTimeout(resolve, 20))")
        return list(self.received)

    def to_page(self, message: dict[str, Any]) -> None:
        """The fake worker posts `message` to relay.js (REAL_RELAY)."""
        self.page.evaluate("(message) => new BroadcastChannel('to-page').postMessage(message)", message)

    # What the sensor holds (with a stub relay).
    def sensor(self, field: str) -> Any:
        return self.page.evaluate(f"() => window.__sensor.{field}")

    def facts(self, kind: str | None = None) -> list[dict[str, Any]]:
        facts: list[dict[str, Any]] = self.page.evaluate("() => window.__sensor.facts")
        return [f for f in facts if kind is None or f["k"] == kind]

    def wait_fact(self, predicate: str) -> list[dict[str, Any]]:
        """Wait until some fact satisfies the JS `predicate` (a function of one fact); every fact then."""
        self.page.wait_for_function(f"() => window.__sensor.facts.some({predicate})")
        return self.facts()

    def posted(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Messages the sensor posted to the stub relay's toWorker, or the fake worker got from the real relay."""
        posted: list[dict[str, Any]] = self.page.evaluate("() => window.__posted")
        return [m for m in posted if kind is None or m["t"] == kind]

    # Storage.
    def page_id(self) -> str:
        """This page's id, as the sensor keeps it in sessionStorage (this tab's page)."""
        page_id: str = self.page.evaluate(f"() => sessionStorage.getItem('{PREFIX}tab')")
        return page_id

    def records(self) -> dict[str, Any]:
        """Every facts record in localStorage, by key, parsed."""
        raw: dict[str, str] = self.page.evaluate(f"""() => Object.fromEntries(Object.keys(localStorage)
            .filter(key => key.startsWith('{RECORD_PREFIX}')).map(key => [key, localStorage.getItem(key)]))""")
        return {key: json.loads(value) for key, value in raw.items()}

    def record(self) -> dict[str, Any] | None:
        """The record this page left, or None."""
        return self.records().get(RECORD_PREFIX + self.page_id())

    def remove_record(self) -> dict[str, Any]:
        """Another page takes the record this page left: removed from storage; what it held."""
        record = self.record()
        assert record is not None, "no record to take"
        self.page.evaluate("(key) => localStorage.removeItem(key)", RECORD_PREFIX + self.page_id())
        return record

    # Lifecycle (headless Chromium never changes visibilityState: faked, as tests/e2e/support.py does).
    def hide(self) -> None:
        self._visibility("hidden")

    def show(self) -> None:
        self._visibility("visible")

    def _visibility(self, state: str) -> None:
        self.page.evaluate("""(state) => {
            Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
            Object.defineProperty(document, 'hidden', {value: state == 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""", state)

    def pagehide(self, persisted: bool = True) -> None:
        self.page.evaluate("(persisted) => window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted}))",
                           persisted)

    def pageshow(self, persisted: bool = True) -> None:
        self.page.evaluate("(persisted) => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted}))",
                           persisted)

    def judge_all_and_leave(self) -> int:
        """The worker's hold judged every fact (relay.js drops them from sensor.facts), then pagehide, in one task (an
        IntersectionObserver fact cannot come between); how many facts were left at pagehide."""
        left: int = self.page.evaluate("""() => {
            window.__sensor.facts.splice(0);
            const left = window.__sensor.facts.length;
            window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}));
            return left;
        }""")
        return left

    def wait_restores(self, count: int = 1) -> list[dict[str, Any]]:
        """Wait for the sensor's onRestore calls (the stub's RESTORES): [{taken, posted}, ...]."""
        self.page.wait_for_function("(n) => window.__restores.length >= n", arg=count)
        restores: list[dict[str, Any]] = self.page.evaluate("() => window.__restores")
        return restores

    def wait_lock(self, name: str, held: bool) -> list[str]:
        """Wait until the Web Lock `name` is held (or free) in this origin; the names held then."""
        names: list[str] = self.page.evaluate("""async ([name, held]) => {
            const deadline = performance.now() + 4000;
            for (;;) {
                const names = (await navigator.locks.query()).held.map(lock => lock.name);
                if (names.includes(name) == held || performance.now() > deadline) return names;
                await new Promise(resolve => setTimeout(resolve, 10));
            }
        }""", [name, held])
        return names

"""A long single-page session: 200 client-side route changes on the headless store, and what grows.

Opens `/headless/` in its own Chromium (`--enable-precise-memory-info`, so `performance.memory` is not bucketed),
waits for the tracker, then clicks in-app links (`a[href^="/headless/"]`, chosen in turn among those on the
current page: header navigation, collection tiles, product cards, breadcrumbs, the sections' products), each
time until the route's page is drawn and its sections are in (`#app[data-state=ready]` at the new path).
Every `every` routes, after a forced GC (CDP `HeapProfiler.collectGarbage`) in the page and in the worker:

- page: `performance.memory.usedJSHeapSize` and CDP `Runtime.getHeapUsage`; DOM nodes; sections in the DOM;
  the sensor's own state, read from the closure of `gloodTracker.track` through CDP (`[[Scopes]]`): `els`
  (the sections it watches, i.e. observes with its IntersectionObserver), `k.facts` (facts not yet dropped by
  a hold), `k.sent` (event ids sent from the page), `k.waits` (API questions unanswered);
- worker: CDP `Runtime.getHeapUsage` (JS heap), the byte length of every `WebAssembly.Memory` (Pyodide's linear
  memory: it never shrinks), the number of Pyodide PyProxy objects alive (`Runtime.queryObjects` on
  `PyProxy.prototype`, reached from the worker's `py` handler through `[[Scopes]]`);
- the tracker's `status()` (facts judged, pending, watched sections, stats);
- the collectors' `/_collector/stats.json`.

The worker's session: Playwright's client cannot address a flattened child session, so the page's own CDP
session auto-attaches with `flatten: false` and talks to the worker through `Target.sendMessageToTarget`
(falling back to a browser session's `Target.attachToTarget` of the worker target).
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import CDPSession, Page, Playwright

__all__ = ["run_routes", "routes_table"]

START_PATH = "/headless/"
READY_SELECTOR = "html[data-glood-tracker=ready], html[data-glood-tracker=error]"
ROUTE_TIMEOUT_MS = 30_000

#: The sensor's state, from the closure of gloodTracker.track (the inline sensor's scope).
SENSOR_STATE_FN = """function () {
  // The sensor is minified: its state object (the `Sensor` interface of static/tracker/types.d.ts) is the closure
  // variable holding `facts` (an array) and `sections` (a Map); relay.js adds its ledger of sent ids.
  const k = Object.values(this).find((v) => v && Array.isArray(v.facts) && v.sections instanceof Map) || {};
  const size = (x) => x == null ? null : (x.size !== undefined ? x.size : (x.length !== undefined ? x.length
    : Object.keys(x).length));
  return {els: size(k.sections), facts: size(k.facts), sent: size(k.ledger), waits: size(k.waits),
          on: size(k.listeners)};
}"""

PAGE_SAMPLE_JS = """() => ({
  heap: performance.memory ? performance.memory.usedJSHeapSize : null,
  heap_total: performance.memory ? performance.memory.totalJSHeapSize : null,
  dom_nodes: document.getElementsByTagName('*').length,
  sections: document.querySelectorAll('[data-glood-section]').length,
  listeners_hint: null, url: location.pathname,
})"""

#: In-app links on the current page, other than the current path.
LINKS_JS = """() => [...document.querySelectorAll('a[href^="/headless/"]')]
  .map((a, i) => ({i, href: a.getAttribute('href'), path: new URL(a.href).pathname,
                   shown: a.getClientRects().length > 0}))
  .filter((l) => l.shown && l.path !== location.pathname)"""

ROUTE_DONE_JS = """(path) => location.pathname === path && ['ready', 'error'].includes(
  (document.getElementById('app') || {dataset: {}}).dataset.state)"""


class ChildSession:
    """A non-flattened CDP session to a child target, driven through `Target.sendMessageToTarget` on `parent`."""

    def __init__(self, parent: CDPSession, session_id: str, pump: Callable[[], None]) -> None:
        self.parent, self.session_id, self.pump = parent, session_id, pump
        self.next_id = 0
        self.replies: dict[int, dict[str, Any]] = {}
        parent.on("Target.receivedMessageFromTarget", self._received)

    def _received(self, params: dict[str, Any]) -> None:
        if params.get("sessionId") != self.session_id:
            return
        message = json.loads(params["message"])
        if "id" in message:
            self.replies[message["id"]] = message

    def send(self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 60) -> dict[str, Any]:
        self.next_id += 1
        number = self.next_id
        self.parent.send("Target.sendMessageToTarget", {
            "sessionId": self.session_id,
            "message": json.dumps({"id": number, "method": method, "params": params or {}})})
        deadline = time.monotonic() + timeout_s
        while number not in self.replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker CDP {method}: no answer in {timeout_s} s")
            self.pump()
        reply = self.replies.pop(number)
        if "error" in reply:
            raise RuntimeError(f"worker CDP {method}: {reply['error']}")
        return reply.get("result", {})


def _scope_vars(send: Callable[..., dict[str, Any]], function_id: str) -> dict[str, dict[str, Any]]:
    """The variables of a function's closure scopes (innermost first wins), as CDP RemoteObjects."""
    props = send("Runtime.getProperties", {"objectId": function_id, "ownProperties": False})
    scopes = next((p["value"] for p in props.get("internalProperties", []) if p["name"] == "[[Scopes]]"), None)
    if not scopes or "objectId" not in scopes:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for entry in send("Runtime.getProperties", {"objectId": scopes["objectId"], "ownProperties": True})["result"]:
        value = entry.get("value") or {}
        if not entry["name"].isdigit() or "objectId" not in value or value.get("description") == "Global":
            continue
        for var in send("Runtime.getProperties", {"objectId": value["objectId"], "ownProperties": True})["result"]:
            if "value" in var and var["name"] not in found:
                found[var["name"]] = var["value"]
    return found


def _sensor_state(cdp: CDPSession) -> dict[str, Any]:
    send = lambda method, params: cdp.send(method, params)  # noqa: E731
    track = cdp.send("Runtime.evaluate", {"expression": "window.gloodTracker && window.gloodTracker.track",
                                          "objectGroup": "bench"})["result"]
    if "objectId" not in track:
        return {"error": "no gloodTracker.track"}
    scope = _scope_vars(send, track["objectId"])
    holder = cdp.send("Runtime.evaluate", {"expression": "({})", "objectGroup": "bench"})["result"]
    # Put the closure's variables on one object, then read their sizes.
    for name, value in scope.items():
        if "objectId" in value:
            arg = {"objectId": value["objectId"]} if "objectId" in value else {"value": value.get("value")}
            cdp.send("Runtime.callFunctionOn", {"objectId": holder["objectId"], "objectGroup": "bench",
                                                "functionDeclaration": f"function (v) {{ this[{name!r}] = v }}",
                                                "arguments": [arg]})
    state = cdp.send("Runtime.callFunctionOn", {"objectId": holder["objectId"], "functionDeclaration": SENSOR_STATE_FN,
                                                "returnByValue": True})["result"].get("value") or {}
    cdp.send("Runtime.releaseObjectGroup", {"objectGroup": "bench"})
    if not scope:
        state["error"] = "the closure of gloodTracker.track was not readable"
    return state


class WorkerProbe:
    """CDP to the tracker's dedicated worker: GC, heap, wasm memory, PyProxy count."""

    def __init__(self, session: ChildSession) -> None:
        self.s = session
        self.pyproxy_proto: str | None = None
        self.memory_proto: str | None = None
        self.notes: list[str] = []
        for domain in ("Runtime.enable", "HeapProfiler.enable"):
            try:
                session.send(domain)
            except Exception as error:  # noqa: BLE001
                self.notes.append(f"{domain}: {error}")

    def _find_protos(self) -> None:
        if self.memory_proto is None:
            found = self.s.send("Runtime.evaluate", {"expression": "WebAssembly.Memory.prototype",
                                                     "objectGroup": "probe"})["result"]
            self.memory_proto = found.get("objectId")
        if self.pyproxy_proto is None:
            handler = self.s.send("Runtime.evaluate", {"expression": "self.onmessage",
                                                       "objectGroup": "probe"})["result"]
            if "objectId" not in handler:
                self.notes.append("no self.onmessage in the worker")
                return
            outer = _scope_vars(self.s.send, handler["objectId"])
            handle = outer.get("handle")
            if not handle or "objectId" not in handle:
                self.notes.append("the worker's `handle` is not set (Python not started?)")
                return
            py = _scope_vars(self.s.send, handle["objectId"]).get("py")
            if not py or "objectId" not in py:
                self.notes.append("the worker's `py` proxy was not reachable through [[Scopes]]")
                return
            proto = self.s.send("Runtime.callFunctionOn", {
                "objectId": py["objectId"], "objectGroup": "probe",
                "functionDeclaration": """function () {
                  for (let p = Object.getPrototypeOf(this); p; p = Object.getPrototypeOf(p))
                    if (Object.prototype.hasOwnProperty.call(p, 'constructor')
                        && p.constructor.name === 'PyProxy') return p;
                  return null;
                }"""})["result"]
            self.pyproxy_proto = proto.get("objectId")
            if self.pyproxy_proto is None:
                self.notes.append("PyProxy.prototype not found on the `py` proxy's prototype chain")

    def _count(self, proto: str | None, fn: str) -> Any:
        if proto is None:
            return None
        objects = self.s.send("Runtime.queryObjects", {"prototypeObjectId": proto, "objectGroup": "query"})["objects"]
        value = self.s.send("Runtime.callFunctionOn", {"objectId": objects["objectId"], "functionDeclaration": fn,
                                                       "returnByValue": True})["result"].get("value")
        self.s.send("Runtime.releaseObjectGroup", {"objectGroup": "query"})
        return value

    def sample(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.s.send("HeapProfiler.collectGarbage")
        usage = self.s.send("Runtime.getHeapUsage")
        out["heap"] = usage.get("usedSize")
        out["heap_total"] = usage.get("totalSize")
        if "backingStorageSize" in usage:
            out["backing_storage"] = usage["backingStorageSize"]
        if not os.environ.get("BENCH_ROUTES_QUERY"):  # queryObjects/[[Scopes]] in the worker crashed the renderer
            return out
        self._find_protos()
        out["wasm_memory"] = self._count(self.memory_proto,
                                         "function () { return this.map((m) => m.buffer.byteLength) }")
        # (queryObjects also finds the proxies' targets and the PyProxy subclasses' prototypes: a count to
        # compare with itself over time, not an exact number of live proxies.)
        out["pyproxies"] = self._count(self.pyproxy_proto, "function () { return this.length }")
        return out


def _attach_worker(page: Page, cdp: CDPSession, playwright_browser: Any, log: Callable[[str], None],
                   timeout_s: float = 15) -> tuple[WorkerProbe | None, str]:
    pump = lambda: page.wait_for_timeout(20)  # noqa: E731 - Playwright's sync API delivers events while it waits
    attached: list[dict[str, Any]] = []
    cdp.on("Target.attachedToTarget", lambda p: attached.append(p))
    how = "page session, Target.setAutoAttach flatten=false + Target.sendMessageToTarget"
    try:
        cdp.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": False})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not any(a["targetInfo"]["type"] == "worker" for a in attached):
            pump()
        worker = next((a for a in attached if a["targetInfo"]["type"] == "worker"), None)
        if worker is None:
            raise RuntimeError(f"no worker attached (targets: {[a['targetInfo']['type'] for a in attached]})")
        return WorkerProbe(ChildSession(cdp, worker["sessionId"], pump)), how
    except Exception as error:  # noqa: BLE001 - try the browser-level way
        log(f"  routes: worker by auto-attach failed ({error}); trying the browser session")
    how = "browser session, Target.attachToTarget flatten=false + Target.sendMessageToTarget"
    try:
        browser_cdp = playwright_browser.new_browser_cdp_session()
        targets = browser_cdp.send("Target.getTargets")["targetInfos"]
        worker = next((t for t in targets if t["type"] == "worker" and "worker" in t.get("url", "")), None)
        if worker is None:
            return None, f"no worker target in Target.getTargets ({sorted({t['type'] for t in targets})})"
        sid = browser_cdp.send("Target.attachToTarget", {"targetId": worker["targetId"], "flatten": False})["sessionId"]
        return WorkerProbe(ChildSession(browser_cdp, sid, pump)), how
    except Exception as error:  # noqa: BLE001
        return None, f"the worker's CDP session could not be opened: {error}"


def _collector_stats(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/_collector/stats.json", timeout=30) as response:
        return json.loads(response.read())


def run_routes(playwright: Playwright, chromium: str, args: list[str], base_url: str, *, routes: int = 200,
               every: int = 25, viewport: dict[str, int] | None = None, init_script: str | None = None,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    browser = playwright.chromium.launch(executable_path=chromium, args=[*args, "--enable-precise-memory-info"])
    try:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 720})
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text[:300]))
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"[:300]))
        started = time.monotonic()
        page.goto(base_url + START_PATH, wait_until="commit")
        page.wait_for_selector(READY_SELECTOR, state="attached", timeout=90_000)
        state = page.evaluate("document.documentElement.dataset.gloodTracker")
        if state != "ready":
            raise RuntimeError(f"the tracker did not start: data-glood-tracker={state!r}")
        page.wait_for_function(ROUTE_DONE_JS, arg=START_PATH, timeout=ROUTE_TIMEOUT_MS)
        cdp = context.new_cdp_session(page)
        cdp.send("Runtime.enable")
        cdp.send("HeapProfiler.enable")
        probe, how = _attach_worker(page, cdp, browser, log)
        log(f"  routes: worker probe: {how}")

        def sample(done: int) -> dict[str, Any]:
            status = page.evaluate("""() => Promise.race([window.gloodTracker.status(),
                new Promise((r) => setTimeout(() => r('timeout'), 10000))])""")
            cdp.send("HeapProfiler.collectGarbage")
            usage = cdp.send("Runtime.getHeapUsage")
            entry: dict[str, Any] = {"routes": done, "t_s": round(time.monotonic() - started, 1),
                                     "page": page.evaluate(PAGE_SAMPLE_JS)}
            entry["page"]["cdp_heap"] = usage.get("usedSize")
            try:
                entry["sensor"] = _sensor_state(cdp)
            except Exception as error:  # noqa: BLE001
                entry["sensor"] = {"error": repr(error)[:300]}
            if probe is not None:
                try:
                    entry["worker"] = probe.sample()
                except Exception as error:  # noqa: BLE001
                    entry["worker"] = {"error": repr(error)[:300]}
            entry["status"] = status if isinstance(status, dict) else {"error": status}
            entry["collector"] = _collector_stats(base_url)
            s = entry["status"]
            log(f"  routes {done:4d}: page heap {_mb(entry['page']['heap'])} MB, worker heap "
                f"{_mb((entry.get('worker') or {}).get('heap'))} MB, DOM {entry['page']['dom_nodes']}, sections "
                f"{entry['page']['sections']}, watched {entry['sensor'].get('els')}, facts {s.get('facts')}, "
                f"pending {s.get('pending')}"
                + "".join(f"; {part} error: {entry[part]['error']}" for part in ("sensor", "worker")
                          if isinstance(entry.get(part), dict) and "error" in entry[part]))
            return entry

        samples = [sample(0)]
        steps: list[dict[str, Any]] = []
        for step in range(1, routes + 1):
            links = page.evaluate(LINKS_JS)
            if not links:
                raise RuntimeError(f"no in-app link on {page.url}")
            # In turn, spread over the page's links (a stride prime to most link counts), sorted for repeatability.
            links.sort(key=lambda link: (link["path"], link["i"]))
            choice = links[(step * 7) % len(links)]
            t0 = time.monotonic()
            page.locator('a[href^="/headless/"]').nth(choice["i"]).click(timeout=ROUTE_TIMEOUT_MS)
            page.wait_for_function(ROUTE_DONE_JS, arg=choice["path"], timeout=ROUTE_TIMEOUT_MS)
            steps.append({"path": choice["path"], "ms": round((time.monotonic() - t0) * 1000, 1),
                          "state": page.evaluate("document.getElementById('app').dataset.state")})
            if step % every == 0 or step == routes:
                samples.append(sample(step))
        elapsed = time.monotonic() - started
        # Let the last pages' events go, then the collectors' final counts.
        page.evaluate("() => window.gloodTracker.flush()")
        page.wait_for_timeout(1500)
        final_collector = _collector_stats(base_url)
        context.close()
    finally:
        browser.close()
    kinds: dict[str, int] = {}
    for s in steps:
        kind = s["path"][len(START_PATH):].split("/")[0] or "home"
        kinds[kind] = kinds.get(kind, 0) + 1
    result = {"routes": routes, "every": every, "worker_probe": how, "worker_probe_notes": probe.notes if probe else [],
              "samples": samples, "route_ms_median": statistics.median(s["ms"] for s in steps) if steps else None,
              "route_ms_max": max((s["ms"] for s in steps), default=None), "route_kinds": kinds,
              "route_errors": sum(1 for s in steps if s["state"] != "ready"), "duration_s": round(elapsed, 1),
              "collector_final": final_collector, "console_errors": errors[:20], "steps": steps}
    result["growth_per_100"] = _growth(samples)
    return result


# -- figures ---------------------------------------------------------------------------------

#: (label, getter) of the figures followed over the session.
def _series() -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    def wasm(e: dict[str, Any]) -> Any:
        m = (e.get("worker") or {}).get("wasm_memory")
        return sum(m) if isinstance(m, list) else None
    return [
        ("page_heap", lambda e: e["page"].get("heap")),
        ("page_heap_cdp", lambda e: e["page"].get("cdp_heap")),
        ("worker_heap", lambda e: (e.get("worker") or {}).get("heap")),
        ("worker_wasm_memory", wasm),
        ("worker_pyproxies", lambda e: (e.get("worker") or {}).get("pyproxies")),
        ("dom_nodes", lambda e: e["page"].get("dom_nodes")),
        ("sections_in_dom", lambda e: e["page"].get("sections")),
        ("sensor_watched_sections", lambda e: (e.get("sensor") or {}).get("els")),
        ("sensor_unjudged_facts", lambda e: (e.get("sensor") or {}).get("facts")),
        ("sensor_sent_ids", lambda e: (e.get("sensor") or {}).get("sent")),
        ("status_facts", lambda e: (e.get("status") or {}).get("facts")),
        ("status_pending", lambda e: (e.get("status") or {}).get("pending")),
        ("glood_accepted", lambda e: ((e.get("collector") or {}).get("glood") or {}).get("accepted")),
        ("genlook_accepted", lambda e: ((e.get("collector") or {}).get("genlook") or {}).get("accepted")),
    ]


def _growth(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure: first, last, and the growth per 100 routes by least squares over the samples after the first
    25 routes (the first pages warm caches and JIT), and over all samples."""
    out: dict[str, Any] = {}
    for name, get in _series():
        points = [(e["routes"], get(e)) for e in samples]
        points = [(x, float(y)) for x, y in points if isinstance(y, (int, float))]
        if len(points) < 2:
            out[name] = None
            continue
        later = [p for p in points if p[0] >= 25] if len([p for p in points if p[0] >= 25]) >= 2 else points
        out[name] = {"first": points[0][1], "last": points[-1][1], "per_100": _slope(points) * 100,
                     "per_100_after_25": _slope(later) * 100}
    return out


def _slope(points: list[tuple[float, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def _mb(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value / 1_048_576:.2f}"


def routes_table(r: dict[str, Any]) -> str:
    lines = [f"Long session: {r['routes']} client-side route changes on /headless/ (link clicks; "
             f"{r['duration_s']} s, median {r['route_ms_median']:.0f} ms / max {r['route_ms_max']:.0f} ms per route; "
             + ", ".join(f"{k} {v}" for k, v in sorted(r["route_kinds"].items())) + ")"]
    head = ("routes", "page MB", "worker MB", "wasm MB", "PyProxy", "DOM", "sections", "watched", "unjudged",
            "sent ids", "facts", "pending", "glood", "genlook")
    lines.append("".join(f"{h:>10}" for h in head))
    for e in r["samples"]:
        w, s, st, c = e.get("worker") or {}, e.get("sensor") or {}, e.get("status") or {}, e.get("collector") or {}
        wasm = w.get("wasm_memory")
        cells = (e["routes"], _mb(e["page"].get("heap")), _mb(w.get("heap")),
                 _mb(sum(wasm)) if isinstance(wasm, list) else "-", w.get("pyproxies"), e["page"].get("dom_nodes"),
                 e["page"].get("sections"), s.get("els"), s.get("facts"), s.get("sent"), st.get("facts"),
                 st.get("pending"), (c.get("glood") or {}).get("accepted"), (c.get("genlook") or {}).get("accepted"))
        lines.append("".join(f"{'-' if v is None else v:>10}" for v in cells))
    lines.append("Growth per 100 routes (least squares over the samples from 25 routes on; all samples):")
    for name, g in (r.get("growth_per_100") or {}).items():
        if not g:
            continue
        mb = name in ("page_heap", "page_heap_cdp", "worker_heap", "worker_wasm_memory")
        f = (lambda v: f"{v / 1_048_576:+.3f} MB") if mb else (lambda v: f"{v:+,.1f}")
        first = f"{g['first'] / 1_048_576:.2f} MB" if mb else f"{g['first']:,.0f}"
        last = f"{g['last'] / 1_048_576:.2f} MB" if mb else f"{g['last']:,.0f}"
        lines.append(f"  {name:<26}{first:>14} -> {last:<14}{f(g['per_100_after_25']):>16}{f(g['per_100']):>16}")
    stats = (r["samples"][-1].get("status") or {}).get("stats")
    if stats:
        lines.append("  status().stats at the end: " + ", ".join(f"{k} {v:,}" for k, v in stats.items() if v))
    lines.append("  ('watched' is the sensor's map of observed sections, as status().watched reports it; 'unjudged' "
                 "its facts not yet dropped, 'sent ids' its set of ids sent: both read through CDP)")
    if r.get("worker_probe_notes"):
        lines.append("  worker probe notes: " + "; ".join(r["worker_probe_notes"]))
    if r.get("console_errors"):
        lines.append(f"  console errors: {len(r['console_errors'])} (first: {r['console_errors'][0][:120]})")
    return "\n".join(lines)

"""Python ready per engine (Chromium, Firefox ESR, WebKitGTK): cold / warm / return pages with each boot lever on and
off, a bare-Pyodide control page, and event → collector latency on a return-visit browse.

Part of `--only boot` (bench/run.py). Its own demo store (with `/_bench/bare`, below) and one browser per engine
and run (a fresh profile): Chromium through Playwright, Firefox and WebKit through tests/engines/drivers.py.

Per run and engine, in one browser session:

- cold: the product page, first visit (empty HTTP cache, nothing stored);
- then the page stays until its worker has made the memory snapshot (`status().boot.made`, worker.mjs), and the
  maker's timings are kept (boot, snapshot, stored bytes);
- later pages (the HTTP cache warm), twice each, in every combination of the two levers:
  the snapshot (off: localStorage `glood_tracker:snapshot` = "off", the worker's switch) and the early start
  (off: localStorage `glood_tracker:warm` removed, so the sensor starts the worker after `load`). The switches are
  set from the page before, right before each navigation (Firefox and WebKit have no init scripts here).
  "warm" = both off (a plain boot from the HTTP cache); "return" = both on;
- bare: `/_bench/bare`, a page that starts a worker at once which only runs `loadPyodide` with the build's
  lockfile and stdlib (no tracker), three times (HTTP cache warm): the control the target is measured against
  (return ready ≤ 0.5 × bare ready, same browser and run);
- latency: on a return page, 20 `track()` calls 150 ms apart; for each, the collector's `received_at` less the
  page's clock at the call (p50 / p95; the tracker batches, so this includes its flush interval).

Ready = the worker's epoch time at `ready` (status().boot.ready_at) less the page's `performance.timeOrigin`
(navigation start); bare ready likewise from its worker's message. Worker CPU per page is not measured here (no
engine gives a dedicated worker's CPU time to a driver); `boot.ms` (runtime, read, import) is reported instead.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from demo_store.app import Settings
from demo_store.live import LiveServer

from .server import BenchApp

__all__ = ["run_boot_engines", "table", "ENGINES"]

ENGINES = ("chromium", "firefox", "webkit")
PAGES = ("/products/classic-oxford-shirt", "/collections/all", "/", "/products/linen-camp-shirt")
SNAPSHOT_OFF = "glood_tracker:snapshot"
WARM = "glood_tracker:warm"
READY = "html[data-glood-tracker=ready], html[data-glood-tracker=error]"
COMBOS = (("warm", False, False), ("snapshot", True, False), ("early", False, True), ("return", True, True))

BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bare Pyodide</title></head><body>
<p>A worker that only runs loadPyodide (the benchmark's control).</p>
<script type="module">
const rt = %s;
const abs = (u) => new URL(u, location.href).href;
const worker = new Worker("/_bench/bare-worker.mjs", { type: "module" });
worker.onmessage = (event) => {
  window.__bare = { ...event.data, ready_ms: event.data.at - performance.timeOrigin };
  document.documentElement.dataset.bare = event.data.error ? "error" : "ready";
};
worker.postMessage({ pyodide: abs(rt.pyodide), index: abs(rt.index), lock: abs(rt.lock), stdlib: abs(rt.stdlib) });
</script></body></html>
"""
BARE_WORKER = """self.onmessage = async ({ data }) => {
  const began = performance.now();
  try {
    const { loadPyodide } = await import(data.pyodide);
    await loadPyodide({ indexURL: data.index, lockFileURL: data.lock, stdLibURL: data.stdlib });
    self.postMessage({ at: performance.timeOrigin + performance.now(), load_ms: performance.now() - began });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
"""


class BareApp:
    """The bench store plus `/_bench/bare` (the control page) and its worker script."""

    def __init__(self, app: BenchApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/_bench/bare":
            runtime = self.app.store.state.demo.tracker.manifest()["runtime"]
            await _send(send, BARE_PAGE % json.dumps(runtime), "text/html; charset=utf-8")
        elif path == "/_bench/bare-worker.mjs":
            await _send(send, BARE_WORKER, "text/javascript")
        else:
            await self.app(scope, receive, send)


async def _send(send: Send, text: str, kind: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


class _Chromium:
    """Chromium through Playwright with the drivers' few methods (goto, evaluate, wait_for_selector, close)."""

    name = "chromium"

    def __init__(self, executable: str, args: list[str]) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=executable, args=args)
        self.version = self._browser.version
        self._page = self._browser.new_context(viewport={"width": 1280, "height": 720}).new_page()

    def goto(self, url: str, timeout: float = 60.0) -> None:
        self._page.goto(url, wait_until="load", timeout=timeout * 1000)

    def evaluate(self, source: str, arg: Any = None, timeout: float = 60.0) -> Any:
        return self._page.evaluate(source, arg)

    def wait_for_selector(self, selector: str, timeout: float = 30.0) -> None:
        self._page.wait_for_selector(selector, state="attached", timeout=timeout * 1000)

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


@contextmanager
def _engine(name: str, chromium: str, chromium_args: list[str]) -> Iterator[Any]:
    if name == "chromium":
        engine: Any = _Chromium(chromium, chromium_args)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.engines.drivers import launch

        engine = launch(name)
    try:
        yield engine
    finally:
        engine.close()


def _missing(name: str) -> str | None:
    if name == "chromium":
        return None
    from tests.engines.drivers import missing

    return missing(name)


def _page(engine: Any, url: str, *, snapshot: bool, early: bool) -> dict[str, Any]:
    """Set the levers' switches from the current page, navigate, wait for ready; the page's boot figures."""
    try:
        engine.evaluate("""([key, on, warm, early]) => {
            if (on) localStorage.removeItem(key); else localStorage.setItem(key, 'off');
            if (!early) localStorage.removeItem(warm);
        }""", [SNAPSHOT_OFF, snapshot, WARM, early])
    except Exception:  # noqa: BLE001 - no page of the origin yet (the first navigation): nothing stored anyway
        pass
    engine.goto(url, timeout=120)
    engine.wait_for_selector(READY, timeout=120)
    data = engine.evaluate("""() => window.gloodTracker.status().then((s) => ({boot: s.boot,
        origin: performance.timeOrigin, state: document.documentElement.dataset.gloodTracker,
        warm: localStorage.getItem('glood_tracker:warm') !== null}))""")
    boot = data["boot"] or {}
    return {"ready_ms": boot.get("ready_at", 0) - data["origin"] if boot.get("ready_at") else None,
            "snapshot": boot.get("snapshot"), "ms": boot.get("ms"), "state": data["state"]}


def _wait_made(engine: Any, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        boot = engine.evaluate("() => window.gloodTracker.status().then((s) => s.boot)")
        if boot.get("made") not in (None, "making") or time.monotonic() > deadline:
            return {"made": boot.get("made"), **(boot.get("make") or {})}
        time.sleep(0.5)


def _bare(engine: Any, base: str) -> dict[str, Any]:
    engine.goto(base + "/_bench/bare", timeout=120)
    engine.wait_for_selector("html[data-bare]", timeout=120)
    result: dict[str, Any] = engine.evaluate("() => window.__bare")
    return result


def _latency(engine: Any, base: str, n: int = 20, gap_ms: int = 150) -> dict[str, Any]:
    sent = engine.evaluate("""async ([n, gap]) => {
        const out = [];
        for (let i = 0; i < n; i++) {
            const at = performance.timeOrigin + performance.now();
            out.push([await window.gloodTracker.track('checkout_started', {checkout: {token: 'lat-' + i}}), at]);
            await new Promise((r) => setTimeout(r, gap));
        }
        return out;
    }""", [n, gap_ms], timeout=120)
    ids = {event_id: at for event_id, at in sent if event_id}
    deadline = time.monotonic() + 60
    got: dict[str, dict[str, float]] = {"glood": {}, "genlook": {}}
    while time.monotonic() < deadline and any(len(v) < len(ids) for v in got.values()):
        for destination in got:
            with urllib.request.urlopen(f"{base}/_collector/events.json?destination={destination}&limit=1000",
                                        timeout=10) as answer:
                for event in json.load(answer):
                    if event.get("event_id") in ids and event["event_id"] not in got[destination]:
                        received = _epoch_ms(event["received_at"])
                        got[destination][event["event_id"]] = received - ids[event["event_id"]]
        time.sleep(0.5)
    return {d: {"n": len(v), "p50_ms": _pct(list(v.values()), 0.5), "p95_ms": _pct(list(v.values()), 0.95)}
            for d, v in got.items()} | {"sent": len(ids)}


def _epoch_ms(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _one_run(engine: Any, base: str, log: Callable[[str], None]) -> dict[str, Any]:
    run: dict[str, Any] = {"version": getattr(engine, "version", "")}
    run["cold"] = _page(engine, base + PAGES[0], snapshot=True, early=True)
    run["make"] = _wait_made(engine)
    pages: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in COMBOS}
    step = 1
    for _ in range(2):
        for label, snapshot, early in COMBOS:
            pages[label].append(_page(engine, base + PAGES[step % len(PAGES)], snapshot=snapshot, early=early))
            step += 1
    run["pages"] = pages
    run["bare"] = [_bare(engine, base) for _ in range(3)]
    # Back to the store for the latency browse (a return page: both levers on).
    _page(engine, base + PAGES[1], snapshot=True, early=True)
    run["latency"] = _latency(engine, base)
    return run


def run_boot_engines(settings: Settings, chromium: str, chromium_args: list[str], runs: int = 2,
                     engines: tuple[str, ...] = ENGINES, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every engine that is installed, `runs` fresh sessions each; raw runs and a summary per engine."""
    app = BenchApp(settings)
    server = LiveServer(BareApp(app), name="bench-boot-engines")
    out: dict[str, Any] = {"runs": runs, "engines": {}}
    try:
        for name in engines:
            absent = _missing(name)
            if absent:
                out["engines"][name] = {"skipped": absent}
                log(f"  boot engines: {name} skipped ({absent})")
                continue
            raw: list[dict[str, Any]] = []
            for index in range(runs):
                try:
                    with _engine(name, chromium, chromium_args) as engine:
                        run = _one_run(engine, server.url, log)
                except Exception as error:  # noqa: BLE001 - recorded; the other runs and engines go on
                    run = {"error": repr(error)[:500]}
                raw.append(run)
                log(f"  boot engines: {name} run {index + 1}/{runs} " + _line(run))
            out["engines"][name] = {"raw": raw, "summary": _summary(raw)}
    finally:
        server.stop()
    return out


def _line(run: dict[str, Any]) -> str:
    if "error" in run:
        return f"failed: {run['error']}"
    pages = run["pages"]
    bare = [b.get("ready_ms") for b in run["bare"]]
    return (f"cold {_ms(run['cold']['ready_ms'])}  warm {_ms(_med([p['ready_ms'] for p in pages['warm']]))}  "
            f"snapshot {_ms(_med([p['ready_ms'] for p in pages['snapshot']]))}  "
            f"early {_ms(_med([p['ready_ms'] for p in pages['early']]))}  "
            f"return {_ms(_med([p['ready_ms'] for p in pages['return']]))}  bare {_ms(_med(bare))}  "
            f"made {run['make'].get('made')} in {_ms(run['make'].get('ms'))}  "
            f"restored {[p['snapshot'] for p in pages['return']]}")


def _med(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(numbers) if numbers else None


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value / 1000:.2f} s"


def _summary(raw: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in raw if "error" not in r]
    summary: dict[str, Any] = {"runs": len(good), "failed": len(raw) - len(good)}
    if not good:
        return summary
    summary["cold_ms"] = _med([r["cold"]["ready_ms"] for r in good])
    for label, _, _ in COMBOS:
        values = [p["ready_ms"] for r in good for p in r["pages"][label]]
        summary[f"{label}_ms"] = _med(values)
        summary[f"{label}_range_ms"] = [min(values), max(values)] if all(v is not None for v in values) else None
        summary[f"{label}_snapshot"] = sorted({str(p["snapshot"]) for r in good for p in r["pages"][label]})
        summary[f"{label}_boot_ms"] = {k: _med([(p["ms"] or {}).get(k) for r in good for p in r["pages"][label]])
                                       for k in ("runtime", "read", "import", "ready")}
    bare = [b.get("ready_ms") for r in good for b in r["bare"]]
    summary["bare_ms"] = _med(bare)
    summary["bare_load_ms"] = _med([b.get("load_ms") for r in good for b in r["bare"]])
    summary["return_over_bare"] = (summary["return_ms"] / summary["bare_ms"]
                                   if summary.get("return_ms") and summary.get("bare_ms") else None)
    summary["make"] = {k: _med([r["make"].get(k) for r in good]) for k in ("ms", "boot_ms", "bytes", "stored_bytes")}
    summary["made"] = sorted({str(r["make"].get("made")) for r in good})
    for destination in ("glood", "genlook"):
        summary[f"latency_{destination}"] = {k: _med([r["latency"][destination][k] for r in good])
                                             for k in ("p50_ms", "p95_ms")}
    summary["version"] = good[0].get("version")
    return summary


def table(results: dict[str, Any]) -> list[str]:
    """The boot table per engine (median of runs; ready = navigation start → Python ready)."""
    engines = results.get("engines") or {}
    if not engines:
        return []
    lines = ["", "Python ready per engine (navigation → ready, medians; warm = later page, both levers off; "
             "return = snapshot + early start)",
             f"{'engine':10s} {'cold':>7s} {'warm':>7s} {'snap':>7s} {'early':>7s} {'return':>7s} {'bare':>7s} "
             f"{'ret/bare':>8s} {'make':>7s} {'stored':>8s} {'lat p50/p95 (glood)':>20s}"]
    for name, entry in engines.items():
        if "skipped" in entry:
            lines.append(f"{name:10s} skipped: {entry['skipped']}")
            continue
        s = entry["summary"]
        if not s.get("runs"):
            lines.append(f"{name:10s} every run failed: {entry['raw'][0].get('error')}")
            continue
        ratio = s.get("return_over_bare")
        lat = s["latency_glood"]
        stored = s["make"].get("stored_bytes")
        lines.append(f"{name:10s} {_ms(s['cold_ms']):>7s} {_ms(s['warm_ms']):>7s} {_ms(s['snapshot_ms']):>7s} "
                     f"{_ms(s['early_ms']):>7s} {_ms(s['return_ms']):>7s} {_ms(s['bare_ms']):>7s} "
                     f"{(f'{ratio:.2f}' if ratio else '-'):>8s} {_ms(s['make'].get('ms')):>7s} "
                     f"{(f'{stored / 1e6:.1f} MB' if stored else '-'):>8s} "
                     f"{_ms(lat['p50_ms'])} / {_ms(lat['p95_ms']):>8s}")
        lines.append(f"{'':10s} snapshot states: return {s['return_snapshot']}, warm {s['warm_snapshot']}; "
                     f"made {s['made']}; return boot ms {s['return_boot_ms']}; warm boot ms {s['warm_boot_ms']}")
    return lines

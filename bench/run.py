"""The tracker benchmark: boot, bytes, long tasks, per-event cost and delivery, in Debian's Chromium.

    .venv/bin/python -m bench [--quick] [--runs N] [--navigations N] [--out DIR]
    .venv/bin/python -m bench --only lighthouse [--lighthouse-runs N] [--lighthouse-devtools-runs N]

Starts its own demo stores (port 0, temp SQLite), prints a table and writes JSON to `bench-results/`.
Not part of the test suite: it measures, it does not pass or fail. The Lighthouse part (Shopify's
app-listing check, bench/lighthouse.py) takes ~9 minutes, so it runs only when asked for with `--only`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from demo_store.app import Settings
from demo_store.settings import REPO_ROOT

from .lighthouse import lighthouse_table, run_lighthouse
from .server import BenchApp, LiveServer, start_store

__all__ = ["main"]

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Offline by resolver (not by page.route(), which breaks preflighted beacons).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 720}
PAGE_PATH = "/products/classic-oxford-shirt"
NAV_PATHS = ("/products/classic-oxford-shirt", "/collections/all", "/", "/products/linen-camp-shirt", "/cart")
#: Requests the tracker is responsible for: the runtime (Pyodide, PyScript) and the tracker's own files.
TRACKER_PREFIXES = ("/static/vendor/", "/static/tracker/")
BOOT_TIMEOUT_MS = 90_000
SETTLE_MS = 750
#: The visits of one boot run: first visit on an empty profile, again in the same browser, and again
#: from a new browser session on the same profile.
VISITS = ("cold", "warm", "return")
#: Network profiles for `--network` (CDP Network.emulateNetworkConditions); "none" = plain localhost.
NETWORKS: dict[str, dict[str, float] | None] = {
    "none": None,
    "fast": {"latency": 40, "download_mbit": 20, "upload_mbit": 5},
    "slow": {"latency": 150, "download_mbit": 4, "upload_mbit": 1},
}

#: Registered before any page script: long tasks, long animation frames, the moment of readiness.
INIT_SCRIPT = """(() => {
  if (window.__bench) return;
  const B = window.__bench = {longtasks: [], loaf: [], ready: null};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longtasks.push({start: e.startTime, duration: e.duration});
    }).observe({type: 'longtask', buffered: true});
  } catch (e) {}
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.loaf.push({start: e.startTime, duration: e.duration,
        blocking: e.blockingDuration, scripts: e.scripts.map((s) => ({url: s.sourceURL,
        fn: s.sourceFunctionName, invoker: s.invoker, duration: s.duration}))});
    }).observe({type: 'long-animation-frame', buffered: true});
  } catch (e) {}
  const mark = () => {
    if (B.ready === null && document.documentElement && document.documentElement.dataset.gloodTracker === 'ready')
      B.ready = performance.now();
  };
  new MutationObserver(mark).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-glood-tracker']});
})();"""

COLLECT_JS = """() => {
  const B = window.__bench || {longtasks: [], loaf: [], ready: null};
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const paint = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : null; };
  return {ready: B.ready, fcp: paint('first-contentful-paint'), first_paint: paint('first-paint'),
          dcl: nav.domContentLoadedEventEnd || null, load: nav.loadEventEnd || null,
          longtasks: B.longtasks, loaf: B.loaf,
          resources: performance.getEntriesByType('resource').map((r) => ({
            url: r.name, initiator: r.initiatorType, transfer: r.transferSize, encoded: r.encodedBodySize,
            decoded: r.decodedBodySize, start: Math.round(r.startTime), end: Math.round(r.responseEnd)}))};
}"""

#: Per-event cost: `track()` timed alone, then `flush()` of the batch, `reps` times; beacons drain in between.
PER_EVENT_JS = """async ({batch, reps, warmup}) => {
  const t = window.gloodTracker;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const custom = {track: {section: '221939', sectionServeId: '2ec3ae42-40f4-4c5e-9b0b-6f0d8c1f0a11',
    requestId: '1776322091-05bd288e', recommendationType: 'similar_products',
    parent: {productId: '15441118822774', variantId: '56640794886518'},
    products: [1, 2, 3, 4].map((i) => ({productId: String(15441118822774 + i * 131), variantId: null, quantity: 1}))}};
  for (let i = 0; i < warmup; i++) t.track('glood:section:view', {}, custom);
  t.flush();
  await sleep(200);
  const track = [], flush = [], sent = [];
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < batch; i++) {
      const t0 = performance.now();
      t.track('glood:section:view', {}, custom);
      track.push(performance.now() - t0);
    }
    const t0 = performance.now();
    sent.push(t.flush());
    flush.push(performance.now() - t0);
    await sleep(60);
  }
  const loop0 = performance.now();
  for (let i = 0; i < batch * 5; i++) t.track('glood:section:view', {}, custom);
  const loop = (performance.now() - loop0) / (batch * 5);
  t.flush();
  await sleep(200);
  // Reference: the same number of beacons with bodies of the same shape, sent from plain JavaScript
  // (to a path that answers 404), so the share of flush() spent outside Python is visible.
  const event = (i) => ({id: crypto.randomUUID(), name: 'glood:section:view', type: 'custom',
    timestamp: new Date().toISOString(), data: {}, customData: custom});
  const page = {session_id: crypto.randomUUID(), user_id: crypto.randomUUID(), client_id: crypto.randomUUID(),
    shop_domain: 'demo-store.myshopify.com', channel: 'web', page_type: 'product', page_url: location.href};
  const blob = (o) => new Blob([JSON.stringify(o)], {type: 'application/json'});
  const beacons = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) navigator.sendBeacon('/_bench/sink', blob({event: event(i), ...page}));
    navigator.sendBeacon('/_bench/sink', blob({events: Array.from({length: batch}, (_, i) => ({
      event: 'section:view', timestamp: new Date().toISOString(), $insert_id: crypto.randomUUID(),
      properties: custom.track})), context: page}));
    beacons.push(performance.now() - t0);
    await sleep(60);
  }
  return {track, flush, sent, loop, beacons};
}"""


# -- small helpers -------------------------------------------------------------------------

def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class NetLog:
    """Bytes on the wire per request from CDP (`Network.loadingFinished.encodedDataLength`, headers included)."""

    def __init__(self, context: BrowserContext, page: Page, network: dict[str, float] | None = None) -> None:
        self.requests: dict[str, dict[str, Any]] = {}
        self.session = context.new_cdp_session(page)
        self.session.on("Network.requestWillBeSent", self._sent)
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.requestServedFromCache", self._cached)
        self.session.on("Network.loadingFinished", self._finished)
        self.session.send("Network.enable")
        if network is not None:
            self.session.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": network["latency"],
                "downloadThroughput": network["download_mbit"] * 1_000_000 / 8,
                "uploadThroughput": network["upload_mbit"] * 1_000_000 / 8})

    def clear(self) -> None:
        self.requests.clear()

    def _entry(self, request_id: str) -> dict[str, Any]:
        return self.requests.setdefault(request_id, {"url": "", "bytes": None, "status": None, "cache": None})

    def _sent(self, params: dict[str, Any]) -> None:
        self._entry(params["requestId"])["url"] = params["request"]["url"]

    def _response(self, params: dict[str, Any]) -> None:
        entry, response = self._entry(params["requestId"]), params["response"]
        entry["status"] = response.get("status")
        entry["encoding"] = {k.lower(): v for k, v in response.get("headers", {}).items()}.get("content-encoding")
        if response.get("fromDiskCache"):
            entry["cache"] = "disk"
        elif response.get("fromPrefetchCache"):
            entry["cache"] = "prefetch"

    def _cached(self, params: dict[str, Any]) -> None:
        self._entry(params["requestId"])["cache"] = self._entry(params["requestId"])["cache"] or "memory"

    def _finished(self, params: dict[str, Any]) -> None:
        self._entry(params["requestId"])["bytes"] = int(params.get("encodedDataLength", 0))

    def tracker_requests(self) -> list[dict[str, Any]]:
        found = []
        for entry in self.requests.values():
            path = urllib.parse.urlsplit(entry["url"]).path
            if entry["url"].startswith("http") and path.startswith(TRACKER_PREFIXES):
                found.append({**entry, "path": path})
        return sorted(found, key=lambda e: e["path"])


# -- measurements ---------------------------------------------------------------------------

@dataclass
class Bench:
    playwright: Playwright
    browser: Browser
    app: BenchApp
    base_url: str
    log: Callable[[str], None] = print
    results: dict[str, Any] = field(default_factory=dict)
    incognito: bool = False
    network: dict[str, float] | None = None

    def new_context(self, init_config: dict[str, Any] | None = None) -> BrowserContext:
        """An incognito context of the shared browser (in-memory HTTP cache)."""
        context = self.browser.new_context(viewport=VIEWPORT)
        context.add_init_script(INIT_SCRIPT)
        if init_config is not None:
            context.add_init_script(f"window.gloodTrackerConfig = {json.dumps(init_config)};")
        return context

    @contextlib.contextmanager
    def profile(self) -> Iterator[Callable[[], BrowserContext]]:
        """A fresh profile (empty cache); call the yielded function to start a browser session on it.

        By default each session is a new browser on the same profile directory, so the HTTP cache is on
        disk and V8's code cache works as for a shopper who comes back another day. With `--incognito`
        there is one in-memory context (whose largest cache entry is 1/8 of at most 50 MB) and a
        "new session" is the same context.
        """
        if self.incognito:
            context = self.new_context()
            try:
                yield lambda: context
            finally:
                context.close()
            return
        with tempfile.TemporaryDirectory(prefix="glood-bench-profile-") as directory:
            opened: list[BrowserContext] = []

            def session() -> BrowserContext:
                while opened:
                    opened.pop().close()
                context = self.playwright.chromium.launch_persistent_context(
                    directory, executable_path=CHROMIUM, args=OFFLINE_ARGS, viewport=VIEWPORT)
                context.add_init_script(INIT_SCRIPT)
                opened.append(context)
                return context

            try:
                yield session
            finally:
                while opened:
                    opened.pop().close()

    def visit(self, page: Page, net: NetLog, url: str, *, runtime: bool) -> dict[str, Any]:
        """One navigation: wait for readiness (or the load event without a runtime), settle, collect."""
        net.clear()
        page.goto(url, wait_until="load" if not runtime else "commit", timeout=BOOT_TIMEOUT_MS)
        if runtime:
            page.wait_for_function("window.__bench && window.__bench.ready !== null", timeout=BOOT_TIMEOUT_MS)
        page.wait_for_timeout(SETTLE_MS)
        data = page.evaluate(COLLECT_JS)
        tracker = net.tracker_requests()
        data["tracker_requests"] = tracker
        data["tracker_bytes"] = sum(r["bytes"] or 0 for r in tracker)
        data["tracker_request_count"] = len(tracker)
        data["tracker_from_cache"] = sum(1 for r in tracker if r["cache"])
        data["tracker_not_modified"] = sum(1 for r in tracker if r["status"] == 304)
        data["longtask_count"] = len(data["longtasks"])
        data["longtask_ms"] = sum(t["duration"] for t in data["longtasks"])
        data["blocking_ms"] = sum(max(0.0, t["duration"] - 50) for t in data["longtasks"])
        data["longtask_max_ms"] = max((t["duration"] for t in data["longtasks"]), default=0.0)
        data["loaf_by_script"] = _loaf_by_script(data.pop("loaf"))
        return data

    def boot(self, runs: int, compare: dict[str, str] | None = None, reference: bool = True) -> None:
        """Per variant and run: a first visit on a fresh profile (cold), a second visit in the same browser
        (warm), and a visit from a new browser session on that profile (return: disk and code caches only).

        With `compare` ({label: base URL} of other running stores, e.g. an older checkout), their tracker
        pages are measured too, interleaved with ours, so all see the same machine load.
        """
        variants = {"tracker": self.base_url + PAGE_PATH}
        for label, url in (compare or {}).items():
            variants[f"compare:{label}"] = url.rstrip("/") + PAGE_PATH
        if reference:
            variants.update({"pyscript": f"{self.base_url}/_bench/pyscript{PAGE_PATH}",
                             "pyodide": f"{self.base_url}/_bench/pyodide{PAGE_PATH}",
                             "none": f"{self.base_url}/_bench/none{PAGE_PATH}"})
        raw: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in variants}
        for run in range(runs):
            for name, url in variants.items():
                series = []
                with self.profile() as session:
                    context = None
                    for visit in VISITS:
                        if context is None or visit == "return":
                            fresh = session()
                            if fresh is not context:
                                context = fresh
                                page = context.pages[0] if context.pages else context.new_page()
                                net = NetLog(context, page, self.network)
                        series.append(self.visit(page, net, url, runtime=name != "none"))
                raw[name].append(series)
                cold, warm, back = series
                self.log(f"  boot run {run + 1}/{runs} {name:10s} ready cold {_ms(cold['ready'])} "
                         f"warm {_ms(warm['ready'])} return {_ms(back['ready'])}  fcp {_ms(cold['fcp'])}"
                         f"  tracker bytes {cold['tracker_bytes']:,} / {warm['tracker_bytes']:,}"
                         f" / {back['tracker_bytes']:,}")
        self.results["boot_raw"] = raw
        summary: dict[str, Any] = {}
        for name, runs_ in raw.items():
            summary[name] = {}
            for index, label in enumerate(VISITS):
                visits_ = [series[index] for series in runs_]
                summary[name][label] = {
                    key: median([v[key] for v in visits_])
                    for key in ("ready", "fcp", "dcl", "load", "tracker_bytes", "tracker_request_count",
                                "tracker_from_cache", "tracker_not_modified", "longtask_count", "longtask_ms",
                                "blocking_ms", "longtask_max_ms")}
                summary[name][label]["ready_range"] = [min((v["ready"] or 0) for v in visits_),
                                                       max((v["ready"] or 0) for v in visits_)]
        self.results["boot"] = summary
        # Which files the tracker page fetched, from the first run (first and repeat visit).
        first = raw["tracker"][0]
        self.results["tracker_files"] = {
            "first_visit": [{k: r.get(k) for k in ("path", "bytes", "status", "cache", "encoding")}
                            for r in first[0]["tracker_requests"]],
            "repeat_visit": [{k: r.get(k) for k in ("path", "bytes", "status", "cache", "encoding")}
                             for r in first[1]["tracker_requests"]],
            "return_visit": [{k: r.get(k) for k in ("path", "bytes", "status", "cache", "encoding")}
                             for r in first[2]["tracker_requests"]]}

    def per_event(self, batch: int = 20, reps: int = 25) -> None:
        """track() cost and flush cost inside the page, through the public JavaScript API."""
        context = self.new_context({"flush_interval_ms": 600000, "max_batch": 100000})
        page = context.new_page()
        page.goto(self.base_url + PAGE_PATH, wait_until="commit")
        page.wait_for_function("window.__bench && window.__bench.ready !== null", timeout=BOOT_TIMEOUT_MS)
        # Wait for the visit id (the page events go out with it), so Glood bodies can be encoded and sent.
        page.wait_for_function("window.gloodTracker.pending() === 0", timeout=30_000)
        result = page.evaluate(PER_EVENT_JS, {"batch": batch, "reps": reps, "warmup": 50})
        context.close()
        track_us = [t * 1000 for t in result["track"]]
        flush_us = [t * 1000 for t in result["flush"]]
        self.results["per_event"] = {
            "batch": batch, "reps": reps,
            "track_us_median": median(track_us), "track_us_p95": percentile(track_us, 0.95),
            "track_us_loop_mean": result["loop"] * 1000,
            "flush_us_median": median(flush_us), "flush_us_p95": percentile(flush_us, 0.95),
            "flush_us_per_event": (median(flush_us) or 0) / batch,
            "flush_sent": result["sent"],
            "js_beacons_us_median": median([t * 1000 for t in result["beacons"]]),
            "note": "performance.now() is coarsened to 100 us without cross-origin isolation; "
                    "track_us_loop_mean times 5*batch calls in one loop; flush_sent counts events per "
                    "destination (batch x 2); js_beacons_us_median = batch + 1 sendBeacon calls of the "
                    "same shape from plain JavaScript",
        }

    def delivery(self, server_url: str, collector_url: str, navigations: int, events: int, label: str) -> None:
        """`navigations` page views, each firing `events` track() calls right before page.goto elsewhere."""
        context = self.new_context({"flush_interval_ms": 600000, "max_batch": 1000})
        page = context.new_page()
        fired: list[str] = []
        not_ready = 0
        for index in range(navigations):
            page.goto(server_url + NAV_PATHS[index % len(NAV_PATHS)], wait_until="commit")
            try:
                page.wait_for_function("document.documentElement.dataset.gloodTracker === 'ready'",
                                       timeout=BOOT_TIMEOUT_MS)
            except Exception:  # noqa: BLE001 - counted, the run goes on
                not_ready += 1
                continue
            ids = page.evaluate("""(k) => Array.from({length: k}, (_, i) =>
                window.gloodTracker.track('checkout_started', {checkout: {token: 'bench-' + i}}))""", events)
            fired += [i for i in ids if i]
        page.goto(server_url + "/_collector", wait_until="load")  # the last page's pagehide
        collector = collector_url
        wanted = set(fired)
        stored: dict[str, set[str]] = {}
        deadline = time.monotonic() + 15
        while True:
            for destination in ("glood", "genlook"):
                items = _get_json(f"{collector}/_collector/events.json?destination={destination}&limit=1000")
                stored[destination] = {item["event_id"] for item in items} & wanted
            if all(len(s) == len(wanted) for s in stored.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        context.close()
        self.results.setdefault("delivery", {})[label] = {
            "navigations": navigations, "events_per_navigation": events, "fired": len(wanted),
            "not_ready": not_ready,
            **{f"{d}_stored": len(s) for d, s in stored.items()},
            **{f"{d}_fraction": (len(s) / len(wanted) if wanted else None) for d, s in stored.items()}}


def _loaf_by_script(frames: list[dict[str, Any]]) -> dict[str, float]:
    """Long-animation-frame script time by source (path of the script URL, or the invoker)."""
    totals: dict[str, float] = {}
    for frame in frames:
        for script in frame.get("scripts", []):
            url = script.get("url") or ""
            key = urllib.parse.urlsplit(url).path if url else f"({script.get('invoker') or 'unknown'})"
            totals[key] = totals.get(key, 0.0) + float(script.get("duration") or 0.0)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


# -- report -------------------------------------------------------------------------------

def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    boot = results.get("boot", {})
    runs = results["options"]["runs"]

    def row(label: str, *cells: str) -> None:
        lines.append(f"{label:<44}" + "".join(f"{c:>14}" for c in cells))

    if boot:
        opts = results["options"]
        cache = "incognito, in-memory cache" if opts.get("incognito") else "fresh profile, disk cache"
        lines.append(f"Boot, ms from navigation start (median of {runs} runs; {cache}; network: {opts.get('network')})")
        lines.append("  cold = empty profile; warm = 2nd visit, same browser; return = 3rd visit, new browser session"
                     + (" (incognito: same context)" if opts.get("incognito") else ""))
        row("", "cold", "warm", "return")
        compared = [(name, name.split(":", 1)[1]) for name in boot if name.startswith("compare:")]
        for name, label in (("tracker", "tracker page: tracker ready"),
                            *((n, f"  {c}: tracker ready") for n, c in compared),
                            ("pyscript", "PyScript only: Python ready"), ("pyodide", "Pyodide only: Python ready")):
            if name in boot:
                row(label, *(_fmt(boot[name][v]["ready"]) for v in VISITS))
        for name, label in (("tracker", "tracker page: first contentful paint"),
                            *((n, f"  {c}: first contentful paint") for n, c in compared),
                            ("none", "no runtime: first contentful paint")):
            if name in boot:
                row(label, *(_fmt(boot[name][v]["fcp"]) for v in VISITS))
        row("tracker page: DOMContentLoaded", *(_fmt(boot["tracker"][v]["dcl"]) for v in VISITS))
        t = boot["tracker"]["cold"]["ready"]
        p = boot.get("pyodide", {}).get("cold", {}).get("ready")
        s = boot.get("pyscript", {}).get("cold", {}).get("ready")
        if t and p and s:
            lines.append(f"  tracker's share over bare Pyodide (cold): {t - p:,.0f} ms "
                         f"(PyScript {s - p:,.0f} ms + tracker {t - s:,.0f} ms)")
        lines.append("")
        lines.append("Bytes on the wire for the tracker (/static/vendor + /static/tracker, headers included)")
        row("", "first visit", "repeat visit", "return visit")
        for name, prefix in (("tracker", ""), *((n, f"{c}: ") for n, c in compared)):
            if name not in boot:
                continue
            row(f"{prefix}bytes", *(f"{boot[name][v]['tracker_bytes']:,.0f}" for v in VISITS))
            row(f"{prefix}requests", *(f"{boot[name][v]['tracker_request_count']:.0f}" for v in VISITS))
            row("  served from cache", *(f"{boot[name][v]['tracker_from_cache']:.0f}" for v in VISITS))
            row("  304 Not Modified", *(f"{boot[name][v]['tracker_not_modified']:.0f}" for v in VISITS))
        lines.append("")
        lines.append("Main-thread long tasks until ready + 0.75 s (median per visit)")
        row("", "count", "total ms", "blocking ms", "longest ms")
        for name, label in (("tracker", "tracker page"), *compared, ("none", "no runtime (control)")):
            if name not in boot:
                continue
            for visit in VISITS if name != "none" else ("cold",):
                v = boot[name][visit]
                row(f"{label}, {visit}", f"{v['longtask_count']:.0f}", _fmt(v["longtask_ms"]), _fmt(v["blocking_ms"]),
                    _fmt(v["longtask_max_ms"]))
    if "per_event" in results:
        e = results["per_event"]
        lines.append("")
        lines.append(f"Per event inside the page, through window.gloodTracker (us; {e['reps']} batches of {e['batch']})")
        row("", "median", "p95", "loop mean")
        row("track() -> queued, per event", _fmt(e["track_us_median"]), _fmt(e["track_us_p95"]),
            _fmt(e["track_us_loop_mean"]))
        row(f"flush() of {e['batch']} events (encode + send)", _fmt(e["flush_us_median"]), _fmt(e["flush_us_p95"]), "")
        row("  flush per event", _fmt(e["flush_us_per_event"]), "", "")
        row(f"  reference: {e['batch'] + 1} sendBeacon() from plain JS", _fmt(e.get("js_beacons_us_median")), "", "")
    if "delivery" in results:
        lines.append("")
        lines.append("Delivery: events fired right after ready, then page.goto elsewhere (pagehide flush only)")
        row("", "fired", "glood", "genlook")
        for label, d in results["delivery"].items():
            row(f"{label} ({d['navigations']} x {d['events_per_navigation']})", str(d["fired"]),
                _pct(d.get("glood_fraction")), _pct(d.get("genlook_fraction")))
    if "lighthouse" in results:
        lines.append(lighthouse_table(results["lighthouse"]))
    return "\n".join(lines).strip("\n")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


# -- main ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few runs (2 boot runs, 5 navigations)")
    parser.add_argument("--runs", type=int, default=None, help="boot runs per variant (default 5, quick 2)")
    parser.add_argument("--navigations", type=int, default=None, help="delivery navigations (default 20, quick 5)")
    parser.add_argument("--events", type=int, default=5, help="events fired per navigation (default %(default)s)")
    parser.add_argument("--only", choices=["boot", "per-event", "delivery", "lighthouse"], action="append",
                        help="run only these parts (repeatable; default: boot, per-event, delivery; "
                             "lighthouse runs only when named)")
    parser.add_argument("--incognito", action="store_true",
                        help="boot runs in incognito contexts (in-memory cache) instead of fresh profiles (disk cache)")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="none",
                        help="emulated network for the boot runs (default: %(default)s = localhost as is)")
    parser.add_argument("--compare", metavar="LABEL=URL", action="append", default=[],
                        help="also time the tracker page of another running store (e.g. an older checkout), "
                             "interleaved with this one's (repeatable)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference pages (Pyodide only, PyScript only, no runtime)")
    parser.add_argument("--lighthouse-runs", type=int, default=None,
                        help="Lighthouse runs per page and variant, simulated throttling (default 3, quick 1)")
    parser.add_argument("--lighthouse-devtools-runs", type=int, default=1,
                        help="Lighthouse runs per page and variant with --throttling-method=devtools "
                             "(real 4x CPU slowdown; default %(default)s, 0 = skip)")
    parser.add_argument("--lighthouse-timeout", type=float, default=180.0,
                        help="seconds before a Lighthouse run is killed and reported failed (default %(default)s)")
    parser.add_argument("--lighthouse-flag", metavar="FLAG", action="append", default=[],
                        help="extra Lighthouse CLI flag, e.g. --lighthouse-flag=--max-wait-for-load=90000 (repeatable)")
    parser.add_argument("--lighthouse-reports", metavar="DIR", default=None,
                        help="also keep each run's full Lighthouse JSON report in DIR")
    parser.add_argument("--label", default="", help="a label stored in the JSON (e.g. 'before')")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench-results"), help="JSON directory (default: %(default)s)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 5)
    args.navigations = args.navigations or (5 if args.quick else 20)
    args.lighthouse_runs = args.lighthouse_runs if args.lighthouse_runs is not None else (1 if args.quick else 3)
    return args


def _environment() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(), "chromium": CHROMIUM,
            "git": run("git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"),
            "git_dirty": bool(run("git", "-C", str(REPO_ROOT), "status", "--porcelain", "--",
                                  "demo_store", "tracker", "static", "scripts"))}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    parts = set(args.only or ["boot", "per-event", "delivery"])
    compare = dict(item.split("=", 1) if "=" in item else (f"store{i + 1}", item)
                   for i, item in enumerate(args.compare))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="glood-bench-") as tmp:
        servers: list[LiveServer] = []
        try:
            store, app = start_store(Settings(db_path=str(Path(tmp) / "store.sqlite3")))
            servers.append(store)
            remote, _ = start_store(Settings(db_path=str(Path(tmp) / "remote.sqlite3")))
            servers.append(remote)
            remote_base = remote.url.replace("127.0.0.1", "localhost")
            cross, _ = start_store(Settings(db_path=str(Path(tmp) / "cross.sqlite3"), glood_url=remote_base,
                                            genlook_url=remote_base + "/apps/proxy_genlook-x/public/tracking/events"))
            servers.append(cross)
            results: dict[str, Any] = {
                "label": args.label, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "options": {"runs": args.runs, "navigations": args.navigations, "events": args.events,
                            "quick": args.quick, "page": PAGE_PATH, "incognito": args.incognito,
                            "network": args.network, "network_profile": NETWORKS[args.network],
                            "parts": sorted(parts), "compare": compare},
                "environment": _environment()}

            def log(message: str) -> None:
                print(message, file=sys.stderr, flush=True)

            if parts - {"lighthouse"}:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
                    results["environment"]["browser_version"] = browser.version
                    bench = Bench(playwright, browser, app, store.url, incognito=args.incognito,
                                  network=NETWORKS[args.network], log=log)
                    bench.results = results
                    if "boot" in parts:
                        bench.boot(args.runs, compare=compare, reference=not args.no_reference)
                    if "per-event" in parts:
                        bench.per_event()
                    if "delivery" in parts:
                        bench.delivery(store.url, store.url, args.navigations, args.events, "same-origin collectors")
                        bench.delivery(cross.url, remote.url, args.navigations, args.events, "cross-site collectors")
                    browser.close()
            if "lighthouse" in parts:
                # After the Playwright browser has closed: Lighthouse starts its own Chromium per run.
                results["lighthouse"] = run_lighthouse(
                    store.url, runs=args.lighthouse_runs, devtools_runs=args.lighthouse_devtools_runs,
                    chrome=CHROMIUM, timeout_s=args.lighthouse_timeout, extra_flags=tuple(args.lighthouse_flag),
                    reports_dir=Path(args.lighthouse_reports) if args.lighthouse_reports else None, log=log)
        finally:
            for server in servers:
                server.stop()
    results["duration_s"] = round(time.monotonic() - started, 1)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"bench-{stamp}{'-' + args.label if args.label else ''}.json"
    (out_dir / name).write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"\nJSON: {out_dir / name}  ({results['duration_s']} s)")
    return results

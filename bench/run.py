"""The tracker benchmark in Debian's Chromium: boot, main-thread cost, bytes, per-event cost, bursts, delivery.

    .venv/bin/python -m bench [--quick] [--runs N] [--navigations N] [--left-pages N] [--burst N]
                              [--only boot|per-event|burst|delivery|navigations|left-early|routes]... [--out DIR]
    .venv/bin/python -m bench --only lighthouse [--lighthouse-runs N] [--lighthouse-devtools-runs N]

Starts its own demo stores (port 0, temp SQLite), drives Chromium offline, prints a table and writes JSON
(raw runs included) to `bench-results/`. Not part of the test suite: it measures, it does not pass or fail.

- boot: the tracker's product page and the same page without the tracker's embed (`/_bench/none/`, the
  control), cold / warm / return visits. Python ready, first fact recorded (the sensor's first
  `IntersectionObserver.observe`), worker created, FCP, DOMContentLoaded, load, main-thread long tasks and
  long animation frames (with what the tracker's scripts and its worker's messages take), tracker bytes on
  the wire (all, and before the load event, plus the inline sensor's size), CSP violations.
- per-event: `track()` call by call, the round trip of `await gloodTracker.flush()` of 20 events and the
  main-thread time spent on the worker's `send` messages (sendBeacon included), with plain-JavaScript
  `sendBeacon()` calls of the same shape as the reference.
- burst: 10,000 `track()` calls in one loop on a ready page, and at DOMContentLoaded before the tracker is
  up: loop time, time to ready, time until everything is delivered, what each collector stored.
- delivery: navigations (events fired right after ready, then `page.goto` elsewhere; same-origin and
  cross-site collectors) and pages left early (0.3 s, 1 s, 2 s after navigation start): whether their
  page_viewed and product_viewed reached each collector exactly once; beside that, how many stored events
  arrived more than once at each collector (`deliveries > 1`) and the tracker's own count of its one allowed
  double send (`status().stats.resent_unanswered` of the last page).
- routes: a long single-page session on the headless store: 200 client-side route changes (link clicks),
  sampled every 25: page and worker JS heap after a forced GC, Pyodide's wasm memory, PyProxy objects, DOM
  nodes, sections, the sensor's watched sections, status() and the collectors' counts (bench/routes.py).
- lighthouse (only with `--only lighthouse`, ~9 minutes): Shopify's app-listing check, bench/lighthouse.py.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, sync_playwright

from demo_store.app import Settings
from demo_store.settings import REPO_ROOT

from .lighthouse import lighthouse_table, run_lighthouse
from .routes import routes_table, run_routes
from .server import BenchApp, LiveServer, start_store

__all__ = ["main"]

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Offline by resolver (not by page.route(), which breaks preflighted beacons).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 720}
PAGE_PATH = "/products/classic-oxford-shirt"
NAV_PATHS = ("/products/classic-oxford-shirt", "/collections/all", "/", "/products/linen-camp-shirt", "/cart")
#: Requests the tracker is responsible for: the runtime (Pyodide) and the tracker's own files.
TRACKER_PREFIXES = ("/static/vendor/", "/static/tracker/", "/dist/")
READY_SELECTOR = "html[data-glood-tracker=ready], html[data-glood-tracker=error]"
BOOT_TIMEOUT_MS = 90_000
#: After ready (tracker page) or after the load event (control page), before collecting.
SETTLE_MS = 750
CONTROL_SETTLE_MS = 2_000
#: The visits of one boot run: first visit on an empty profile, again in the same browser, and again
#: from a new browser session on the same profile.
VISITS = ("cold", "warm", "return")
#: Network profiles for `--network` (CDP Network.emulateNetworkConditions); "none" = plain localhost.
NETWORKS: dict[str, dict[str, float] | None] = {
    "none": None,
    "fast": {"latency": 40, "download_mbit": 20, "upload_mbit": 5},
    "slow": {"latency": 150, "download_mbit": 4, "upload_mbit": 1},
}
LEAVE_TIMES_S = (0.3, 1.0, 2.0)
#: The store compresses its pages with gzip level 6 (GZipMiddleware), so the embed's share is sized the same.
GZIP_LEVEL = 6
EVENTS_MAX_BYTES = 8 * 1024 * 1024
#: Genlook's names of the page events on a product page (tracker/core/naming.py).
GENLOOK_NAMES = {"page_viewed": "product_page:page_view", "product_viewed": "product_page:product_view"}

#: Registered before any page script (Playwright's init scripts are not subject to the page's CSP): long
#: tasks, long animation frames, readiness, CSP violations, the sensor's first IntersectionObserver.observe
#: (it observes a section right after recording its first fact), when the tracker's Worker was created,
#: and the main-thread time of each message handler of that worker and of every navigator.sendBeacon.
INIT_SCRIPT = """(() => {
  if (window.__bench) return;
  const now = () => performance.now();
  const B = window.__bench = {longtasks: [], loaf: [], ready: null, state: null, csp: [], firstObserve: null,
    observeCalls: 0, worker: null, msgs: {}, beacons: {n: 0, ms: 0}};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longtasks.push({start: e.startTime, duration: e.duration});
    }).observe({type: 'longtask', buffered: true});
  } catch (e) {}
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.loaf.push({start: e.startTime, duration: e.duration,
        blocking: e.blockingDuration, scripts: e.scripts.map((s) => ({url: s.sourceURL,
        fn: s.sourceFunctionName, invoker: s.invoker, type: s.invokerType, start: s.startTime,
        duration: s.duration}))});
    }).observe({type: 'long-animation-frame', buffered: true});
  } catch (e) {}
  const mark = () => {
    const s = document.documentElement && document.documentElement.dataset.gloodTracker;
    if (s && s !== B.state) B.state = s;
    if (B.ready === null && s === 'ready') B.ready = now();
  };
  new MutationObserver(mark).observe(document,
    {attributes: true, subtree: true, attributeFilter: ['data-glood-tracker']});
  document.addEventListener('securitypolicyviolation', (e) => B.csp.push({directive: e.violatedDirective,
    blocked: e.blockedURI, sample: (e.sample || '').slice(0, 80)}), true);
  const IO = window.IntersectionObserver;
  if (IO) {
    const observe = IO.prototype.observe;
    IO.prototype.observe = function (...a) {
      B.observeCalls++;
      if (B.firstObserve === null) B.firstObserve = now();
      return observe.apply(this, a);
    };
  }
  const note = (d, ms) => {
    const t = (d && d.t) || '?', m = B.msgs[t] || (B.msgs[t] = {n: 0, ms: 0, max: 0, bodies: 0});
    m.n++; m.ms += ms; m.max = Math.max(m.max, ms);
    if (d && Array.isArray(d.b)) m.bodies += d.b.length;
  };
  const W = window.Worker, onmessage = W && Object.getOwnPropertyDescriptor(W.prototype, 'onmessage');
  if (W) window.Worker = new Proxy(W, {construct(target, args, newTarget) {
    if (B.worker === null) B.worker = now();
    const w = Reflect.construct(target, args, newTarget);
    if (onmessage && onmessage.set) {
      let user = null;
      Object.defineProperty(w, 'onmessage', {configurable: true, get: () => user, set(f) {
        user = f;
        onmessage.set.call(w, typeof f !== 'function' ? f : function (e) {
          const t0 = now();
          try { return f.call(this, e) } finally { note(e.data, now() - t0) }
        });
      }});
    }
    return w;
  }});
  // Storage on the main thread (synchronous; the first access of a session may wait for the browser to load it).
  B.storage = {};
  const add = (label, ms) => {
    const s = B.storage[label] || (B.storage[label] = {n: 0, ms: 0, max: 0, first: null, at: null});
    s.n++; s.ms += ms; s.max = Math.max(s.max, ms);
    if (s.first === null) { s.first = ms; s.at = now() - ms }
  };
  const timed = (obj, name, label) => {
    const d = obj && Object.getOwnPropertyDescriptor(obj, name);
    if (!d || !d.configurable) return;
    const wrap = (f) => function (...a) {
      const t0 = now();
      try { return f.apply(this, a) } finally { add(label, now() - t0) }
    };
    if (d.get) Object.defineProperty(obj, name, Object.assign({}, d, {get: wrap(d.get)}));
    else if (typeof d.value === 'function')
      Object.defineProperty(obj, name, Object.assign({}, d, {value: wrap(d.value)}));
  };
  for (const name of ['sessionStorage', 'localStorage'])
    timed(Object.getOwnPropertyDescriptor(window, name) ? window : Window.prototype, name, name);
  if (window.Storage)
    for (const m of ['getItem', 'setItem', 'removeItem', 'key']) timed(Storage.prototype, m, 'Storage.' + m);
  const beacon = Navigator.prototype.sendBeacon;
  if (beacon) navigator.sendBeacon = function (url, data) {
    const t0 = now();
    try { return beacon.call(this, url, data) } finally { B.beacons.n++; B.beacons.ms += now() - t0 }
  };
})();"""

COLLECT_JS = r"""() => {
  const B = window.__bench || {longtasks: [], loaf: [], ready: null, csp: [], msgs: {}, beacons: {}};
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const paint = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : null; };
  return {ready: B.ready, state: B.state, fcp: paint('first-contentful-paint'), first_paint: paint('first-paint'),
          dcl: nav.domContentLoadedEventEnd || null, load_start: nav.loadEventStart || null,
          load: nav.loadEventEnd || null, first_fact: B.firstObserve, observe_calls: B.observeCalls,
          worker_created: B.worker, msgs: B.msgs, beacons: B.beacons, csp: B.csp, storage: B.storage,
          nav: {response_start: nav.responseStart, response_end: nav.responseEnd, dom_interactive: nav.domInteractive,
                dcl_start: nav.domContentLoadedEventStart},
          resources: performance.getEntriesByType('resource')
            .filter((r) => !/\/static\/(vendor|tracker)\//.test(r.name))
            .map((r) => ({url: r.name.replace(location.origin, ''), start: r.startTime, request: r.requestStart,
                          response: r.responseStart, end: r.responseEnd, blocking: r.renderBlockingStatus})),
          longtasks: B.longtasks, loaf: B.loaf, time_origin: performance.timeOrigin, url: location.href,
          now: performance.now()};
}"""

#: Per-event cost: `track()` timed alone, then `await flush()` of the batch, `reps` times, with the main-thread
#: time of the worker's messages and of sendBeacon during each flush; beacons drain in between.
PER_EVENT_JS = """async ({batch, reps, warmup}) => {
  const t = window.gloodTracker, B = window.__bench;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const msg = (type) => Object.assign({n: 0, ms: 0, bodies: 0}, B.msgs[type]);
  const custom = {track: {section: '221939', sectionServeId: '2ec3ae42-40f4-4c5e-9b0b-6f0d8c1f0a11',
    requestId: '1776322091-05bd288e', recommendationType: 'similar_products',
    parent: {productId: '15441118822774', variantId: '56640794886518'},
    products: [1, 2, 3, 4].map((i) => ({productId: String(15441118822774 + i * 131), variantId: null, quantity: 1}))}};
  for (let i = 0; i < warmup; i++) t.track('glood:section:view', {}, custom);
  await t.flush();
  await sleep(300);
  const track = [], flush = [], sent = [], send = [], sends = [], bodies = [], beaconMs = [], beaconN = [];
  const all0 = JSON.parse(JSON.stringify(B.msgs));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < batch; i++) {
      const t0 = performance.now();
      t.track('glood:section:view', {}, custom);
      track.push(performance.now() - t0);
    }
    const m0 = msg('send'), b0 = Object.assign({}, B.beacons);
    const t0 = performance.now();
    sent.push(await t.flush());
    flush.push(performance.now() - t0);
    // The worker posts its `send` before its `reply`: by now the sensor has handled it.
    const m1 = msg('send');
    send.push(m1.ms - m0.ms); sends.push(m1.n - m0.n); bodies.push(m1.bodies - m0.bodies);
    beaconMs.push(B.beacons.ms - b0.ms); beaconN.push(B.beacons.n - b0.n);
    await sleep(60);
  }
  await sleep(500);
  const msgs = {};
  for (const [k, v] of Object.entries(B.msgs)) {
    const a = all0[k] || {n: 0, ms: 0};
    msgs[k] = {n: v.n - a.n, ms: v.ms - a.ms, max: v.max};
  }
  const loop0 = performance.now();
  for (let i = 0; i < batch * 5; i++) t.track('glood:section:view', {}, custom);
  const loop = (performance.now() - loop0) / (batch * 5);
  await t.flush();
  await sleep(200);
  // Reference: the same number of beacons with bodies of the same shape, sent from plain JavaScript
  // (to a path that answers 404), so the share of the send handling that is the browser's is visible.
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
  return {track, flush, sent, send, sends, bodies, beaconMs, beaconN, msgs, loop, beacons};
}"""

#: `n` track() calls in one loop, timed in chunks (performance.now() is coarsened to 100 us here).
BURST_FN = """(n, chunk) => {
  const t = window.gloodTracker, ids = new Array(n), per = [];
  const t0 = performance.now();
  for (let c = 0; c < n; c += chunk) {
    const c0 = performance.now(), end = Math.min(n, c + chunk);
    for (let i = c; i < end; i++) ids[i] = t.track('search_submitted', {searchResult: {query: 'q' + i}});
    per.push((performance.now() - c0) / (end - c));
  }
  const t1 = performance.now();
  return {ids, t0, t1, loop: t1 - t0, per};
}"""
BURST_READY_JS = f"""async ({{n, chunk}}) => {{
  const r = ({BURST_FN})(n, chunk);
  // relay.js posts the new facts to the worker in a microtask queued by the first call: done after this.
  await null;
  r.posted = performance.now() - r.t0;
  return r;
}}"""
#: The same burst from an init script at DOMContentLoaded, before the tracker is up (only on ?bench_burst=early).
BURST_EARLY_SCRIPT = f"""(() => {{
  if (!/[?&]bench_burst=early(&|$)/.test(location.search)) return;
  document.addEventListener('DOMContentLoaded', () => {{
    if (!window.gloodTracker || !window.gloodTracker.track) return;
    window.__benchBurst = ({BURST_FN})(%d, 100);
  }});
}})();"""


# -- small helpers -------------------------------------------------------------------------

def median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values: list[float | None], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def _get(url: str, timeout: float = 30) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def _get_json(url: str) -> Any:
    return json.loads(_get(url))


def _reset_collectors(base_url: str) -> None:
    """`POST /_collector/reset` (a request with neither Origin nor Sec-Fetch-Site passes the same-origin check)."""
    request = urllib.request.Request(base_url + "/_collector/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _listing(base_url: str, destination: str, name: str | None = None) -> list[dict[str, Any]]:
    """`events.json` of one destination (newest first, at most 1000 items and 8 MiB)."""
    query = {"destination": destination, "limit": 1000, "max_bytes": EVENTS_MAX_BYTES}
    if name:
        query["name"] = name
    return _get_json(f"{base_url}/_collector/events.json?{urllib.parse.urlencode(query)}")


def _double_sends(base_url: str, page_marker: str | None = None) -> dict[str, int]:
    """Per collector, the stored events whose id arrived more than once (`deliveries > 1`): of every event the
    collector holds (it was reset for the part), or only of pages whose URL contains `page_marker` (Glood's
    `page_url`; Genlook's batch context URL, or the id of such a Glood event)."""
    glood = _listing(base_url, "glood")
    marked = {item["event_id"] for item in glood if page_marker is None or page_marker in (item.get("page_url") or "")}
    out = {"glood": sum(1 for item in glood if item["event_id"] in marked and int(item.get("deliveries") or 1) > 1)}
    out["genlook"] = sum(1 for item in _listing(base_url, "genlook")
                         if (page_marker is None or item["event_id"] in marked
                             or page_marker in (item.get("page_url") or ""))
                         and int(item.get("deliveries") or 1) > 1)
    return out


def _resent_unanswered(status: dict[str, Any] | None) -> int | None:
    """The tracker's own count of its one allowed double send (`status().stats.resent_unanswered`: events in
    flight by the worker's own fetch when a page went, answer never seen, beaconed again). `stats` lists only the
    counts that happened, so an absent key is 0; None when there is no status (the last page did not settle)."""
    stats = (status or {}).get("stats")
    if not isinstance(stats, dict):
        return None
    value = stats.get("resent_unanswered", 0)
    return int(value) if isinstance(value, int | float) else None


def _gzip_size(text: str) -> int:
    return len(gzip.compress(text.encode("utf-8"), compresslevel=GZIP_LEVEL, mtime=0))


def _sizes(text: str) -> dict[str, int]:
    return {"raw": len(text.encode("utf-8")), "gzip": _gzip_size(text)}


def embed_sizes(base_url: str) -> dict[str, Any]:
    """What the tracker adds to every page's HTML: the inline sensor and the config tag, raw and gzipped (level 6,
    as the store compresses its pages; alone, so a little more than their share of the compressed page)."""
    page = _get(base_url + PAGE_PATH).decode("utf-8")
    control = _get(f"{base_url}/_bench/none{PAGE_PATH}").decode("utf-8")
    config = re.search(r'<script type="application/json" id="glood-tracker-config">.*?</script>', page, re.S)
    sensor = re.search(r'<script data-runtime=(?:"[^"]*"|\'[^\']*\')>(.*?)</script>', page, re.S)
    if not config or not sensor:
        return {"error": "the page has no tracker config tag or no <script data-runtime> element"}
    return {"sensor_text": _sizes(sensor.group(1)), "sensor_element": _sizes(sensor.group(0)),
            "config_tag": _sizes(config.group(0)), "embed": _sizes(config.group(0) + "\n" + sensor.group(0)),
            "document": {"tracker": _sizes(page), "none": _sizes(control)}}


class NetLog:
    """The requests of a browser context, its pages' dedicated workers included (a page's own CDP session does
    not see a worker's requests; Playwright's context events do).

    Bytes on the wire = response headers + encoded body as Chromium counts them (CDP `encodedDataLength`);
    0 = served from the HTTP cache; a revalidation (304) is its headers only. A worker script's body is not
    counted (Chromium reports only its headers; worker.mjs is about 1 KB).
    """

    def __init__(self, context: BrowserContext, page: Page, network: dict[str, float] | None = None) -> None:
        self.finished: list[Request] = []
        self.failed: list[Request] = []
        context.on("requestfinished", lambda request: self.finished.append(request))
        context.on("requestfailed", lambda request: self.failed.append(request))
        self.session = None
        if network is not None:
            # Applies to the page's requests; whether Chromium applies it to its dedicated workers too is
            # recorded per run (the worker's request durations show it).
            self.session = context.new_cdp_session(page)
            self.session.send("Network.enable")
            self.session.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": network["latency"],
                "downloadThroughput": network["download_mbit"] * 1_000_000 / 8,
                "uploadThroughput": network["upload_mbit"] * 1_000_000 / 8})

    def clear(self) -> None:
        self.finished.clear()
        self.failed.clear()

    def tracker_requests(self, since_epoch_ms: float) -> list[dict[str, Any]]:
        """The tracker's requests started at or after `since_epoch_ms` (this navigation's time origin)."""
        found = []
        for request in list(self.finished):
            path = urllib.parse.urlsplit(request.url).path
            if not request.url.startswith("http") or not path.startswith(TRACKER_PREFIXES):
                continue
            timing = request.timing
            start = timing.get("startTime")
            if start is not None and start >= 0 and start < since_epoch_ms - 1:
                continue  # the previous page's
            try:
                sizes = request.sizes()
                response = request.response()
            except Exception:  # noqa: BLE001 - a request of a closed page: counted without sizes
                sizes, response = {}, None
            body = int(sizes.get("responseBodySize") or 0)
            headers = int(sizes.get("responseHeadersSize") or 0)
            wire = max(0, body + headers)
            status = response.status if response is not None else None
            duration = timing.get("responseEnd")
            found.append({"path": path, "start": start, "ms": duration if duration and duration > 0 else None,
                          "bytes": wire, "status": status, "cache": "cache" if wire == 0 else None,
                          "revalidated": status == 304 or (0 < wire <= 250 and body <= 0),
                          "encoding": (response.headers.get("content-encoding") if response is not None else None)})
        return sorted(found, key=lambda e: e["path"])


def _tracker_script(script: dict[str, Any], page_url: str) -> bool:
    """A long-animation-frame script entry of the tracker: a file under /dist/tracker/ (the build, what the store
    serves) or /static/tracker/ (the sources), an inline script of the page or its callbacks (the sensor is the
    store's only executable inline script; the control page has none), or the tracker worker's message handler (it
    runs inside the benchmark's wrapper, so it is known by its invoker, `Worker.onmessage`)."""
    url = script.get("url") or ""
    if urllib.parse.urlsplit(url).path.startswith(("/dist/tracker/", "/static/tracker/")):
        return True
    if url and url.split("#")[0] == page_url.split("#")[0]:
        return True
    return str(script.get("invoker") or "").startswith("Worker")


def _main_thread(data: dict[str, Any]) -> None:
    """Long-task figures (all, before the load event) and the tracker's share, from the raw entries in `data`."""
    tasks = data["longtasks"]
    load_start = data.get("load_start") or float("inf")
    before = [t for t in tasks if t["start"] < load_start]
    data["longtask_count"] = len(tasks)
    data["longtask_ms"] = sum(t["duration"] for t in tasks)
    data["blocking_ms"] = sum(max(0.0, t["duration"] - 50) for t in tasks)
    data["longtask_max_ms"] = max((t["duration"] for t in tasks), default=0.0)
    data["longtask_count_before_load"] = len(before)
    data["blocking_ms_before_load"] = sum(max(0.0, t["duration"] - 50) for t in before)
    data["longtask_max_before_load_ms"] = max((t["duration"] for t in before), default=0.0)
    frames = data.pop("loaf", [])
    page_url = data.get("url") or ""
    scripts = [s for f in frames for s in f.get("scripts", []) if _tracker_script(s, page_url)]
    spans = [(s.get("start") or 0.0, (s.get("start") or 0.0) + (s.get("duration") or 0.0)) for s in scripts]
    data["tracker_loaf_max_ms"] = max((f["duration"] for f in frames
                                       if any(_tracker_script(s, page_url) for s in f.get("scripts", []))), default=0.0)
    data["tracker_script_max_ms"] = max((s.get("duration") or 0.0 for s in scripts), default=0.0)
    data["tracker_script_ms"] = sum(s.get("duration") or 0.0 for s in scripts)
    data["tracker_longtask_max_ms"] = max((t["duration"] for t in tasks
                                           if any(a < t["start"] + t["duration"] and t["start"] < b for a, b in spans)),
                                          default=0.0)
    data["sensor_script_ms"] = max((s.get("duration") or 0.0 for s in scripts if s.get("type") == "classic-script"
                                    and (s.get("url") or "").split("#")[0] == page_url.split("#")[0]), default=None)
    data["tracker_scripts"] = [{k: s.get(k) for k in ("url", "fn", "invoker", "type", "start", "duration")}
                               for s in scripts]
    beacons = data.get("beacons") or {}
    data["beacon_count"], data["beacon_ms"] = beacons.get("n", 0), beacons.get("ms", 0.0)
    data["loaf_by_script"] = _loaf_by_script(frames)
    msgs = data.get("msgs") or {}
    data["msg_count"] = sum(m["n"] for m in msgs.values())
    data["msg_ms"] = sum(m["ms"] for m in msgs.values())
    data["msg_max_ms"] = max((m["max"] for m in msgs.values()), default=0.0) if msgs else None
    data["csp_violations"] = len(data.get("csp") or [])


def _loaf_by_script(frames: list[dict[str, Any]]) -> dict[str, float]:
    """Long-animation-frame script time by source (path of the script URL, or the invoker)."""
    totals: dict[str, float] = {}
    for frame in frames:
        for script in frame.get("scripts", []):
            url = script.get("url") or ""
            key = urllib.parse.urlsplit(url).path if url else f"({script.get('invoker') or 'unknown'})"
            totals[key] = totals.get(key, 0.0) + float(script.get("duration") or 0.0)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def wait_ready(page: Page, timeout_ms: float = BOOT_TIMEOUT_MS) -> None:
    """Until `data-glood-tracker` is "ready" (a RuntimeError when it is "error")."""
    page.wait_for_selector(READY_SELECTOR, state="attached", timeout=timeout_ms)
    state = page.evaluate("document.documentElement.dataset.gloodTracker")
    if state != "ready":
        raise RuntimeError(f"the tracker did not start: data-glood-tracker={state!r}")


def ask(page: Page, method: str, timeout_ms: int = 10_000) -> Any:
    """`await gloodTracker[method]()`, or "timeout" if the worker does not answer within `timeout_ms`."""
    return page.evaluate("""([m, ms]) => Promise.race([window.gloodTracker[m](),
        new Promise((r) => setTimeout(() => r('timeout'), ms))])""", [method, timeout_ms])


def wait_status(page: Page, done: Callable[[dict[str, Any]], bool], timeout_s: float,
                interval_s: float = 0.25) -> tuple[dict[str, Any] | None, float | None]:
    """Poll `status()` until `done(status)`; the last status and the seconds it took (None if it never did)."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout_s:
        status = ask(page, "status")
        if isinstance(status, dict):
            last = status
            if done(status):
                return status, time.monotonic() - started
        time.sleep(interval_s)
    return last, None


def _db_deliveries(db_path: str) -> dict[str, dict[str, int]]:
    """Every stored event id and its delivery count, per destination, read from the store's SQLite file
    (read-only; `events.json` lists at most 1000 items and cannot page)."""
    out: dict[str, dict[str, int]] = {"glood": {}, "genlook": {}}
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as conn:
        for destination, event_id, deliveries in conn.execute("SELECT destination, event_id, deliveries FROM events"):
            out.setdefault(destination, {})[event_id] = deliveries
    return out


# -- measurements ---------------------------------------------------------------------------

#: Per-visit figures whose medians the boot summary keeps.
BOOT_KEYS = ("ready", "first_fact", "worker_created", "fcp", "first_paint", "dcl", "load_start", "load", "parse_ms",
             "tracker_bytes", "tracker_bytes_before_load", "tracker_request_count", "tracker_requests_before_load",
             "tracker_from_cache", "tracker_not_modified", "longtask_count", "longtask_ms", "blocking_ms",
             "longtask_max_ms", "longtask_count_before_load", "blocking_ms_before_load", "longtask_max_before_load_ms",
             "tracker_longtask_max_ms", "tracker_loaf_max_ms", "tracker_script_max_ms", "tracker_script_ms",
             "sensor_script_ms", "msg_count", "msg_ms", "msg_max_ms", "beacon_count", "beacon_ms",
             "csp_violations", "console_errors")


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
        """One navigation: wait for readiness + 0.75 s (the control page: the load event + 2 s), collect."""
        net.clear()
        errors: list[str] = []

        def console(message: Any) -> None:
            if message.type == "error":
                errors.append(message.text[:300])

        page.on("console", console)
        try:
            if runtime:
                page.goto(url, wait_until="commit", timeout=BOOT_TIMEOUT_MS)
                try:
                    wait_ready(page)
                except Exception as error:  # noqa: BLE001 - recorded, the run goes on
                    errors.append(f"not ready: {error}"[:300])
                page.wait_for_timeout(SETTLE_MS)
            else:
                page.goto(url, wait_until="load", timeout=BOOT_TIMEOUT_MS)
                page.wait_for_timeout(CONTROL_SETTLE_MS)
            data = page.evaluate(COLLECT_JS)
        finally:
            page.remove_listener("console", console)
        tracker = net.tracker_requests(data["time_origin"])
        load_epoch = data["time_origin"] + (data["load_start"] or float("inf"))
        before = [r for r in tracker if r["start"] is not None and r["start"] < load_epoch]
        data["tracker_requests"] = tracker
        data["tracker_bytes"] = sum(r["bytes"] for r in tracker)
        data["tracker_bytes_before_load"] = sum(r["bytes"] for r in before)
        data["tracker_request_count"] = len(tracker)
        data["tracker_requests_before_load"] = len(before)
        data["tracker_from_cache"] = sum(1 for r in tracker if r["cache"])
        data["tracker_not_modified"] = sum(1 for r in tracker if r["revalidated"])
        data["console_errors"] = len(errors)
        data["console"] = errors[:10]
        nav = data.get("nav") or {}
        if nav.get("dom_interactive") and nav.get("response_end"):
            # Parsing after the HTML has arrived: an inline script after a stylesheet holds the parser until
            # the stylesheet is loaded and the script has run (the control page's parser never waits).
            data["parse_ms"] = nav["dom_interactive"] - nav["response_end"]
        _main_thread(data)
        return data

    def boot(self, runs: int, compare: dict[str, str] | None = None, reference: bool = True,
             embed_first: bool = False) -> None:
        """Per variant and run: a first visit on a fresh profile (cold), a second visit in the same browser
        (warm), and a visit from a new browser session on that profile (return: disk and code caches only).
        Variants: the tracker's page, the same page without the tracker's embed (`none`, the control) and,
        with `embed_first`, with the embed moved before the stylesheet (`first`).

        With `compare` ({label: base URL} of other running stores, e.g. an older checkout), their tracker
        pages are measured too, interleaved with ours, so all see the same machine load.
        """
        variants = {"tracker": self.base_url + PAGE_PATH}
        for label, url in (compare or {}).items():
            variants[f"compare:{label}"] = url.rstrip("/") + PAGE_PATH
        if embed_first:
            variants["first"] = f"{self.base_url}/_bench/first{PAGE_PATH}"
        if reference:
            variants["none"] = f"{self.base_url}/_bench/none{PAGE_PATH}"
        self.results["embed"] = embed_sizes(self.base_url)
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
                self.log(f"  boot run {run + 1}/{runs} {name:10s} ready {_ms(cold['ready'])} / {_ms(warm['ready'])}"
                         f" / {_ms(back['ready'])}  fcp {_ms(cold['fcp'])} / {_ms(warm['fcp'])} / {_ms(back['fcp'])}"
                         f"  load {_ms(cold['load'])}  bytes {cold['tracker_bytes']:,} / {warm['tracker_bytes']:,}"
                         f" / {back['tracker_bytes']:,}  long tasks {cold['longtask_count']} "
                         f"(max {cold['longtask_max_ms']:.0f} ms)  CSP {cold['csp_violations']}"
                         f"  console errors {cold['console_errors']}")
        self.results["boot_raw"] = raw
        summary: dict[str, Any] = {}
        for name, runs_ in raw.items():
            summary[name] = {}
            for index, label in enumerate(VISITS):
                visits_ = [series[index] for series in runs_]
                summary[name][label] = {key: median([v.get(key) for v in visits_]) for key in BOOT_KEYS}
                readies = [v["ready"] for v in visits_ if v["ready"] is not None]
                summary[name][label]["ready_range"] = [min(readies), max(readies)] if readies else None
                summary[name][label]["not_ready"] = sum(1 for v in visits_ if v["ready"] is None)
                summary[name][label]["csp_violations_total"] = sum(v["csp_violations"] for v in visits_)
                summary[name][label]["console_errors_total"] = sum(v["console_errors"] for v in visits_)
        self.results["boot"] = summary
        # Which files the tracker page fetched, from the first run (first, repeat and return visit).
        first = raw["tracker"][0]
        keys = ("path", "bytes", "status", "cache", "revalidated", "encoding", "start", "ms")
        self.results["tracker_files"] = {
            f"{visit}_visit": [{k: r.get(k) for k in keys} for r in first[index]["tracker_requests"]]
            for index, visit in enumerate(("first", "repeat", "return"))}
        # First-visit bytes per file of every variant with a tracker (first run).
        self.results["first_visit_files"] = {
            name: [{k: r.get(k) for k in keys} for r in runs_[0][0]["tracker_requests"]]
            for name, runs_ in raw.items() if name != "none" and runs_}

    def per_event(self, batch: int = 20, reps: int = 25) -> None:
        """track() cost, and the round trip and main-thread cost of `await flush()`, through the public API."""
        context = self.new_context({"flush_interval_ms": 600000, "max_batch": 100000})
        page = context.new_page()
        page.goto(self.base_url + PAGE_PATH, wait_until="commit")
        wait_ready(page)
        # Wait for the visit id (the page events go out with it), so Glood bodies can be encoded and sent.
        wait_status(page, lambda s: s["pending"] == 0 and s["session_id"], 30)
        result = page.evaluate(PER_EVENT_JS, {"batch": batch, "reps": reps, "warmup": 50})
        context.close()
        track_us = [t * 1000 for t in result["track"]]
        send_us = [t * 1000 for t in result["send"]]
        beacon_us = [t * 1000 for t in result["beaconMs"]]
        self.results["per_event"] = {
            "batch": batch, "reps": reps,
            "track_us_median": median(track_us), "track_us_p95": percentile(track_us, 0.95),
            "track_us_loop_mean": result["loop"] * 1000,
            "flush_ms_median": median(result["flush"]), "flush_ms_p95": percentile(result["flush"], 0.95),
            "send_us_median": median(send_us), "send_us_p95": percentile(send_us, 0.95),
            "send_messages_per_flush": median(result["sends"]), "bodies_per_flush": median(result["bodies"]),
            "beacon_us_median": median(beacon_us), "beacons_per_flush": median(result["beaconN"]),
            "messages": {k: {"n": v["n"], "ms": v["ms"], "max_ms": v["max"], "ms_per_flush": v["ms"] / reps}
                         for k, v in result["msgs"].items()},
            "flush_answers": result["sent"],
            "js_beacons_us_median": median([t * 1000 for t in result["beacons"]]),
            "note": "performance.now() is coarsened to 100 us without cross-origin isolation; "
                    "track_us_loop_mean times 5*batch calls in one loop; flush_ms = the round trip of await "
                    "gloodTracker.flush() (the worker judges, encodes and answers); send_us = main-thread time of "
                    "the sensor's handler of the worker's `send` messages during that flush (sendBeacon calls "
                    "included, beacon_us); messages = every worker message over the reps (holds come later); "
                    "js_beacons_us_median = batch + 1 sendBeacon calls of the same shape from plain JavaScript",
        }

    def burst(self, n: int, timeout_s: float) -> None:
        """`n` track('search_submitted') calls in one loop: on a ready page, and at DOMContentLoaded before the
        tracker is up. Each in a new context, after a first page that fills the cache and leaves nothing."""
        _reset_collectors(self.base_url)
        db_path = self.app.settings.db_path
        out: dict[str, Any] = {"n": n, "timeout_s": timeout_s}
        for mode in ("ready", "early"):
            context = self.new_context()
            if mode == "early":
                context.add_init_script(BURST_EARLY_SCRIPT % n)
            page = context.new_page()
            try:
                page.goto(f"{self.base_url}/collections/all?bench_burst=warmup", wait_until="commit")
                wait_ready(page)
                wait_status(page, lambda s: s["pending"] == 0 and s["adopted"], 30)
                page.goto(f"{self.base_url}{PAGE_PATH}?bench_burst={mode}", wait_until="commit")
                wait_ready(page)
                if mode == "ready":
                    wait_status(page, lambda s: s["pending"] == 0 and s["adopted"], 30)
                    msgs0 = page.evaluate("JSON.parse(JSON.stringify(window.__bench.msgs))")
                    result = page.evaluate(BURST_READY_JS, {"n": n, "chunk": 100})
                else:
                    msgs0 = {}
                    result = page.evaluate("window.__benchBurst || null")
                    if result is None:
                        raise RuntimeError("the early burst did not run")
                now_page, now = page.evaluate("performance.now()"), time.monotonic()
                loop_end = now - (now_page - result["t1"]) / 1000
                ready = page.evaluate("window.__bench.ready")
                ids = {i for i in result["ids"] if i}
                entry = self._deliver(page, ids, loop_end, timeout_s, db_path)
                entry.update({
                    "loop_ms": result["loop"], "posted_ms": result.get("posted"),
                    "per_call_us_median": (median(result["per"]) or 0) * 1000,
                    "per_call_us_mean": result["loop"] / n * 1000, "ids": len(ids), "null_ids": n - len(ids),
                    "ready": ready, "loop_start": result["t0"]})
                after = page.evaluate("""(t0) => ({longtasks: window.__bench.longtasks.filter((t) => t.start >= t0),
                    msgs: window.__bench.msgs})""", result["t0"] - 1)
                tasks = after["longtasks"]
                entry["longtasks_after_loop"] = {
                    "count": len(tasks), "max_ms": max((t["duration"] for t in tasks), default=0.0),
                    "blocking_ms": sum(max(0.0, t["duration"] - 50) for t in tasks)}
                entry["messages"] = {k: {"n": v["n"] - msgs0.get(k, {}).get("n", 0),
                                         "ms": v["ms"] - msgs0.get(k, {}).get("ms", 0.0), "max_ms": v["max"]}
                                     for k, v in after["msgs"].items()}
            except Exception as error:  # noqa: BLE001 - recorded, the benchmark goes on
                entry = {"error": str(error)[:500]}
            finally:
                context.close()
            out[mode] = entry
            self.log(f"  burst {mode}: " + ", ".join(f"{k} {v}" for k, v in entry.items()
                                                     if k not in ("status", "messages", "stats", "timeline")))
        self.results["burst"] = out

    def _deliver(self, page: Page, ids: set[str], loop_end: float, timeout_s: float, db_path: str) -> dict[str, Any]:
        """Poll status() and the collector's database until the burst's `ids` are all stored at both collectors,
        or nothing moves for 10 s once nothing is pending, or `timeout_s` after the loop."""
        stats0 = _get_json(self.base_url + "/_collector/stats.json")
        pending_zero = delivered = None
        counts: dict[str, int] = {}
        last_change, last_counts = time.monotonic(), None
        status: dict[str, Any] | None = None
        times: dict[str, float | None] = {"glood": None, "genlook": None}
        timeline: list[list[Any]] = []
        while True:
            now = time.monotonic()
            answer = ask(page, "status", 5_000)
            if isinstance(answer, dict):
                status = answer
                if pending_zero is None and answer["pending"] == 0:
                    pending_zero = time.monotonic() - loop_end
            stored = _db_deliveries(db_path)
            counts = {d: sum(1 for i in ids if i in stored.get(d, {})) for d in ("glood", "genlook")}
            timeline.append([round(now - loop_end, 2), (status or {}).get("pending"), (status or {}).get("in_flight"),
                             counts["glood"], counts["genlook"]])
            for d in counts:
                if times[d] is None and counts[d] == len(ids):
                    times[d] = time.monotonic() - loop_end
            if all(c == len(ids) for c in counts.values()):
                delivered = time.monotonic() - loop_end
                break
            if counts != last_counts:
                last_counts, last_change = counts, now
            if pending_zero is not None and now - last_change > 10:
                break
            if now - loop_end > timeout_s:
                break
            time.sleep(0.5)
        stored = _db_deliveries(db_path)
        stats1 = _get_json(self.base_url + "/_collector/stats.json")
        return {
            "pending_zero_s": pending_zero, "delivered_s": delivered,
            "glood_delivered_s": times["glood"], "genlook_delivered_s": times["genlook"],
            **{f"{d}_stored": sum(1 for i in ids if i in stored.get(d, {})) for d in ("glood", "genlook")},
            **{f"{d}_repeated": sum(1 for i in ids if stored.get(d, {}).get(i, 0) > 1) for d in ("glood", "genlook")},
            "collector_rejected": {d: stats1[d]["rejected"] - stats0[d]["rejected"] for d in ("glood", "genlook")},
            "collector_rejected_by_status": {d: stats1[d]["rejected_by_status"] for d in ("glood", "genlook")},
            "status": status, "stats": (status or {}).get("stats"),
            "timeline": {"columns": ["s after the loop", "pending", "in_flight", "glood stored", "genlook stored"],
                         "rows": timeline}}

    def delivery(self, server_url: str, collector_url: str, navigations: int, events: int, label: str) -> None:
        """`navigations` page views, each firing `events` track() calls right before page.goto elsewhere
        (`flush_interval_ms` 10 min, `max_batch` 1000: only leaving sends them). A last tracker page stays
        until it has adopted what the pages before left and sent it."""
        _reset_collectors(collector_url)
        context = self.new_context({"flush_interval_ms": 600000, "max_batch": 1000})
        page = context.new_page()
        fired: list[str] = []
        not_ready = 0
        for index in range(navigations):
            page.goto(server_url + NAV_PATHS[index % len(NAV_PATHS)], wait_until="commit")
            try:
                wait_ready(page)
            except Exception:  # noqa: BLE001 - counted, the run goes on
                not_ready += 1
                continue
            ids = page.evaluate("""(k) => Array.from({length: k}, (_, i) =>
                window.gloodTracker.track('checkout_started', {checkout: {token: 'bench-' + i}}))""", events)
            fired += [i for i in ids if i]
        page.goto(server_url + "/?bench=last", wait_until="commit")
        try:
            wait_ready(page)
            last, _ = wait_status(page, lambda s: s["adopted"] and s["pending"] == 0, 60)
        except Exception:  # noqa: BLE001
            last = None
        wanted = set(fired)
        stored: dict[str, set[str]] = {}
        deadline = time.monotonic() + 15
        while True:
            for destination in ("glood", "genlook"):
                stored[destination] = {item["event_id"] for item in _listing(collector_url, destination)} & wanted
            if all(len(s) == len(wanted) for s in stored.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        context.close()
        # Every event the collector stored in this run (page events too, not only the fired ones).
        doubles = _double_sends(collector_url)
        resent = _resent_unanswered(last)
        self.results.setdefault("delivery", {})[label] = {
            "navigations": navigations, "events_per_navigation": events, "fired": len(wanted),
            "not_ready": not_ready, "last_page_status": last,
            **{f"{d}_stored": len(s) for d, s in stored.items()},
            **{f"{d}_fraction": (len(s) / len(wanted) if wanted else None) for d, s in stored.items()},
            "double_sends": doubles, "resent_unanswered": resent}
        self.log(f"  delivery {label}: fired {len(wanted)}, "
                 + ", ".join(f"{d} {len(s)}" for d, s in stored.items())
                 + f"; delivered more than once: glood {doubles['glood']}, genlook {doubles['genlook']}"
                 + f"; tracker's resent_unanswered: {'-' if resent is None else resent}")

    def left_early(self, pages: int, leave_times: tuple[float, ...] = LEAVE_TIMES_S) -> None:
        """Per leave time, `pages` product pages (unique `?bench=` query), each left for the next that long
        after navigation start (the page's performance.now()), then a last page that stays until ready and
        adopted. Counts, per left page, its page_viewed and product_viewed stored exactly once at each collector
        (Glood by `body.page_url`, Genlook by `context.$current_url`)."""
        _reset_collectors(self.base_url)
        tag = uuid.uuid4().hex[:8]
        series: dict[str, Any] = {}
        for leave in leave_times:
            context = self.new_context()
            page = context.new_page()
            urls: list[str] = []
            left_at: list[float] = []
            states: list[dict[str, Any]] = []
            for index in range(pages):
                url = f"{self.base_url}{PAGE_PATH}?bench={tag}-{int(leave * 1000)}-{index}"
                page.goto(url, wait_until="commit")
                while True:
                    state = page.evaluate(LEAVE_STATE_JS)
                    if state["now"] >= leave * 1000:
                        break
                    time.sleep(min(0.02, (leave * 1000 - state["now"]) / 1000))
                left_at.append(state["now"])
                states.append(state)
                urls.append(url)
            last_url = f"{self.base_url}/?bench={tag}-{int(leave * 1000)}-last"
            page.goto(last_url, wait_until="commit")
            last: dict[str, Any] | None = None
            adopted_s = None
            try:
                wait_ready(page)
                last, adopted_s = wait_status(page, lambda s: s["adopted"] and s["pending"] == 0, 60)
            except Exception as error:  # noqa: BLE001
                self.log(f"  left early {leave} s: the last page did not settle: {error}")
            found = self._page_events(urls)
            other_url = found.pop("_other_url", None)
            context.close()
            # This leave time's pages only (the left pages and the last page share the marker).
            doubles = _double_sends(self.base_url, f"bench={tag}-{int(leave * 1000)}-")
            resent = _resent_unanswered(last)
            sensed = [bool(st["sensor"]) for st in states]
            summary: dict[str, Any] = {"pages": pages, "left_at_ms_median": median(left_at),
                                       "left_at_ms_max": max(left_at), "sensor_ran": sum(sensed),
                                       "sections_seen": sum(1 for st in states if st["fact"] is not None),
                                       "last_page_adopted_after_s": adopted_s,
                                       "last_page_stats": (last or {}).get("stats"),
                                       "double_sends": doubles, "resent_unanswered": resent}
            for key, per_page in found.items():
                summary[key] = {"exactly_once": sum(1 for c in per_page if c == 1),
                                "missing": sum(1 for c in per_page if c == 0),
                                "missing_sensor_ran": sum(1 for c, r in zip(per_page, sensed, strict=True)
                                                          if c == 0 and r),
                                "more": sum(1 for c in per_page if c > 1)}
                summary[key]["fraction"] = summary[key]["exactly_once"] / pages
            summary["genlook_other_url"] = other_url
            summary["per_page"] = [{"url": u, **st, **{k: v[i] for k, v in found.items()}}
                                   for i, (u, st) in enumerate(zip(urls, states, strict=True))]
            series[f"{leave:g}"] = summary
            self.log(f"  left early {leave:g} s ({pages} pages, left at median {median(left_at):.0f} ms): "
                     + ", ".join(f"{k} {v['exactly_once']}/{pages}" for k, v in summary.items()
                                 if isinstance(v, dict) and "exactly_once" in v)
                     + f"; delivered more than once: glood {doubles['glood']}, genlook {doubles['genlook']}"
                     + f"; tracker's resent_unanswered: {'-' if resent is None else resent}")
        self.results.setdefault("delivery", {})["left_early"] = series

    def _page_events(self, urls: list[str], settle_s: float = 15) -> dict[str, list[int]]:
        """Per page URL: how many times its page_viewed / product_viewed was stored at each collector (items
        matching the URL, times their deliveries); waits until every count is at least 1 or `settle_s`."""
        deadline = time.monotonic() + settle_s
        while True:
            counts: dict[str, list[int]] = {}
            glood_ids: dict[str, set[str]] = {}
            for name in GENLOOK_NAMES:
                items = _listing(self.base_url, "glood", name)
                per_url: dict[str, int] = {}
                for item in items:
                    body = item.get("body") if isinstance(item.get("body"), dict) else {}
                    url = body.get("page_url") or item.get("page_url")
                    per_url[url] = per_url.get(url, 0) + int(item.get("deliveries") or 1)
                    if url in urls:
                        glood_ids.setdefault(url, set()).add(item["event_id"])
                counts[f"glood {name}"] = [per_url.get(u, 0) for u in urls]
            other = 0
            for name, genlook in GENLOOK_NAMES.items():
                items = _listing(self.base_url, "genlook", genlook)
                per_url = {}
                for item in items:
                    context = item.get("context") if isinstance(item.get("context"), dict) else {}
                    url = context.get("$current_url")
                    per_url[url] = per_url.get(url, 0) + int(item.get("deliveries") or 1)
                    # Same event id as a left page's Glood event, but another page's context: a wrong URL.
                    if url not in urls and any(item["event_id"] in s for s in glood_ids.values()):
                        other += 1
                counts[f"genlook {name}"] = [per_url.get(u, 0) for u in urls]
            if all(all(c >= 1 for c in v) for v in counts.values()) or time.monotonic() > deadline:
                counts["_other_url"] = other  # type: ignore[assignment]
                return counts
            time.sleep(0.5)


#: What a page left early had done when it was left.
LEAVE_STATE_JS = """() => ({now: performance.now(), ready_state: document.readyState,
  sensor: !!(window.gloodTracker && window.gloodTracker.track),
  fact: window.__bench ? window.__bench.firstObserve : null,
  worker: window.__bench ? window.__bench.worker : null,
  tracker: (document.documentElement && document.documentElement.dataset.gloodTracker) || null})"""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


# -- report -------------------------------------------------------------------------------

def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    boot = results.get("boot", {})
    runs = results["options"]["runs"]

    def row(label: str, *cells: str, width: int = 14) -> None:
        lines.append(f"{label:<46}" + "".join(f"{c:>{width}}" for c in cells))

    def per_visit(name: str, key: str, fmt: Callable[[Any], str] = lambda v: _fmt(v)) -> list[str]:
        return [fmt(boot[name][v].get(key)) for v in VISITS]

    if boot:
        opts = results["options"]
        cache = "incognito, in-memory cache" if opts.get("incognito") else "fresh profile, disk cache"
        compared = [(name, name.split(":", 1)[1]) for name in boot if name.startswith("compare:")]
        if "first" in boot:
            compared.append(("first", "embed first"))
        lines.append(f"Boot, ms from navigation start (median of {runs} runs; {cache}; network: {opts.get('network')})")
        lines.append("  cold = empty profile; warm = 2nd visit, same browser; return = 3rd visit, new browser session"
                     + (" (incognito: same context)" if opts.get("incognito") else ""))
        lines.append("  none = the same page without the tracker's embed (the control)"
                     + ("; embed first = the embed before the stylesheet link" if "first" in boot else ""))
        row("", "cold", "warm", "return")
        row("tracker: Python ready", *per_visit("tracker", "ready"))
        for name, label in compared:
            row(f"  {label}: tracker ready", *per_visit(name, "ready"))
        row("tracker: first fact recorded", *per_visit("tracker", "first_fact"))
        row("tracker: worker created (runtime starts)", *per_visit("tracker", "worker_created"))
        for key, label in (("fcp", "first contentful paint"), ("dcl", "DOMContentLoaded"), ("load", "load event end"),
                           ("parse_ms", "parsing after the HTML (*)")):
            row(f"tracker: {label}", *per_visit("tracker", key))
            for name, c in compared:
                row(f"  {c}: {label}", *per_visit(name, key))
            if "none" in boot:
                row(f"none: {label}", *per_visit("none", key))
        lines.append("  (*) domInteractive - responseEnd: the inline sensor after the stylesheet link holds the parser")
        lines.append("      until store.css has arrived and the sensor has run; without the embed the parser goes on")
        not_ready = sum(boot["tracker"][v]["not_ready"] for v in VISITS)
        csp = {n: sum(boot[n][v]["csp_violations_total"] for v in VISITS) for n in ("tracker", "none") if n in boot}
        errors = {n: sum(boot[n][v]["console_errors_total"] for v in VISITS) for n in ("tracker", "none") if n in boot}
        lines.append(f"  visits not ready: {not_ready}; CSP violations (all visits): "
                     + ", ".join(f"{n} {c}" for n, c in csp.items()) + "; console errors: "
                     + ", ".join(f"{n} {c}" for n, c in errors.items()))
        lines.append("")
        lines.append("Bytes on the wire for the tracker (/static/vendor + /static/tracker, headers included)")
        row("", "first visit", "repeat visit", "return visit")
        for name, prefix in (("tracker", ""), *((n, f"{c}: ") for n, c in compared)):
            if name not in boot:
                continue
            row(f"{prefix}bytes", *per_visit(name, "tracker_bytes"))
            row(f"{prefix}  of which before the load event", *per_visit(name, "tracker_bytes_before_load"))
            row(f"{prefix}requests", *per_visit(name, "tracker_request_count"))
            row("  before the load event", *per_visit(name, "tracker_requests_before_load"))
            row("  served from cache", *per_visit(name, "tracker_from_cache"))
            row("  revalidated (304)", *per_visit(name, "tracker_not_modified"))
        embed = results.get("embed") or {}
        if "sensor_text" in embed:
            lines.append("  inline in every page's HTML, bytes (gzip -6 alone)       raw          gzip")
            for key, label in (("sensor_text", "sensor's text"), ("sensor_element", "<script data-runtime> element"),
                               ("config_tag", "config JSON tag"), ("embed", "both (the embed)")):
                row(f"    {label}", "", f"{embed[key]['raw']:,}", f"{embed[key]['gzip']:,}")
            doc = embed["document"]
            row("    product page HTML, tracker / none (gzip)", "", f"{doc['tracker']['gzip']:,}",
                f"{doc['none']['gzip']:,}")
        for name, files in (results.get("first_visit_files") or {}).items():
            label = name.split(":", 1)[1] if name.startswith("compare:") else name
            lines.append(f"  first visit, per file ({label}, run 1): bytes on the wire, Content-Encoding, ms")
            for entry in files:
                lines.append(f"    {entry['path'][-66:]:<66}{entry['bytes'] or 0:>11,}  {entry['encoding'] or '-':<5}"
                             f"{_ms(entry['ms']):>10}")
            lines.append(f"    {'total':<66}{sum(e['bytes'] or 0 for e in files):>11,}")
        lines.append("")
        lines.append("Main-thread long tasks until ready + 0.75 s (none: load + 2 s), median per visit")
        row("", "count", "total ms", "blocking ms", "longest ms", "before load")
        for name, label in (("tracker", "tracker"), *compared, ("none", "none")):
            if name not in boot:
                continue
            for visit in VISITS:
                v = boot[name][visit]
                row(f"{label}, {visit}", _fmt(v["longtask_count"]), _fmt(v["longtask_ms"]), _fmt(v["blocking_ms"]),
                    _fmt(v["longtask_max_ms"]), f"{_fmt(v['longtask_count_before_load'])} / "
                    f"{_fmt(v['blocking_ms_before_load'])} ms")
        lines.append("  before load = count / blocking ms of the long tasks that started before the load event")
        lines.append("")
        lines.append("The tracker's main-thread cost (median per visit, ms)")
        row("", "longest task", "sensor run", "top script", "scripts", "worker msgs", "longest msg", "beacons",
            width=12)
        for name, label in (("tracker", "tracker"), *compared):
            for visit in VISITS:
                v = boot[name][visit]
                row(f"{label}, {visit}", _fmt1(v["tracker_longtask_max_ms"]), _fmt1(v["sensor_script_ms"]),
                    _fmt1(v["tracker_script_max_ms"]), _fmt1(v["tracker_script_ms"]),
                    f"{_fmt1(v['msg_ms'])} ({_fmt(v['msg_count'])})", _fmt1(v["msg_max_ms"]),
                    f"{_fmt1(v['beacon_ms'])} ({_fmt(v['beacon_count'])})", width=12)
        lines.append("  From long animation frames (LoAF: scripts over 5 ms in frames over 50 ms): longest task = long")
        lines.append("  task overlapping a tracker script (/static/tracker/, the inline sensor and its listeners, the")
        lines.append("  worker's message handler); sensor run = the inline sensor's own script entry (when in a LoAF);")
        lines.append("  top script / scripts = the longest of those scripts / their total. Timed by the benchmark's")
        lines.append("  wrappers: worker msgs = the sensor's handling of every worker message (count), beacons =")
        lines.append("  navigator.sendBeacon calls (count).")
        if "none" in boot:
            for visit in VISITS:
                t, n = boot["tracker"][visit], boot["none"][visit]
                lines.append(f"  long tasks tracker - none, {visit}: "
                             f"{_signed(t['longtask_count'], n['longtask_count'])} tasks, "
                             f"{_signed(t['blocking_ms'], n['blocking_ms'])} ms blocking, longest "
                             f"{_fmt(t['longtask_max_ms'])} vs {_fmt(n['longtask_max_ms'])} ms")
    if "per_event" in results:
        e = results["per_event"]
        lines.append("")
        lines.append(f"Per event inside the page, through window.gloodTracker ({e['reps']} batches of {e['batch']})")
        row("", "median", "p95", "loop mean")
        row("track() -> id, per call (us)", _fmt(e["track_us_median"]), _fmt(e["track_us_p95"]),
            _fmt(e["track_us_loop_mean"]))
        row(f"await flush() of {e['batch']} events, round trip (ms)", _fmt1(e["flush_ms_median"]),
            _fmt1(e["flush_ms_p95"]), "")
        row("  main thread: worker's send messages (us)", _fmt(e["send_us_median"]), _fmt(e["send_us_p95"]), "")
        row("    of which sendBeacon() (us)", _fmt(e["beacon_us_median"]), "", "")
        row("    messages / bodies / beacons per flush", f"{_fmt(e['send_messages_per_flush'])} / "
            f"{_fmt(e['bodies_per_flush'])} / {_fmt(e['beacons_per_flush'])}", "", "")
        hold = (e.get("messages") or {}).get("hold")
        if hold:
            row("  main thread: worker's hold messages per flush (us)", _fmt(hold["ms_per_flush"] * 1000), "", "")
        row(f"  reference: {e['batch'] + 1} sendBeacon() from plain JS (us)", _fmt(e.get("js_beacons_us_median")),
            "", "")
    if "burst" in results:
        b = results["burst"]
        lines.append("")
        lines.append(f"Burst: {b['n']:,} track('search_submitted') calls in one loop (default config)")
        row("", "after ready", "before ready")
        r, x = b.get("ready", {}), b.get("early", {})
        for mode, entry in (("after ready", r), ("before ready", x)):
            if "error" in entry:
                lines.append(f"  {mode}: failed: {entry['error']}")
        row("loop on the main thread (ms)", _fmt(r.get("loop_ms")), _fmt(x.get("loop_ms")))
        row("  + posting the facts to the worker (ms)", _fmt(r.get("posted_ms")), "")
        row("per call, median of 100-call chunks (us)", _fmt1(r.get("per_call_us_median")),
            _fmt1(x.get("per_call_us_median")))
        row("Python ready (ms from navigation start)", _fmt(r.get("ready")), _fmt(x.get("ready")))
        row("pending() == 0, s after the loop", _fmt1(r.get("pending_zero_s")), _fmt1(x.get("pending_zero_s")))
        row("all stored at both collectors, s after", _fmt1(r.get("delivered_s")), _fmt1(x.get("delivered_s")))
        row("stored at Glood", _fmt(r.get("glood_stored")), _fmt(x.get("glood_stored")))
        row("stored at Genlook", _fmt(r.get("genlook_stored")), _fmt(x.get("genlook_stored")))
        row("  delivered more than once (Glood / Genlook)", f"{_fmt(r.get('glood_repeated'))} / "
            f"{_fmt(r.get('genlook_repeated'))}",
            f"{_fmt(x.get('glood_repeated'))} / {_fmt(x.get('genlook_repeated'))}")
        row("requests refused by the collectors", _pair(r.get("collector_rejected")),
            _pair(x.get("collector_rejected")))
        row("long tasks after the loop (count / longest ms)", _lt(r), _lt(x))
        row("worker messages on the main thread (ms)", _msgs(r), _msgs(x))
        for mode, entry in (("after ready", r), ("before ready", x)):
            stats = entry.get("stats") or {}
            shown = {k: v for k, v in stats.items() if v} | ({"unstored": entry["status"]["unstored"]}
                                                            if (entry.get("status") or {}).get("unstored") else {})
            lines.append(f"  status().stats {mode}: " + (", ".join(f"{k} {v:,}" for k, v in shown.items()) or "-"))
    if "delivery" in results:
        lines.append("")
        navigations = {k: v for k, v in results["delivery"].items() if k != "left_early"}
        if navigations:
            lines.append("Delivery: events fired right after ready, then page.goto elsewhere "
                         "(no timer flush; a last page stays until adopted)")
            row("", "fired", "glood", "genlook", "twice G / GL", "allowed")
            for label, d in navigations.items():
                row(f"{label} ({d['navigations']} x {d['events_per_navigation']})", str(d["fired"]),
                    _pct(d.get("glood_fraction")), _pct(d.get("genlook_fraction")), _pair(d.get("double_sends"), "?"),
                    _count(d.get("resent_unanswered")))
        left = results["delivery"].get("left_early")
        if left:
            lines.append("Pages left early: product pages left for the next page N s after navigation start;")
            lines.append("  stored exactly once at each collector (a last page stays until adopted)")
            row("", "Glood page", "Glood product", "Genlook page", "Genlook prod.", "twice G / GL", "allowed")
            for leave, d in left.items():
                cells = [f"{d[k]['exactly_once']}/{d['pages']}" for k in (
                    "glood page_viewed", "glood product_viewed", "genlook page_viewed", "genlook product_viewed")]
                row(f"left at {leave} s (median {_fmt(d['left_at_ms_median'])} ms)", *cells,
                    _pair(d.get("double_sends"), "?"), _count(d.get("resent_unanswered")))
                if d.get("sensor_ran", d["pages"]) < d["pages"] or d.get("sections_seen", d["pages"]) < d["pages"]:
                    lines.append("    at the last check before leaving: the sensor had run on "
                                 f"{d['sensor_ran']}/{d['pages']}, "
                                 f"recorded a section on {d['sections_seen']}/{d['pages']}")
                missing = {k: (d[k]["missing"], d[k].get("missing_sensor_ran", "-"), d[k]["more"])
                           for k in d if isinstance(d[k], dict) and "missing" in d[k]}
                if any(m or o for m, _, o in missing.values()) or d.get("genlook_other_url"):
                    lines.append("    missing (of which the sensor had run) / more than once: " + ", ".join(
                        f"{k} {m} ({r}) / {o}" for k, (m, r, o) in missing.items() if m or o)
                        + (f"; Genlook events under another page's URL: {d['genlook_other_url']}"
                           if d.get("genlook_other_url") else ""))
        if navigations or left:
            lines.append(DOUBLE_SENDS_LEGEND)
    if "routes" in results:
        lines.append("")
        lines.append(routes_table(results["routes"]))
    if "lighthouse" in results:
        lines.append(lighthouse_table(results["lighthouse"]))
    if "boot_engines" in results:
        from .boot_engines import table as engines_table

        lines.extend(engines_table(results["boot_engines"]))
    if "peers" in results:
        from .peers import peers_table

        lines.append(peers_table(results["peers"]))
    for part, error in (results.get("errors") or {}).items():
        lines.append(f"\n{part} failed: {error[:300]}")
    return "\n".join(lines).strip("\n")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _fmt1(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _signed(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a - b:+,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _pair(value: dict[str, int] | None, absent: str = "-") -> str:
    return absent if not value else f"{value.get('glood', 0)} / {value.get('genlook', 0)}"


def _count(value: int | None) -> str:
    """A count that may be missing (no status to read it from): "-" then."""
    return "-" if value is None else f"{value:,}"


DOUBLE_SENDS_LEGEND = (
    "  twice G / GL: events stored at Glood / Genlook whose id arrived more than once (deliveries > 1; ? = not\n"
    "  measured). allowed: the tracker's own count of its one allowed double send (status().stats.resent_unanswered:\n"
    "  events in flight by the worker's own fetch when a page went, answer never seen), as the last page reports it:\n"
    "  the count of the record it adopted (each page's count goes to the page that takes its record; the counts of\n"
    "  the pages before are not summed); an absent key is 0; - = no status from the last page")


def _lt(entry: dict[str, Any]) -> str:
    t = entry.get("longtasks_after_loop")
    return "-" if not t else f"{t['count']} / {t['max_ms']:,.0f}"


def _msgs(entry: dict[str, Any]) -> str:
    m = entry.get("messages")
    return "-" if not m else f"{sum(v['ms'] for v in m.values()):,.0f}"


# -- main ---------------------------------------------------------------------------------

PARTS = ("boot", "per-event", "burst", "navigations", "left-early", "routes")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     epilog="parts:\n" + __doc__.split("\n\n", 3)[3],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs (2 boot runs, 5 navigations, 5 pages per leave time, 60 s burst wait)")
    parser.add_argument("--runs", type=int, default=None, help="boot runs per variant (default 5, quick 2)")
    parser.add_argument("--navigations", type=int, default=None, help="delivery navigations (default 20, quick 5)")
    parser.add_argument("--events", type=int, default=5, help="events fired per navigation (default %(default)s)")
    parser.add_argument("--left-pages", type=int, default=None,
                        help="pages left early per leave time (0.3, 1, 2 s; default 10, quick 5)")
    parser.add_argument("--routes", type=int, default=200,
                        help="client-side route changes of the routes part (default %(default)s)")
    parser.add_argument("--routes-every", type=int, default=25,
                        help="sample the routes part every N route changes (default %(default)s)")
    parser.add_argument("--burst", type=int, default=10_000, help="track() calls of the burst (default %(default)s)")
    parser.add_argument("--burst-timeout", type=float, default=None,
                        help="seconds to wait for the burst's delivery (default 120, quick 60)")
    parser.add_argument("--only", choices=[*PARTS[:3], "delivery", *PARTS[3:], "lighthouse", "peers"], action="append",
                        help="run only these parts (repeatable; default: boot, per-event, burst, delivery, routes; "
                             "delivery = navigations + left-early; lighthouse runs only when named)")
    parser.add_argument("--incognito", action="store_true",
                        help="boot runs in incognito contexts (in-memory cache) instead of fresh profiles (disk cache)")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="none",
                        help="emulated network for the boot runs (default: %(default)s = localhost as is; "
                             "applied to the page's requests through CDP)")
    parser.add_argument("--compare", metavar="LABEL=URL", action="append", default=[],
                        help="also time the tracker page of another running store (e.g. an older checkout), "
                             "interleaved with this one's (repeatable)")
    parser.add_argument("--engine-runs", type=int, default=2,
                        help="with boot: fresh sessions per engine (Chromium, Firefox, WebKit) for the per-engine "
                             "boot table, bench/boot_engines.py (default %(default)s, 0 = skip)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the control page (the store page without the tracker's embed)")
    parser.add_argument("--embed-first", action="store_true",
                        help="also boot the page with the tracker's embed moved before the stylesheet link "
                             "(/_bench/first/: the sensor then waits for no stylesheet)")
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
    parser.add_argument("--peers-runs", type=int, default=1,
                        help="peers: Playwright runs (a cold and a return visit per page, variant and throttling; "
                             "default %(default)s)")
    parser.add_argument("--peers-lighthouse-runs", type=int, default=1,
                        help="peers: Lighthouse runs per page and variant (default %(default)s, 0 = skip)")
    parser.add_argument("--label", default="", help="a label stored in the JSON (e.g. 'before')")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench-results"), help="JSON directory (default: %(default)s)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 5)
    args.navigations = args.navigations or (5 if args.quick else 20)
    args.left_pages = args.left_pages or (5 if args.quick else 10)
    args.burst_timeout = args.burst_timeout or (60.0 if args.quick else 120.0)
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
    parts = set(args.only or ["boot", "per-event", "burst", "delivery", "routes"])
    if "delivery" in parts:
        parts = (parts - {"delivery"}) | {"navigations", "left-early"}
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
                "label": args.label, "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "options": {"runs": args.runs, "navigations": args.navigations, "events": args.events,
                            "left_pages": args.left_pages, "burst": args.burst,
                            "burst_timeout_s": args.burst_timeout, "quick": args.quick,
                            "routes": args.routes, "routes_every": args.routes_every,
                            "page": PAGE_PATH, "incognito": args.incognito,
                            "network": args.network, "network_profile": NETWORKS[args.network],
                            "parts": sorted(parts), "compare": compare, "embed_first": args.embed_first},
                "environment": _environment(), "timings_s": {}}

            def log(message: str) -> None:
                print(message, file=sys.stderr, flush=True)

            def timed(part: str, run: Callable[[], None]) -> None:
                log(f"{part} (load average {os.getloadavg()[0]:.1f})")
                begun = time.monotonic()
                try:
                    run()
                except Exception as error:  # noqa: BLE001 - the other parts still run and print
                    log(f"{part} failed: {error!r}")
                    results.setdefault("errors", {})[part] = repr(error)[:2000]
                results["timings_s"][part] = round(time.monotonic() - begun, 1)

            if parts - {"lighthouse", "peers"}:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
                    results["environment"]["browser_version"] = browser.version
                    bench = Bench(playwright, browser, app, store.url, incognito=args.incognito,
                                  network=NETWORKS[args.network], log=log)
                    bench.results = results
                    if "boot" in parts:
                        timed("boot", lambda: bench.boot(args.runs, compare=compare, reference=not args.no_reference,
                                                     embed_first=args.embed_first))
                    if "per-event" in parts:
                        timed("per-event", bench.per_event)
                    if "burst" in parts:
                        timed("burst", lambda: bench.burst(args.burst, args.burst_timeout))
                    if "navigations" in parts:
                        def navigations() -> None:
                            bench.delivery(store.url, store.url, args.navigations, args.events,
                                           "same-origin collectors")
                            bench.delivery(cross.url, remote.url, args.navigations, args.events,
                                           "cross-site collectors")

                        timed("navigations", navigations)
                    if "left-early" in parts:
                        timed("left-early", lambda: bench.left_early(args.left_pages))
                    if "routes" in parts:
                        def routes() -> None:
                            _reset_collectors(store.url)
                            results["routes"] = run_routes(
                                playwright, CHROMIUM, OFFLINE_ARGS, store.url, routes=args.routes,
                                every=args.routes_every, viewport=VIEWPORT, log=log)
                        timed("routes", routes)
                    browser.close()
            if "lighthouse" in parts:
                # After the Playwright browser has closed: Lighthouse starts its own Chromium per run.
                results["lighthouse"] = run_lighthouse(
                    store.url, runs=args.lighthouse_runs, devtools_runs=args.lighthouse_devtools_runs,
                    chrome=CHROMIUM, timeout_s=args.lighthouse_timeout, extra_flags=tuple(args.lighthouse_flag),
                    reports_dir=Path(args.lighthouse_reports) if args.lighthouse_reports else None, log=log)
            if "boot" in parts and args.engine_runs:  # per engine, own store and browsers (bench/boot_engines.py)
                from .boot_engines import run_boot_engines

                timed("boot-engines", lambda: results.update(boot_engines=run_boot_engines(
                    Settings(db_path=str(Path(tmp) / "engines.sqlite3")), CHROMIUM, OFFLINE_ARGS,
                    runs=args.engine_runs, log=log)))
            if "peers" in parts:  # its own store, browsers and Lighthouse runs (bench/peers.py)
                from .peers import run_peers

                timed("peers", lambda: results.update(peers=run_peers(
                    CHROMIUM, INIT_SCRIPT, runs=args.peers_runs, lighthouse_runs=args.peers_lighthouse_runs,
                    out_dir=Path(args.out), log=log)))
        finally:
            for server in servers:
                server.stop()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["environment"]["loadavg_end"] = os.getloadavg()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"bench-{stamp}{'-' + args.label if args.label else ''}.json"
    (out_dir / name).write_text(json.dumps(results, indent=1))
    print(table(results))
    load = results["environment"]
    print(f"\nJSON: {out_dir / name}  ({results['duration_s']} s; load average "
          f"{load['loadavg'][0]:.1f} at start, {load['loadavg_end'][0]:.1f} at end)")
    return results

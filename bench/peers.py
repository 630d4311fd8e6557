"""Peers: the tracker side by side with what a merchant would use instead, on the demo store's pages.

    .venv/bin/python -m bench --only peers [--peers-runs N] [--peers-lighthouse-runs N]

Variants of each page (home, collection, product): `none` (no tracker, /_bench/none/), `ours` (the store page),
and each peer (PostHog, Segment Analytics.js 2.0, Snowplow browser tracker, Amplitude Browser SDK 2; exact versions
in bench/peers/package.json, installed there with `npm ci` on first use), served from the store's own origin and
configured offline to a dummy collector on it (bench/peers_server.py). Every request of every run is checked: one
that leaves the store's origin fails the part loudly.

Playwright (Chromium): per run, page and variant, a fresh profile: a first visit (cold) and a visit from a new
browser session on that profile (return), desktop and with 4x CPU throttling (CDP Emulation.setCPUThrottlingRate,
the page's main thread only), interleaved. Per visit: the tracker's main-thread script time (Long Animation Frames
script attribution: its files, the inline snippet or sensor, its worker's message handler), the page's main-thread
script and task time (CDP Performance.getMetrics ScriptDuration / TaskDuration), long tasks, the click's processing
(Event Timing, durationThreshold 16: processingEnd - processingStart of the click on a product link), CPU time of
every thread of the browser's processes from /proc/<pid>/task/<tid>/stat (renderer main thread, renderer workers,
other renderer threads, browser, GPU, utility), the first event's arrival at the collector in seconds after
navigation start, and the bytes of the tracker's files on the wire.

Lighthouse (mobile, simulated throttling; bench/lighthouse.py's pinned Lighthouse): score, TBT, LCP,
mainthread-work-breakdown, bootup-time by file; for `ours` also the trace, read to say which tasks and URLs the
main-thread breakdown charges to the tracker (`trace_attribution`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Playwright, Request, ViewportSize, sync_playwright

from demo_store.app import Settings
from demo_store.live import LiveServer

from .lighthouse import CHROME_FLAGS, ensure_lighthouse, lighthouse_run
from .peers_server import PEERS, PROJECT_DIR, PeersApp

__all__ = ["run_peers", "peers_table", "VARIANTS", "PAGES", "proc_cpu_delta", "ratio", "trace_attribution"]

VARIANTS = ("none", "ours", *PEERS)
PAGES: dict[str, str] = {"home": "/", "collection": "/collections/all", "product": "/products/classic-oxford-shirt"}
VISITS = ("cold", "return")
THROTTLES = {"desktop": 1, "cpu4x": 4}
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 720}
#: Our tracker's files (the build's) and its runtime.
OUR_PREFIXES = ("/dist/", "/static/tracker/", "/static/vendor/")
OUR_COLLECTORS = ("/api/storefront/v3/headless/events", "/apps/proxy_genlook-x/public/tracking/events")
#: A product link in a recommendation section (home, product); the collection page has none, so there the
#: first product card of the grid is clicked (ours records no click there: it is not a recommended product).
CLICK_TARGETS = (".glood-section a.card-link", ".product-grid a.card-link")
FIRST_EVENT_TIMEOUT_S = {"desktop": 30.0, "cpu4x": 60.0}
SETTLE_S = {"desktop": 2.0, "cpu4x": 4.0}
#: How long a cold visit of ours may stay for the worker's memory snapshot to be made (it starts 1.5 s after ready).
SNAPSHOT_TIMEOUT_S = 90.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIN_NODE = (18, 20)

#: Event Timing for the click, and the bench's own click handling: a product link's click is not followed (the
#: page stays to be measured), and the `pointerup` before the benchmark's click busy-waits 24 ms so that the click's
#: Event Timing entry (duration = from input to the next paint) is over the 16 ms reporting threshold; that wait is
#: in pointerup's processing, not in the click's (processingStart..processingEnd).
PEERS_INIT = """(() => {
  if (window.__peers) return;
  const P = window.__peers = {events: [], lcp: null, arm: false, clicks: 0};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) P.events.push({name: e.name, start: e.startTime, duration: e.duration,
        processing: e.processingEnd - e.processingStart, delay: e.processingStart - e.startTime});
    }).observe({type: 'event', durationThreshold: 16, buffered: true});
  } catch (e) {}
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) P.lcp = e.startTime;
    }).observe({type: 'largest-contentful-paint', buffered: true});
  } catch (e) {}
  addEventListener('pointerup', () => {
    if (!P.arm) return;
    P.arm = false;
    const t0 = performance.now();
    while (performance.now() - t0 < 24) {}
  }, true);
  addEventListener('click', (e) => {
    if (e.target && e.target.closest && e.target.closest('a.card-link')) { e.preventDefault(); P.clicks++; }
  });
})();"""

COLLECT_JS = """() => {
  const B = window.__bench || {}, P = window.__peers || {};
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {time_origin: performance.timeOrigin, url: location.href, longtasks: B.longtasks || [], loaf: B.loaf || [],
          msgs: B.msgs || {}, storage: B.storage || {}, beacons: B.beacons || {}, csp: B.csp || [],
          ready: B.ready, state: B.state, events: P.events || [], clicks: P.clicks || 0, lcp: P.lcp,
          fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd || null, load: nav.loadEventEnd || null};
}"""

#: Per-visit figures whose medians the summary keeps.
KEYS = ("tracker_script_ms", "tracker_loaf_scripts", "script_ms", "task_ms", "longtask_count", "longtask_ms",
        "blocking_ms", "click_processing_ms", "click_delay_ms", "cpu_main_s", "cpu_off_main_s", "cpu_worker_s",
        "cpu_renderer_other_s", "cpu_browser_s", "cpu_gpu_s", "cpu_utility_s", "first_event_s", "tracker_bytes",
        "collector_requests", "collector_bytes", "fcp", "lcp", "storage_ms", "msg_ms")
LH_KEYS = ("score", "tbt", "lcp", "fcp", "main_thread_ms", "bootup_ms", "tracker_bootup_ms",
           "tracker_bootup_scripting_ms")


# -- installation -------------------------------------------------------------------------

def ensure_peers(log: Callable[[str], None] = print) -> dict[str, str]:
    """`npm ci` in bench/peers unless its lock's install is there; the installed version of each peer."""
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        raise RuntimeError("the peers benchmark needs Node.js and npm (Debian: apt-get install nodejs npm)")
    digest = hashlib.sha256(b"".join((PROJECT_DIR / name).read_bytes()
                                     for name in ("package.json", "package-lock.json"))).hexdigest()[:16]
    stamp = PROJECT_DIR / "node_modules" / f".glood-stamp-{digest}"
    if not stamp.exists():
        log("peers: npm ci in bench/peers")
        done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                              cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in bench/peers failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    versions = {}
    for name, peer in PEERS.items():
        manifest = PROJECT_DIR / "node_modules" / peer.package / "package.json"
        installed = json.loads(manifest.read_text())["version"] if manifest.exists() else None
        if installed != peer.version:
            raise RuntimeError(f"bench/peers has {peer.package} {installed}, expected {peer.version}")
        if not (peer.root / peer.entry).is_file():
            raise RuntimeError(f"{peer.package} has no {peer.dist}/{peer.entry}")
        versions[name] = installed
    stamp.touch()
    return versions


# -- pure helpers (unit-tested) -----------------------------------------------------------

def median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def ratio(value: float | None, reference: float | None) -> float | None:
    """value / reference, None when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def proc_cpu_delta(before: dict[tuple[int, int], tuple[str, str, int]],
                   after: dict[tuple[int, int], tuple[str, str, int]], clk_tck: int = CLK_TCK) -> dict[str, float]:
    """CPU seconds per class of thread between two `/proc` snapshots ({(pid, tid): (process type, thread name,
    utime+stime ticks)}): the renderer's main thread (tid == pid), its dedicated workers, its other threads, and
    the browser, GPU and utility processes (all their threads). A thread new in `after` counts from 0."""
    out = {"cpu_main_s": 0.0, "cpu_worker_s": 0.0, "cpu_renderer_other_s": 0.0, "cpu_browser_s": 0.0,
           "cpu_gpu_s": 0.0, "cpu_utility_s": 0.0}
    for (pid, tid), (kind, name, ticks) in after.items():
        spent = max(0, ticks - before.get((pid, tid), (kind, name, 0))[2]) / clk_tck
        if kind == "renderer":
            key = ("cpu_main_s" if tid == pid else "cpu_worker_s" if name.startswith("DedicatedWorker")
                   else "cpu_renderer_other_s")
        elif kind == "gpu-process":
            key = "cpu_gpu_s"
        elif kind in ("utility", "zygote"):
            key = "cpu_utility_s"
        else:
            key = "cpu_browser_s"
        out[key] += spent
    out["cpu_off_main_s"] = out["cpu_worker_s"] + out["cpu_renderer_other_s"]
    return out


def is_tracker_url(url: str, variant: str, page_url: str) -> bool:
    """Whether a script URL is the tracker's in `variant`: its files, or the page itself (the inline sensor or
    snippet: the store's only inline script, the control page has none)."""
    if not url:
        return False
    if url.split("#")[0].split("?")[0] == page_url.split("#")[0].split("?")[0]:
        return variant != "none"
    path = urllib.parse.urlsplit(url).path
    if variant == "ours":
        return path.startswith(OUR_PREFIXES)
    return path.startswith(f"/_peers/lib/{variant}/") or path.startswith(f"/_peers/collect/{variant}/")


def offsite(urls: list[str], origin: str) -> list[str]:
    """The URLs that are not on `origin` (data:, blob: and about: stay on the machine)."""
    return [u for u in urls if not u.startswith(origin + "/") and u != origin
            and not u.startswith(("data:", "blob:", "about:"))]


def trace_attribution(events: list[dict[str, Any]], is_ours: Callable[[str], bool]) -> dict[str, Any]:
    """What a Chrome trace's renderer main thread spent in tasks that run the tracker's code (as Lighthouse
    attributes a task: to the script URLs found in its events): per top-level task kind, per URL and function, and
    the self time by trace event name inside those tasks (JavaScript, compile, GC, message deserialisation...)."""
    names = {(e.get("pid"), e.get("tid")): e.get("args", {}).get("name") for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    mains = [key for key, name in names.items() if name == "CrRendererMain"]
    complete = [e for e in events if e.get("ph") == "X" and "dur" in e and (e.get("pid"), e.get("tid")) in mains]
    if not complete:
        return {"error": "no complete events on a CrRendererMain thread"}
    by_thread: dict[Any, list[dict[str, Any]]] = {}
    for e in complete:
        by_thread.setdefault((e["pid"], e["tid"]), []).append(e)
    # The page's main thread: the one with the most task time.
    thread = max(by_thread.values(), key=lambda es: sum(e["dur"] for e in es if e.get("name") == "RunTask"))
    thread.sort(key=lambda e: (e["ts"], -e["dur"]))
    tasks: list[dict[str, Any]] = []
    for e in thread:
        if e.get("name") == "RunTask" and (not tasks or e["ts"] >= tasks[-1]["end"]):
            tasks.append({"ts": e["ts"], "end": e["ts"] + e["dur"], "dur": e["dur"], "children": []})
        elif tasks and tasks[-1]["ts"] <= e["ts"] < tasks[-1]["end"] and e.get("name") != "RunTask":
            tasks[-1]["children"].append(e)
    result: dict[str, Any] = {"tasks": 0, "task_ms": 0.0, "all_task_ms": sum(t["dur"] for t in tasks) / 1000,
                              "by_kind": {}, "by_function": {}, "self_by_event": {}}
    for task in tasks:
        urls = [str((c.get("args", {}).get("data") or {}).get("url") or "") for c in task["children"]]
        if not any(is_ours(u) for u in urls if u):
            continue
        result["tasks"] += 1
        result["task_ms"] += task["dur"] / 1000
        first = next((c for c in task["children"] if c.get("name") in (
            "EvaluateScript", "v8.compile", "v8.compileModule", "FunctionCall", "EventDispatch", "TimerFire",
            "FireAnimationFrame", "v8.evaluateModule", "ParseHTML", "RunMicrotasks", "HandlePostMessage",
            "FireIdleCallback")), None)
        data = ((first or {}).get("args", {}).get("data") or {}) if first else {}
        kind = (first or {}).get("name", "other") + (f":{data['type']}" if data.get("type") else "")
        slot = result["by_kind"].setdefault(kind, {"n": 0, "ms": 0.0})
        slot["n"] += 1
        slot["ms"] += task["dur"] / 1000
        # Self time of each event inside the task (its duration less its direct children's).
        stack: list[dict[str, Any]] = []
        selfs: dict[int, float] = {}
        for c in task["children"]:
            while stack and c["ts"] >= stack[-1]["ts"] + stack[-1]["dur"]:
                stack.pop()
            if stack:
                selfs[id(stack[-1])] = selfs.get(id(stack[-1]), stack[-1]["dur"]) - c["dur"]
            selfs.setdefault(id(c), c["dur"])
            stack.append(c)
            if c.get("name") == "FunctionCall":
                d = c.get("args", {}).get("data") or {}
                if is_ours(str(d.get("url") or "")):
                    where = urllib.parse.urlsplit(str(d.get("url"))).path or str(d.get("url"))
                    key = f"{where} {d.get('functionName') or '(anonymous)'}"
                    f = result["by_function"].setdefault(key, {"n": 0, "ms": 0.0})
                    f["n"] += 1
                    f["ms"] += c["dur"] / 1000
        child_total = sum(selfs.get(id(c), c["dur"]) for c in task["children"])
        for c in task["children"]:
            name = c.get("name", "?")
            spent = max(0.0, selfs.get(id(c), 0)) / 1000
            result["self_by_event"][name] = result["self_by_event"].get(name, 0.0) + spent
        result["self_by_event"]["(task overhead)"] = (result["self_by_event"].get("(task overhead)", 0.0)
                                                     + max(0.0, task["dur"] - child_total) / 1000)
    for key in ("by_kind", "by_function", "self_by_event"):
        items = result[key].items()
        result[key] = dict(sorted(items, key=lambda kv: -(kv[1]["ms"] if isinstance(kv[1], dict) else kv[1])))
    result["self_by_event"] = {k: round(v, 1) for k, v in list(result["self_by_event"].items())[:25]}
    result["by_function"] = dict(list(result["by_function"].items())[:25])
    return result


# -- /proc ----------------------------------------------------------------------------------

def _proc_tree(marker: str) -> dict[int, str]:
    """The processes of the Chromium whose command line holds `marker` (its --user-data-dir), with their types."""
    parents: dict[int, int] = {}
    kinds: dict[int, str] = {}
    roots = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Chromium rewrites its child processes' titles: their arguments may be one space-separated string.
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace").replace("\0", " ").split()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        kind = next((arg.split("=", 1)[1] for arg in cmdline if arg.startswith("--type=")), "browser")
        kinds[pid] = kind
        if kind == "browser" and any(marker in arg for arg in cmdline) and "chrom" in (cmdline[0] if cmdline else ""):
            roots.append(pid)
    tree: dict[int, str] = {}
    frontier = roots
    while frontier:
        tree.update({pid: kinds[pid] for pid in frontier})
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
    return tree


def proc_snapshot(marker: str) -> dict[tuple[int, int], tuple[str, str, int]]:
    out = {}
    for pid, kind in _proc_tree(marker).items():
        try:
            tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            out[(pid, tid)] = (kind, name, int(fields[11]) + int(fields[12]))
    return out


# -- one visit ------------------------------------------------------------------------------

class Runner:
    def __init__(self, playwright: Playwright, chromium: str, app: PeersApp, base_url: str, init_script: str,
                 log: Callable[[str], None]) -> None:
        self.playwright, self.chromium, self.app, self.base = playwright, chromium, app, base_url
        self.init_script, self.log = init_script, log
        self.offsite: list[str] = []

    def url(self, variant: str, path: str, visit: str) -> str:
        query = f"?peer_visit={visit}"
        if variant == "none":
            return f"{self.base}/_bench/none{path}{query}"
        if variant == "ours":
            return f"{self.base}{path}{query}"
        return f"{self.base}/_peers/page/{variant}{path}{query}"

    @contextlib.contextmanager
    def profile(self) -> Iterator[tuple[str, Callable[[], BrowserContext]]]:
        with tempfile.TemporaryDirectory(prefix="glood-peers-profile-") as directory:
            opened: list[BrowserContext] = []

            def session() -> BrowserContext:
                while opened:
                    opened.pop().close()
                context = self.playwright.chromium.launch_persistent_context(
                    directory, executable_path=self.chromium, args=OFFLINE_ARGS, viewport=VIEWPORT)
                context.add_init_script(self.init_script)
                context.add_init_script(PEERS_INIT)
                opened.append(context)
                return context

            try:
                yield directory, session
            finally:
                while opened:
                    opened.pop().close()

    def our_first_event(self, visit: str) -> float | None:
        """The earliest arrival (epoch s) at the store's collectors of an event of the page with this visit token."""
        first = None
        for destination in ("glood", "genlook"):
            query = urllib.parse.urlencode({"destination": destination, "limit": 1000})
            with urllib.request.urlopen(f"{self.base}/_collector/events.json?{query}", timeout=30) as response:
                items = json.loads(response.read())
            for item in items:
                if visit in str(item.get("page_url") or "") or visit in json.dumps(item.get("body") or ""):
                    at = datetime.fromisoformat(str(item["received_at"]).replace("Z", "+00:00")).timestamp()
                    first = at if first is None else min(first, at)
        return first

    def visit(self, context: BrowserContext, marker: str, variant: str, path: str, throttle: str,
              stay_for_snapshot: bool = False) -> dict[str, Any]:
        """One visit. `stay_for_snapshot` (ours, cold): the shopper stays until the worker has made its memory
        snapshot (a few seconds after ready), so the return visit is a real return visit; the making's CPU is
        this visit's."""
        page = context.pages[0] if context.pages else context.new_page()
        token = f"v{uuid.uuid4().hex[:12]}"
        url = self.url(variant, path, token)
        requests: list[Request] = []
        finished: list[Request] = []
        errors: list[str] = []

        def on_request(request: Request) -> None:
            requests.append(request)

        def on_finished(request: Request) -> None:
            finished.append(request)

        context.on("request", on_request)
        context.on("requestfinished", on_finished)
        page.on("pageerror", lambda error: errors.append(str(error)[:200]))
        cdp: CDPSession = context.new_cdp_session(page)
        snapshot = None  # ours: how the worker's snapshot was made (status().boot.made), when the visit stayed for it
        try:
            cdp.send("Performance.enable")
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLES[throttle]})
            cpu0 = proc_snapshot(marker)
            page.goto(url, wait_until="load", timeout=120_000)
            origin = page.evaluate("performance.timeOrigin") / 1000
            first_event = None
            if variant != "none":
                deadline = time.monotonic() + FIRST_EVENT_TIMEOUT_S[throttle]
                while time.monotonic() < deadline and first_event is None:
                    if variant == "ours":
                        first_event = self.our_first_event(token)
                    else:
                        arrivals = [a.at for a in self.app.arrivals_of(token) if a.method == "POST"]
                        first_event = min(arrivals) if arrivals else None
                    if first_event is None:
                        time.sleep(0.1)
            target = next((s for s in CLICK_TARGETS if page.locator(s).count()), None)
            if target is not None:
                page.evaluate("window.__peers.arm = true")
                page.locator(target).first.click(timeout=30_000)
                with contextlib.suppress(Exception):
                    page.wait_for_function("(window.__peers.events || []).some((e) => e.name === 'click')",
                                           timeout=10_000)
            time.sleep(SETTLE_S[throttle])
            if stay_for_snapshot:
                deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
                while time.monotonic() < deadline and snapshot in (None, "consent", "making"):
                    with contextlib.suppress(Exception):
                        snapshot = page.evaluate("window.gloodTracker.status().then((s) => s && s.boot && s.boot.made)")
                    if snapshot in (None, "consent", "making"):
                        time.sleep(0.25)
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            data = page.evaluate(COLLECT_JS)
            cpu1 = proc_snapshot(marker)
        finally:
            context.remove_listener("request", on_request)
            context.remove_listener("requestfinished", on_finished)
            with contextlib.suppress(Exception):
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
                cdp.detach()
        urls = [r.url for r in requests]
        away = offsite(urls, self.base)
        self.offsite += away
        out: dict[str, Any] = {"variant": variant, "path": path, "throttle": throttle, "url": url,
                               "first_event_s": None if first_event is None else round(first_event - origin, 3),
                               "offsite": away, "page_errors": errors, "requests": len(urls),
                               "clicked": target, "clicks_seen": data["clicks"], "snapshot_made": snapshot}
        out.update(proc_cpu_delta(cpu0, cpu1))
        out["script_ms"] = metrics.get("ScriptDuration", 0.0) * 1000
        out["task_ms"] = metrics.get("TaskDuration", 0.0) * 1000
        out["metrics"] = {k: metrics.get(k) for k in ("ScriptDuration", "TaskDuration", "ThreadTime", "ProcessTime",
                                                      "V8CompileDuration", "LayoutDuration", "RecalcStyleDuration")}
        tasks = data["longtasks"]
        out["longtask_count"] = len(tasks)
        out["longtask_ms"] = sum(t["duration"] for t in tasks)
        out["blocking_ms"] = sum(max(0.0, t["duration"] - 50) for t in tasks)
        scripts = [s for f in data["loaf"] for s in f.get("scripts", [])
                   if is_tracker_url(s.get("url") or "", variant, data["url"])
                   or (variant == "ours" and str(s.get("invoker") or "").startswith("Worker"))]
        out["tracker_script_ms"] = sum(s.get("duration") or 0.0 for s in scripts)
        out["tracker_loaf_scripts"] = len(scripts)
        by_script: dict[str, float] = {}
        for s in scripts:
            key = (urllib.parse.urlsplit(s.get("url") or "").path or "(inline)") + f" {s.get('invoker') or ''}"
            by_script[key] = by_script.get(key, 0.0) + (s.get("duration") or 0.0)
        out["tracker_scripts"] = dict(sorted(by_script.items(), key=lambda kv: -kv[1])[:10])
        clicks = [e for e in data["events"] if e["name"] == "click"]
        out["click_processing_ms"] = clicks[-1]["processing"] if clicks else None
        out["click_delay_ms"] = clicks[-1]["delay"] if clicks else None
        out["fcp"], out["lcp"] = data["fcp"], data["lcp"]
        out["storage"] = data["storage"]
        out["storage_ms"] = sum(v.get("ms", 0.0) for k, v in data["storage"].items() if k.startswith("Storage."))
        out["msgs"] = data["msgs"]
        out["msg_ms"] = sum(v.get("ms", 0.0) for v in data["msgs"].values())
        out["tracker_bytes"] = 0
        out["collector_requests"] = out["collector_bytes"] = 0
        for request in finished:
            request_path = urllib.parse.urlsplit(request.url).path
            mine = (request_path.startswith(OUR_PREFIXES) if variant == "ours"
                    else request_path.startswith(f"/_peers/lib/{variant}/"))
            collector = (request_path.startswith(OUR_COLLECTORS) if variant == "ours"
                         else request_path.startswith(f"/_peers/collect/{variant}/"))
            if not (mine or collector):
                continue
            try:
                sizes = request.sizes()
            except Exception:  # noqa: BLE001 - a request of a closed page: not counted
                continue
            if mine:
                out["tracker_bytes"] += max(0, int(sizes.get("responseBodySize") or 0)
                                            + int(sizes.get("responseHeadersSize") or 0))
            else:
                out["collector_requests"] += 1
                out["collector_bytes"] += int(sizes.get("requestBodySize") or 0)
        return out


# -- Lighthouse -----------------------------------------------------------------------------

def _lighthouse_extract(report: dict[str, Any], variant: str, page_url: str, origin: str) -> dict[str, Any]:
    audits = report.get("audits", {})
    breakdown = ((audits.get("mainthread-work-breakdown") or {}).get("details") or {}).get("items") or []
    bootup = ((audits.get("bootup-time") or {}).get("details") or {}).get("items") or []
    requests = ((audits.get("network-requests") or {}).get("details") or {}).get("items") or []
    mine = [b for b in bootup if is_tracker_url(str(b.get("url") or ""), variant, page_url)]
    return {"breakdown": {str(b.get("group")): round(b.get("duration") or 0, 1) for b in breakdown},
            "bootup": [{"url": urllib.parse.urlsplit(str(b.get("url"))).path or b.get("url"),
                        "total": round(b.get("total") or 0, 1), "scripting": round(b.get("scripting") or 0, 1),
                        "parse_compile": round(b.get("scriptParseCompile") or 0, 1)} for b in bootup],
            "tracker_bootup_ms": sum(b.get("total") or 0 for b in mine),
            "tracker_bootup_scripting_ms": sum(b.get("scripting") or 0 for b in mine),
            "offsite": offsite([str(r.get("url") or "") for r in requests], origin)}


def _lighthouse(runner: Runner, runs: int, chrome: str, log: Callable[[str], None],
                keep: Path) -> list[dict[str, Any]]:
    ensure_lighthouse(log)
    raw = []
    for run in range(runs):
        for index, (page, path) in enumerate(PAGES.items()):
            shift = (run + index) % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                url = runner.url(variant, path, f"lh{uuid.uuid4().hex[:8]}")
                with tempfile.TemporaryDirectory(prefix="glood-peers-lh-") as tmp:
                    flags: tuple[str, ...] = ()
                    if variant == "ours":  # keep the artifacts (the trace) to attribute the main thread's work
                        flags = (f"--gather-mode={tmp}/artifacts", f"--audit-mode={tmp}/artifacts")
                    report_path = Path(tmp) / "report.json"
                    item = lighthouse_run(url, mode="simulate", chrome=chrome, extra_flags=flags,
                                          keep_report=report_path)
                    item = {k: item.get(k) for k in ("ok", "error", "score", "tbt", "lcp", "fcp", "main_thread_ms",
                                                     "bootup_ms", "tasks_over_50ms", "wall_s", "runtime_error")}
                    item.update(page=page, variant=variant, run=run + 1)
                    if report_path.exists():
                        item.update(_lighthouse_extract(json.loads(report_path.read_text()), variant, url, runner.base))
                    traces = sorted(Path(tmp).glob("artifacts/*trace.json"))
                    if variant == "ours" and traces:
                        trace = json.loads(traces[0].read_text())
                        events = trace["traceEvents"] if isinstance(trace, dict) else trace
                        def ours(script: str, page_url: str = url) -> bool:
                            return is_tracker_url(script, "ours", page_url)

                        item["trace_attribution"] = trace_attribution(events, ours)
                        if run == 0:
                            keep.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(traces[0], keep / f"lighthouse-ours-{page}.trace.json")
                raw.append(item)
                if item.get("offsite"):
                    runner.offsite += item["offsite"]
                log(f"  lighthouse {run + 1}/{runs} {page:10s} {variant:9s} "
                    + (f"score {item['score']:.0f}  TBT {item['tbt']:,.0f}  LCP {item['lcp']:,.0f}  main thread "
                       f"{item['main_thread_ms']:,.0f} ms  tracker bootup {item.get('tracker_bootup_ms', 0):,.0f} ms"
                       if item["ok"] else f"FAILED: {item['error']}") + f"  ({item['wall_s']:.0f} s)")
    return raw


# -- the part -------------------------------------------------------------------------------

def run_peers(chromium: str, init_script: str, *, runs: int = 1, lighthouse_runs: int = 1,
              out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The peers part: raw visits, Lighthouse runs, medians and ratios (see the module's docstring)."""
    versions = ensure_peers(log)
    result: dict[str, Any] = {"versions": versions, "pages": PAGES, "variants": list(VARIANTS),
                              "options": {"runs": runs, "lighthouse_runs": lighthouse_runs, "throttles": THROTTLES,
                                          "settle_s": SETTLE_S, "chrome_flags": CHROME_FLAGS},
                              "loadavg_start": os.getloadavg(), "started_at": datetime.now(UTC).isoformat()}
    with tempfile.TemporaryDirectory(prefix="glood-peers-") as tmp:
        app = PeersApp(Settings(db_path=str(Path(tmp) / "store.sqlite3")))
        server = LiveServer(app, name="bench-peers")
        try:
            with sync_playwright() as playwright:
                runner = Runner(playwright, chromium, app, server.url, init_script, log)
                raw: list[dict[str, Any]] = []
                for run in range(runs):
                    for index, (page, path) in enumerate(PAGES.items()):
                        shift = (run + index) % len(VARIANTS)
                        for throttle in THROTTLES:
                            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                                with runner.profile() as (marker, session):
                                    for visit in VISITS:
                                        item = runner.visit(session(), marker, variant, path, throttle,
                                                            stay_for_snapshot=variant == "ours" and visit == "cold")
                                        item.update(page=page, visit=visit, run=run + 1)
                                        raw.append(item)
                                        log(f"  peers {run + 1}/{runs} {page:10s} {throttle:7s} {variant:9s} "
                                            f"{visit:6s} first event {_f(item['first_event_s'], 2)} s  tracker "
                                            f"script {item['tracker_script_ms']:,.0f} ms  click "
                                            f"{_f(item['click_processing_ms'], 1)} ms  off-main CPU "
                                            f"{item['cpu_off_main_s']:.2f} s  bytes {item['tracker_bytes']:,}"
                                            + (f"  OFFSITE {item['offsite']}" if item["offsite"] else ""))
                                if runner.offsite:
                                    raise RuntimeError(f"requests left the machine: {sorted(set(runner.offsite))}")
                result["raw"] = raw
            result["lighthouse_raw"] = (_lighthouse(runner, lighthouse_runs, chromium, log, out_dir)
                                        if lighthouse_runs > 0 else [])
            if runner.offsite:
                raise RuntimeError(f"requests left the machine: {sorted(set(runner.offsite))}")
        finally:
            server.stop()
    result["offsite"] = []
    result["summary"] = summarize(result)
    result["loadavg_end"] = os.getloadavg()
    return result


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Medians per throttle, visit and variant over all pages and runs, Lighthouse medians per variant, and the
    targets."""
    out: dict[str, Any] = {"playwright": {}, "lighthouse": {}, "targets": {}}
    for throttle in THROTTLES:
        for visit in VISITS:
            for variant in VARIANTS:
                items = [r for r in result.get("raw", [])
                         if r["throttle"] == throttle and r["visit"] == visit and r["variant"] == variant]
                out["playwright"].setdefault(throttle, {}).setdefault(visit, {})[variant] = {
                    key: median([r.get(key) for r in items]) for key in KEYS} | {"n": len(items)}
    for variant in VARIANTS:
        items = [r for r in result.get("lighthouse_raw", []) if r["variant"] == variant and r.get("ok")]
        out["lighthouse"][variant] = {key: median([r.get(key) for r in items]) for key in LH_KEYS} | {"n": len(items)}
        groups: dict[str, list[float]] = {}
        for r in items:
            for group, ms in (r.get("breakdown") or {}).items():
                groups.setdefault(group, []).append(ms)
        out["lighthouse"][variant]["breakdown"] = {g: median(list(v)) for g, v in groups.items()}
    out["targets"] = targets(out)
    return out


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    """The targets, each {value, limit, met}: our main-thread work at most half the lightest peer's (Lighthouse
    bootup-time of the tracker's files, and Playwright's LoAF tracker script time, desktop cold), TBT and LCP no worse
    than none, off-main-thread CPU and first event on a return visit, click processing added."""
    lh, pw = summary["lighthouse"], summary["playwright"]
    peers = list(PEERS)
    out: dict[str, Any] = {}

    def lightest(values: dict[str, float | None]) -> tuple[str | None, float | None]:
        known = {k: v for k, v in values.items() if v is not None}
        if not known:
            return None, None
        name = min(known, key=lambda k: known[k])
        return name, known[name]

    name, value = lightest({p: lh[p].get("tracker_bootup_ms") for p in peers})
    r = ratio(lh["ours"].get("tracker_bootup_ms"), value)
    out["main_thread_lighthouse"] = {"value": r, "limit": 0.5, "against": name, "met": r is not None and r <= 0.5}
    for throttle in THROTTLES:
        cold = pw[throttle]["cold"]
        name, value = lightest({p: cold[p].get("tracker_script_ms") for p in peers})
        r = ratio(cold["ours"].get("tracker_script_ms"), value)
        out[f"main_thread_loaf_{throttle}"] = {"value": r, "limit": 0.5, "against": name,
                                              "met": r is not None and r <= 0.5}
    for key in ("tbt", "lcp"):
        ours, none = lh["ours"].get(key), lh["none"].get(key)
        out[f"{key}_vs_none"] = {"value": None if ours is None or none is None else ours - none, "limit": 0.0,
                                 "met": ours is not None and none is not None and ours <= none}
    back = pw["desktop"]["return"]
    off = (None if back["ours"]["cpu_off_main_s"] is None or back["none"]["cpu_off_main_s"] is None
           else back["ours"]["cpu_off_main_s"] - back["none"]["cpu_off_main_s"])
    out["off_main_cpu_return_s"] = {"value": off, "raw": back["ours"]["cpu_off_main_s"], "limit": 0.5,
                                    "met": off is not None and off <= 0.5}
    first = back["ours"]["first_event_s"]
    out["first_event_return_s"] = {"value": first, "limit": 1.0, "met": first is not None and first <= 1.0}
    cold = pw["desktop"]["cold"]
    click, base = cold["ours"]["click_processing_ms"], cold["none"]["click_processing_ms"]
    added = None if click is None or base is None else click - base
    out["click_added_ms"] = {"value": added, "limit": 1.0, "met": added is not None and added <= 1.0}
    return out


# -- table ----------------------------------------------------------------------------------

def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


COLUMNS = (("tracker_script_ms", "trk JS ms", 0), ("script_ms", "page JS ms", 0), ("longtask_ms", "LT ms", 0),
           ("click_processing_ms", "click ms", 1), ("cpu_main_s", "main s", 2), ("cpu_off_main_s", "off-main s", 2),
           ("cpu_worker_s", "worker s", 2), ("first_event_s", "1st evt s", 2), ("tracker_bytes", "bytes", 0))
LH_COLUMNS = (("score", "score", 0), ("tbt", "TBT ms", 0), ("lcp", "LCP ms", 0), ("main_thread_ms", "main ms", 0),
              ("bootup_ms", "bootup ms", 0), ("tracker_bootup_ms", "trk boot", 0))


def peers_table(result: dict[str, Any]) -> str:
    summary = result["summary"]
    lines = ["", "Peers: the tracker beside " + ", ".join(f"{n} {v}" for n, v in result["versions"].items())
             + f"; medians over {len(PAGES)} pages x {result['options']['runs']} run(s); ratio = peer / ours"]
    for throttle, visits in summary["playwright"].items():
        for visit, variants in visits.items():
            lines.append(f"Playwright, {throttle}, {visit} visit")
            lines.append(f"{'':<11}" + "".join(f"{title:>11}" for _, title, _ in COLUMNS))
            for variant, row in variants.items():
                lines.append(f"{variant:<11}" + "".join(f"{_f(row[k], d):>11}" for k, _, d in COLUMNS))
                if variant in PEERS:
                    lines.append(f"{'  x ours':<11}" + "".join(
                        f"{_f(ratio(row[k], variants['ours'][k]), 1):>11}" for k, _, _ in COLUMNS))
    lines.append(f"Lighthouse (mobile, simulated), median of {result['options']['lighthouse_runs']} run(s) per page")
    lines.append(f"{'':<11}" + "".join(f"{title:>11}" for _, title, _ in LH_COLUMNS))
    for variant, row in summary["lighthouse"].items():
        lines.append(f"{variant:<11}" + "".join(f"{_f(row[k], d):>11}" for k, _, d in LH_COLUMNS))
        if variant in PEERS:
            lines.append(f"{'  x ours':<11}" + "".join(
                f"{_f(ratio(row[k], summary['lighthouse']['ours'][k]), 1):>11}" for k, _, _ in LH_COLUMNS))
    lines.append("Targets")
    for name, t in summary["targets"].items():
        lines.append(f"  {name:<28} {_f(t['value'], 2):>8} (limit {t['limit']})"
                     + (f" vs {t['against']}" if t.get("against") else "") + ("  met" if t["met"] else "  NOT MET"))
    lines.append(f"load average {result['loadavg_start'][0]:.1f} at start, {result['loadavg_end'][0]:.1f} at end")
    return "\n".join(lines)

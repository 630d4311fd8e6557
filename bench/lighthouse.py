"""Lighthouse with and without the tracker: Shopify's app-listing check on the demo store.

Shopify lists a storefront app only if it lowers the store's mobile Lighthouse performance score by at
most 10 points, weighted over three pages: home 17%, product 40%, collection 43%. For each page this runs
Lighthouse on the store's own page (with the tracker) and on `/_bench/none/<path>` (the same page without
any runtime, see bench/server.py), alternating the two so machine load hits both, and takes medians.

Two passes:

- `simulate` (Lighthouse's default and PageSpeed Insights'): the page loads unthrottled and Lantern
  simulates a slow 4G network and a 4x slower CPU from the trace. This is the score Shopify looks at.
- `devtools`: the throttling is applied for real while the page loads (4x CPU slowdown through CDP, and
  the same network profile), so long main-thread work is long. Fewer runs by default, since each run
  takes about a minute and a page that does not settle within Lighthouse's 45 s fails it (PAGE_HUNG).

Lighthouse is npm `lighthouse@12.2.3` (13.x needs Node 22), pinned in `bench/lighthouse/package.json`
and its lock, and installed there with `npm ci` the first time this part runs (never for the tests or
the demo). Each run launches its own Chromium (Debian's, through CHROME_PATH), offline except for
localhost, and is killed after a time limit. A run that fails (exit status, time-out, unreadable report,
a `runtimeError` in the report) is kept in the raw results with its error and printed, not dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demo_store.settings import REPO_ROOT

__all__ = ["LIGHTHOUSE_VERSION", "PAGES", "WEIGHTS", "MODES", "ensure_lighthouse", "lighthouse_run",
           "run_lighthouse", "lighthouse_table"]

LIGHTHOUSE_VERSION = "12.2.3"
PROJECT_DIR = REPO_ROOT / "bench" / "lighthouse"
CLI = PROJECT_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
#: The pages Shopify weighs: name -> (store path, weight).
PAGES: dict[str, str] = {"home": "/", "product": "/products/classic-oxford-shirt", "collection": "/collections/all"}
WEIGHTS: dict[str, float] = {"home": 0.17, "product": 0.40, "collection": 0.43}
SHOPIFY_LIMIT = 10.0
#: Lighthouse's --throttling-method per pass.
MODES = ("simulate", "devtools")
VARIANTS = ("with", "without")
#: Headless, offline except for localhost (the same resolver rule as the Playwright benchmark).
CHROME_FLAGS = ('--headless=new --no-sandbox '
                '--host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"')
#: Audit id -> key in our results (all in ms except CLS).
METRICS: dict[str, str] = {
    "first-contentful-paint": "fcp", "largest-contentful-paint": "lcp", "total-blocking-time": "tbt",
    "cumulative-layout-shift": "cls", "speed-index": "si", "interactive": "tti",
    "max-potential-fid": "max_fid", "mainthread-work-breakdown": "main_thread_ms", "bootup-time": "bootup_ms",
}
SUMMARY_KEYS = ("score", *METRICS.values(), "observed_fcp", "observed_lcp", "observed_dcl", "observed_load",
                "tasks_over_50ms", "bytes", "requests", "benchmark_index")
MIN_NODE = (18, 20)
#: The tracker's own files (the build's, named by hashes of their content).
TRACKER_PREFIX = "/dist/tracker/"
#: What the page with the tracker is made of, for the record of what was measured.
TRACKED_PATHS = ("tracker", "static/tracker", "demo_store/pages.py", "demo_store/templates", "demo_store/assets.py",
                 "demo_store/dist.py")


# -- installation -------------------------------------------------------------------------

def _node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    return tuple(int(part) for part in out.lstrip("v").split(".")[:2] if part.isdigit())


def ensure_lighthouse(log: Callable[[str], None] = print) -> Path:
    """Install the pinned Lighthouse into bench/lighthouse/node_modules (`npm ci`) unless the lock's
    install is there already; returns the path of its CLI script."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("Lighthouse needs Node.js and npm (Debian: apt-get install nodejs npm)")
    if _node_version(node) < MIN_NODE:
        raise RuntimeError(f"lighthouse@{LIGHTHOUSE_VERSION} needs Node >= {'.'.join(map(str, MIN_NODE))}")
    digest = hashlib.sha256(b"".join((PROJECT_DIR / name).read_bytes()
                                     for name in ("package.json", "package-lock.json"))).hexdigest()[:16]
    stamp = PROJECT_DIR / "node_modules" / f".glood-stamp-{digest}"
    if stamp.exists() and CLI.exists():
        return CLI
    log(f"lighthouse: npm ci in {PROJECT_DIR.relative_to(REPO_ROOT)} (lighthouse@{LIGHTHOUSE_VERSION})")
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not CLI.exists():
        raise RuntimeError(f"npm ci for lighthouse failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    installed = json.loads((PROJECT_DIR / "node_modules" / "lighthouse" / "package.json").read_text())["version"]
    if installed != LIGHTHOUSE_VERSION:
        raise RuntimeError(f"npm ci installed lighthouse {installed}, expected {LIGHTHOUSE_VERSION}")
    stamp.touch()
    return CLI


# -- one run ------------------------------------------------------------------------------

def _kill_leftovers(marker: str) -> list[int]:
    """Kill processes whose command line contains `marker` (the run's own TMPDIR, which chrome-launcher
    puts Chromium's --user-data-dir under): Chromium runs detached, in its own process group."""
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except OSError:
                pass
    return killed


def _extract(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers we keep from a Lighthouse JSON report (the report itself is ~300 KB of screenshots)."""
    audits = report.get("audits", {})
    score = (report.get("categories", {}).get("performance") or {}).get("score")
    data: dict[str, Any] = {"score": None if score is None else round(score * 100, 1)}
    for audit_id, key in METRICS.items():
        data[key] = (audits.get(audit_id) or {}).get("numericValue")
    diagnostics = ((audits.get("diagnostics") or {}).get("details") or {}).get("items") or [{}]
    # What the unthrottled page did (with `simulate`, the metrics above are Lantern's estimates from it).
    observed = ((audits.get("metrics") or {}).get("details") or {}).get("items") or [{}]
    for key, name in (("observed_fcp", "observedFirstContentfulPaint"),
                      ("observed_lcp", "observedLargestContentfulPaint"),
                      ("observed_dcl", "observedDomContentLoaded"), ("observed_load", "observedLoad")):
        data[key] = observed[0].get(name)
    data["tasks_over_50ms"] = diagnostics[0].get("numTasksOver50ms")
    data["bytes"] = diagnostics[0].get("totalByteWeight")
    data["requests"] = diagnostics[0].get("numRequests")
    data["benchmark_index"] = (report.get("environment") or {}).get("benchmarkIndex")
    bootup = ((audits.get("bootup-time") or {}).get("details") or {}).get("items") or []
    data["bootup_top"] = [{"url": item.get("url"), "total": round(item.get("total") or 0),
                           "scripting": round(item.get("scripting") or 0)} for item in bootup[:5]]
    requests = ((audits.get("network-requests") or {}).get("details") or {}).get("items") or []
    data["requests_seen"] = [[urllib.parse.urlsplit(item.get("url") or "").path, item.get("transferSize")]
                             for item in requests]
    data["final_url"] = report.get("finalDisplayedUrl")
    data["run_warnings"] = report.get("runWarnings") or []
    data["lighthouse_ms"] = (report.get("timing") or {}).get("total")
    data["host_user_agent"] = (report.get("environment") or {}).get("hostUserAgent")
    runtime_error = report.get("runtimeError")
    data["runtime_error"] = (f"{runtime_error.get('code')}: {runtime_error.get('message')}"
                             if runtime_error else None)
    return data


def lighthouse_run(url: str, *, mode: str, chrome: str, timeout_s: float = 180.0,
                   extra_flags: tuple[str, ...] = (), keep_report: Path | None = None) -> dict[str, Any]:
    """One Lighthouse run (a fresh Chromium) of `url`; `ok` is False, with `error`, when it failed."""
    started = time.monotonic()
    result: dict[str, Any] = {"url": url, "mode": mode, "ok": False, "error": None}
    with tempfile.TemporaryDirectory(prefix="glood-lighthouse-") as tmp:
        out = Path(tmp) / "report.json"
        command = ["node", str(CLI), url, "--only-categories=performance", "--output=json",
                   f"--output-path={out}", "--quiet", f"--throttling-method={mode}",
                   f"--chrome-flags={CHROME_FLAGS}", "--no-enable-error-reporting", *extra_flags]
        env = {**os.environ, "CHROME_PATH": chrome, "TMPDIR": tmp}
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            stdout, stderr = process.communicate()
            result["error"] = f"timed out after {timeout_s:.0f} s"
        result["leftover_pids_killed"] = _kill_leftovers(tmp)
        result["exit_code"] = process.returncode
        result["stderr_tail"] = (stderr or "").strip()[-1500:]
        report: dict[str, Any] | None = None
        if out.exists():
            try:
                report = json.loads(out.read_text())
            except ValueError as error:
                result["error"] = result["error"] or f"unreadable report: {error}"
        if report is not None:
            result.update(_extract(report))
            if keep_report is not None:
                keep_report.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out, keep_report)
                result["report_path"] = str(keep_report)
        if result["error"] is None:
            if report is None:
                result["error"] = (f"no report (exit {process.returncode}): "
                                   + (result["stderr_tail"].splitlines() or ["no output"])[-1])
            elif result.get("runtime_error"):
                result["error"] = f"runtimeError {result['runtime_error']}"
            elif result.get("score") is None:
                result["error"] = "no performance score in the report"
            elif process.returncode != 0:
                result["error"] = f"exit {process.returncode}"
        result["ok"] = result["error"] is None
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


# -- the pass over pages and variants ---------------------------------------------------------

def _median(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _git_state() -> dict[str, Any]:
    """Commit, uncommitted changes and a hash of the files of the tracker and its embed as they are on
    disk (they may be edited, or committed, while this runs)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                                  timeout=20).stdout
        except Exception:  # noqa: BLE001 - no git, no state
            return ""
    files: list[Path] = []
    for root in (REPO_ROOT / name for name in TRACKED_PATHS):
        files += [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
    digest = hashlib.sha256()
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    status = git("status", "--porcelain", "--", *TRACKED_PATHS).splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(status), "changed": status,
            "files_sha": digest.hexdigest()[:16]}


def _check_pages(base_url: str) -> list[str]:
    """Self-check before spending minutes: every page answers 200, and the two variants differ.
    Problems starting with "GET" are fatal."""
    problems = []
    for name, path in PAGES.items():
        bodies = []
        for url in (base_url + path, f"{base_url}/_bench/none{path}"):
            try:
                with urllib.request.urlopen(url, timeout=20) as response:
                    bodies.append(response.read())
            except (urllib.error.URLError, OSError) as error:
                problems.append(f"GET {url} failed: {error}")
        if len(bodies) == 2 and bodies[0] == bodies[1]:
            problems.append(f"{name}: the page with the tracker is the same as without")
    return problems


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["ok"]]
    return {"runs": len(runs), "ok": len(ok), **{key: _median([r.get(key) for r in ok]) for key in SUMMARY_KEYS}}


def run_lighthouse(base_url: str, *, runs: int = 3, devtools_runs: int = 1, chrome: str = "/usr/bin/chromium",
                   timeout_s: float = 180.0, extra_flags: tuple[str, ...] = (), reports_dir: Path | None = None,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """Lighthouse on each page of `PAGES`, with and without the tracker, `runs` times with simulated
    throttling and `devtools_runs` times with devtools throttling; raw runs, medians and Shopify's drop."""
    cli = ensure_lighthouse(log)
    version = json.loads((cli.parent.parent / "package.json").read_text())["version"]
    result: dict[str, Any] = {
        "version": version, "chrome": chrome, "pages": PAGES, "weights": WEIGHTS, "limit": SHOPIFY_LIMIT,
        "options": {"runs": runs, "devtools_runs": devtools_runs, "timeout_s": timeout_s,
                    "extra_flags": list(extra_flags), "chrome_flags": CHROME_FLAGS,
                    "form_factor": "mobile (default)"},
        "git_before": _git_state(), "page_problems": _check_pages(base_url), "modes": {}}
    for problem in result["page_problems"]:
        log(f"  lighthouse self-check: {problem}")
    fatal = any(problem.startswith("GET ") for problem in result["page_problems"])
    for mode, count in (("simulate", runs), ("devtools", devtools_runs)):
        if count <= 0 or fatal:
            continue
        raw: list[dict[str, Any]] = []
        for run in range(count):
            for name, path in PAGES.items():
                # Alternate which variant goes first, so neither always follows the other.
                order = VARIANTS if (run + list(PAGES).index(name)) % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    url = base_url + (path if variant == "with" else f"/_bench/none{path}")
                    keep = (reports_dir / f"{mode}-{name}-{variant}-{run + 1}.json") if reports_dir else None
                    item = lighthouse_run(url, mode=mode, chrome=chrome, timeout_s=timeout_s,
                                          extra_flags=extra_flags, keep_report=keep)
                    item.update(page=name, variant=variant, run=run + 1)
                    raw.append(item)
                    if item["ok"]:
                        log(f"  lighthouse {mode} {run + 1}/{count} {name:10s} {variant:7s} score {item['score']:5.1f}"
                            f"  FCP {_ms(item['fcp'])}  LCP {_ms(item['lcp'])}  TBT {_ms(item['tbt'])}"
                            f"  ({item['wall_s']:.0f} s)")
                    else:
                        log(f"  lighthouse {mode} {run + 1}/{count} {name:10s} {variant:7s} FAILED: {item['error']}"
                            f"  ({item['wall_s']:.0f} s)")
                    if item.get("runtime_error"):
                        log(f"    runtimeError: {item['runtime_error']}")
        summary = {name: {variant: _summary([r for r in raw if r["page"] == name and r["variant"] == variant])
                          for variant in VARIANTS} for name in PAGES}
        drops = {}
        for name in PAGES:
            with_, without = summary[name]["with"]["score"], summary[name]["without"]["score"]
            drops[name] = None if with_ is None or without is None else without - with_
        weighted = (None if any(d is None for d in drops.values())
                    else sum(WEIGHTS[name] * drops[name] for name in PAGES))
        # Which tracker files the runs with the tracker fetched: more than one set = it changed meanwhile.
        trackers = sorted({" ".join(sorted(path for path, _ in r.get("requests_seen", [])
                                           if path.startswith(TRACKER_PREFIX)))
                           for r in raw if r["variant"] == "with" and r.get("requests_seen")})
        result["modes"][mode] = {"runs": count, "raw": raw, "summary": summary, "drop_by_page": drops,
                                 "weighted_drop": weighted, "tracker_files_seen": trackers,
                                 "failed": [{k: r.get(k) for k in ("page", "variant", "run", "error", "exit_code")}
                                            for r in raw if not r["ok"]]}
    result["git_after"] = _git_state()
    result["files_changed_during_run"] = result["git_before"]["files_sha"] != result["git_after"]["files_sha"]
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


# -- report -------------------------------------------------------------------------------

def lighthouse_table(lh: dict[str, Any]) -> str:
    """The Lighthouse section of the benchmark's table."""
    lines: list[str] = []
    columns = (("score", "score", 0), ("fcp", "FCP ms", 0), ("lcp", "LCP ms", 0), ("tbt", "TBT ms", 0),
               ("si", "SI ms", 0), ("cls", "CLS", 3), ("observed_fcp", "seen FCP", 0))

    def cell(value: float | None, digits: int, sign: bool = False) -> str:
        if value is None:
            return "-"
        return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"

    def row(label: str, *cells: str) -> None:
        lines.append(f"{label:<34}" + "".join(f"{c:>10}" for c in cells))

    git, after = lh["git_before"], lh.get("git_after", lh["git_before"])
    for mode, data in lh["modes"].items():
        how = ("simulated throttling (Lantern), the score Shopify uses" if mode == "simulate"
               else "devtools throttling: real 4x CPU slowdown and slow 4G while loading")
        lines.append("")
        lines.append(f"Lighthouse {lh['version']} performance, mobile, {how}")
        lines.append(f"  median of {data['runs']} run(s) per page and variant; with = store page, "
                     f"without = /_bench/none/ (no runtime)")
        if mode == "simulate":
            lines.append("  seen FCP = first paint of the unthrottled load that Lantern's estimates are computed from")
        row("", *(title for _, title, _ in columns), "ok")
        for name, path in lh["pages"].items():
            with_, without = data["summary"][name]["with"], data["summary"][name]["without"]
            lines.append(f"{name} {path}")
            row("  with tracker", *(cell(with_[k], d) for k, _, d in columns), f"{with_['ok']}/{with_['runs']}")
            row("  without", *(cell(without[k], d) for k, _, d in columns), f"{without['ok']}/{without['runs']}")
            row("  difference (with - without)",
                *(cell(None if with_[k] is None or without[k] is None else with_[k] - without[k], d, sign=True)
                  for k, _, d in columns), "")
        weights = ", ".join(f"{name} {lh['weights'][name]:.0%}" for name in lh["pages"])
        weighted = data["weighted_drop"]
        if weighted is None:
            verdict = "not computed: a page has no successful run"
        else:
            verdict = (f"{weighted:.1f} points "
                       + ("(within" if weighted <= lh["limit"] else "(OVER")
                       + f" Shopify's {lh['limit']:.0f}-point limit)")
        lines.append(f"  weighted score drop ({weights}): {verdict}")
        if len(data.get("tracker_files_seen", [])) > 1:
            lines.append(f"  the runs with the tracker fetched {len(data['tracker_files_seen'])} different sets of "
                         f"{TRACKER_PREFIX} files (it changed between runs; see tracker_files_seen in the JSON)")
        if data["failed"]:
            lines.append(f"  failed runs ({len(data['failed'])}):")
            by_error: dict[str, list[str]] = {}
            for failure in data["failed"]:
                by_error.setdefault(failure["error"], []).append(
                    f"{failure['page']} {failure['variant']} #{failure['run']}")
            for error, which in by_error.items():
                lines.append(f"    {', '.join(which)}: {error}")
    if lh["modes"]:
        lines.extend(f"  self-check: {problem}" for problem in lh.get("page_problems", []))
    else:
        lines.append("")
        lines.append("Lighthouse: not run, the self-check failed:")
        lines.extend(f"  {problem}" for problem in lh.get("page_problems", []))
    lines.append(f"  measured at {git['commit'][:12]}"
                 + (f" (HEAD {after['commit'][:12]} at the end)" if after["commit"] != git["commit"] else "")
                 + (f", {len(git['changed'])} uncommitted change(s) in {', '.join(TRACKED_PATHS)}" if git["dirty"]
                    else ", no uncommitted changes in " + ", ".join(TRACKED_PATHS))
                 + ("; these files CHANGED while Lighthouse ran" if lh.get("files_changed_during_run") else ""))
    return "\n".join(lines)

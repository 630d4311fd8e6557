"""The peers benchmark's pure helpers (bench/peers.py, bench/peers_server.py)."""

from __future__ import annotations

from typing import Any

from bench.peers import is_tracker_url, offsite, proc_cpu_delta, ratio, targets, trace_attribution
from bench.peers_server import PEERS, snippet

PAGE = "http://127.0.0.1:8000/products/a?peer_visit=v1"


def test_ratio() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_proc_cpu_delta_classifies_threads_and_counts_new_ones_from_zero() -> None:
    before = {(10, 10): ("renderer", "chromium", 100), (10, 11): ("renderer", "DedicatedWorker", 5),
              (1, 1): ("browser", "chromium", 50)}
    after = {(10, 10): ("renderer", "chromium", 150), (10, 11): ("renderer", "DedicatedWorker", 25),
             (10, 12): ("renderer", "Compositor", 10), (1, 1): ("browser", "chromium", 60),
             (2, 2): ("gpu-process", "chromium", 3), (3, 3): ("utility", "NetworkService", 4)}
    out = proc_cpu_delta(before, after, clk_tck=100)
    assert out["cpu_main_s"] == 0.5
    assert out["cpu_worker_s"] == 0.2
    assert out["cpu_renderer_other_s"] == 0.1
    assert abs(out["cpu_off_main_s"] - 0.3) < 1e-9
    assert out["cpu_browser_s"] == 0.1
    assert out["cpu_gpu_s"] == 0.03
    assert out["cpu_utility_s"] == 0.04


def test_is_tracker_url() -> None:
    assert is_tracker_url("http://127.0.0.1:8000/dist/tracker/relay.abc.js", "ours", PAGE)
    assert is_tracker_url("http://127.0.0.1:8000/products/a?peer_visit=v1", "ours", PAGE)  # the inline sensor
    assert is_tracker_url("http://127.0.0.1:8000/products/a", "posthog", PAGE)  # the inline snippet
    assert not is_tracker_url("http://127.0.0.1:8000/products/a", "none", PAGE)
    assert not is_tracker_url("http://127.0.0.1:8000/static/store.js", "ours", PAGE)
    assert is_tracker_url("http://127.0.0.1:8000/_peers/lib/segment/index.js", "segment", PAGE)
    assert not is_tracker_url("http://127.0.0.1:8000/_peers/lib/segment/index.js", "posthog", PAGE)
    assert not is_tracker_url("", "ours", PAGE)


def test_offsite() -> None:
    origin = "http://127.0.0.1:8000"
    urls = [origin + "/", "data:image/png;base64,x", "blob:http://127.0.0.1:8000/1", "https://cdn.segment.com/x",
            "http://127.0.0.1:80001/evil", "http://localhost:8000/"]
    assert offsite(urls, origin) == ["https://cdn.segment.com/x", "http://127.0.0.1:80001/evil",
                                     "http://localhost:8000/"]


def test_snippets_name_only_their_own_origin_paths() -> None:
    for name in PEERS:
        text = snippet(name)
        assert text.startswith("<script>") and text.endswith("</script>")
        assert f"'/_peers/lib/{name}/'" in text and f"'/_peers/collect/{name}/'" in text
        assert "http://" not in text and "https://" not in text


def _event(name: str, ts: int, dur: int, **data: Any) -> dict[str, Any]:
    return {"ph": "X", "pid": 1, "tid": 2, "name": name, "ts": ts, "dur": dur, "args": {"data": data}}


def test_trace_attribution_charges_tasks_that_run_our_scripts() -> None:
    events = [{"ph": "M", "pid": 1, "tid": 2, "name": "thread_name", "args": {"name": "CrRendererMain"}},
              # A task running relay.js's message handler, with a GC inside the call.
              _event("RunTask", 0, 1000), _event("EventDispatch", 10, 900, type="message"),
              _event("FunctionCall", 20, 800, url="http://h/dist/tracker/relay.1.js", functionName="onmessage"),
              _event("MinorGC", 100, 200),
              # A task of the store's own script: not ours.
              _event("RunTask", 2000, 500), _event("FunctionCall", 2010, 400, url="http://h/static/store.js")]
    out = trace_attribution(events, lambda url: "/dist/" in url)
    assert out["tasks"] == 1
    assert out["task_ms"] == 1.0
    assert out["all_task_ms"] == 1.5
    assert out["by_kind"] == {"EventDispatch:message": {"n": 1, "ms": 1.0}}
    assert out["by_function"] == {"/dist/tracker/relay.1.js onmessage": {"n": 1, "ms": 0.8}}
    assert out["self_by_event"]["FunctionCall"] == 0.6
    assert out["self_by_event"]["MinorGC"] == 0.2
    assert out["self_by_event"]["EventDispatch"] == 0.1
    assert out["self_by_event"]["(task overhead)"] == 0.1


def test_targets_compare_with_the_lightest_peer() -> None:
    def row(**values: float) -> dict[str, Any]:
        return {"tracker_script_ms": None, "click_processing_ms": None, "cpu_off_main_s": None,
                "first_event_s": None} | values
    variants = ("none", "ours", *PEERS)
    visits = {"cold": {v: row() for v in variants}, "return": {v: row() for v in variants}}
    playwright = {"desktop": visits, "cpu4x": {"cold": visits["cold"], "return": visits["return"]}}
    lighthouse = {v: {"tracker_bootup_ms": None, "tbt": 0.0, "lcp": 1000.0} for v in ("none", "ours", *PEERS)}
    lighthouse["ours"]["tracker_bootup_ms"] = 40.0
    lighthouse["posthog"]["tracker_bootup_ms"] = 300.0
    lighthouse["snowplow"]["tracker_bootup_ms"] = 100.0
    lighthouse["ours"]["lcp"] = 1100.0
    out = targets({"playwright": playwright, "lighthouse": lighthouse})
    assert out["main_thread_lighthouse"] == {"value": 0.4, "limit": 0.5, "against": "snowplow", "met": True}
    assert out["tbt_vs_none"]["met"] is True
    assert out["lcp_vs_none"] == {"value": 100.0, "limit": 0.0, "met": False}
    assert out["main_thread_loaf_desktop"]["met"] is False  # nothing measured is not met
    assert out["first_event_return_s"]["met"] is False

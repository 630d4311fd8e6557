"""The boot benchmark's attribution of long-animation-frame scripts to the tracker (bench/run.py)."""

from __future__ import annotations

from bench.run import _tracker_script

PAGE = "http://127.0.0.1:8000/products/a?x=1"


def test_the_built_and_the_source_scripts_are_the_trackers() -> None:
    for url in ("http://127.0.0.1:8000/dist/tracker/relay.28bf52cc3167.js",
                "http://127.0.0.1:8000/static/tracker/relay.js"):
        assert _tracker_script({"url": url, "invoker": "x"}, PAGE), url


def test_other_scripts_are_not() -> None:
    for url in ("http://127.0.0.1:8000/static/store.js", "http://127.0.0.1:8000/dist/pyodide/pyodide.mjs",
                "http://127.0.0.1:8000/tracker/relay.js"):
        assert not _tracker_script({"url": url, "invoker": "x"}, PAGE), url


def test_the_pages_inline_sensor_is() -> None:
    assert _tracker_script({"url": PAGE + "#frag", "invoker": "x"}, PAGE)

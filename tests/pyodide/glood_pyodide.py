"""pytest plugin for the core's unit tests run inside Pyodide (loaded by tests/pyodide/run.mjs with
`-p glood_pyodide`; CPython's pytest never collects this file: its name does not match `test_*.py`).

Pyodide has no threads (`threading.Thread.start()` raises "can't start new thread"). In CPython,
tests/unit/test_core_worker.py's `run(test)` runs each test coroutine with `asyncio.run` on a thread of its own
(so a loop held by Playwright's sync API in the test's thread does not matter). Here that same coroutine is
run with `asyncio.run` in the test's own thread, on Pyodide's WebLoop (the loop the tracker's worker uses in the
browser), which blocks through JavaScript Promise Integration (node --experimental-wasm-stack-switching).
Nothing is skipped.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

# module name -> the name of its helper that starts a thread to run a test coroutine
THREADED_RUNNERS = {"test_core_worker": "run"}


def run_here(test: Callable[[], Awaitable[None]]) -> None:
    """`run` for Pyodide: the coroutine runs to completion in this thread (no thread to start)."""
    asyncio.run(test())  # type: ignore[arg-type]


def pytest_report_header(config: pytest.Config) -> list[str]:
    import pyodide  # only importable inside Pyodide
    from pyodide.ffi import can_run_sync

    return [f"pyodide {pyodide.__version__}, {sys.platform}, Python {sys.version.split()[0]}, "
            f"stack switching: {'yes' if can_run_sync() else 'no'}",
            "threads: none; " + ", ".join(f"{m}.{f}()" for m, f in THREADED_RUNNERS.items())
            + " runs each test coroutine with asyncio.run() in the test's thread"]


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    """Tell run.mjs which test runs, so a test that kills the interpreter (a fatal Pyodide error, e.g. the
    JavaScript engine's stack overflowing) can be named, deselected, and the rest run in a fresh Pyodide."""
    try:
        import glood_pyodide_host  # registered by run.mjs
    except ImportError:
        return
    glood_pyodide_host.started(nodeid)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    seen = set()
    for item in items:
        module = getattr(item, "module", None)
        name = getattr(module, "__name__", "")
        if name not in THREADED_RUNNERS or name in seen:
            continue
        seen.add(name)
        helper = THREADED_RUNNERS[name]
        if not callable(getattr(module, helper, None)):
            raise pytest.UsageError(f"tests/pyodide/glood_pyodide.py: {name} has no {helper}() to run its "
                                    "coroutines without a thread any more; update THREADED_RUNNERS")
        setattr(module, helper, run_here)

"""Run a test's coroutine with `asyncio.run` on a thread of its own: after the e2e tests, Playwright's sync API holds
the main thread's event loop. (Inside Pyodide, tests/pyodide replaces test_core_worker.run, which has no thread.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_on_own_thread(test: Callable[[], Awaitable[T]]) -> T:
    """`test()` run to completion on a new thread's loop; its result, or its exception raised here."""
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(test()))  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]

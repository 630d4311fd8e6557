"""The one module that touches JavaScript: the worker scope's postMessage, fetch, timers and Web Locks.

Messages cross as JSON text both ways, so no Python object is lent to JavaScript but the message handler
that `start` returns (the worker script destroys it on stop) and, for the time of one lock, its callback.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import js
from pyodide.ffi import create_proxy, jsnull, to_js

from ..core.worker import Seams, WorkerTracker

__all__ = ["start", "WorkerClock", "WebLocks", "request", "deliver", "later"]


class WorkerClock:
    """Epoch milliseconds from the worker's high-resolution clock (the sensor stamps facts the same way)."""

    def now_ms(self) -> int:
        return int(js.performance.timeOrigin + js.performance.now())

    def monotonic_ms(self) -> float:
        return float(js.performance.timeOrigin + js.performance.now())


class _Handle:
    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self._handle = handle

    def cancel(self) -> None:
        self._handle.cancel()


def later(delay_ms: float, fn: Callable[[], None]) -> _Handle:
    """Run `fn` after `delay_ms` on Pyodide's event loop (a setTimeout underneath)."""
    return _Handle(asyncio.get_event_loop().call_later(max(0.0, delay_ms) / 1000.0, fn))


async def request(url: str, body: str, headers: Mapping[str, str]) -> tuple[int, str]:
    """POST `body` from the worker; (status, text). Network failures raise."""
    options = to_js({"method": "POST", "headers": dict(headers), "body": body, "credentials": "omit"},
                    dict_converter=js.Object.fromEntries)
    response = await js.fetch(url, options)
    return int(response.status), str(await response.text())


async def deliver(url: str, body: str, headers: Mapping[str, str]) -> tuple[int, str | None]:
    """POST an event body from the worker; (status, Retry-After). Network failures raise."""
    options = to_js({"method": "POST", "headers": dict(headers), "body": body, "credentials": "omit"},
                    dict_converter=js.Object.fromEntries)
    response = await js.fetch(url, options)
    retry_after = response.headers.get("Retry-After")
    return int(response.status), None if retry_after is None or retry_after is jsnull else str(retry_after)


#: How long the worker waits for the adoption lock before it takes it from its holder (see WebLocks.exclusive).
STEAL_AFTER_MS = 8000


class WebLocks:
    """navigator.locks of the worker (same origin, same locks as the page's)."""

    def __init__(self, locks: Any) -> None:
        self._locks = locks

    async def held(self) -> set[str]:
        snapshot = await self._locks.query()
        names = set()
        for group in (snapshot.held, snapshot.pending):
            for lock in group:
                name = getattr(lock, "name", None)
                if isinstance(name, str):
                    names.add(name)
        return names

    async def exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` under lock `name`. A holder that keeps it past STEAL_AFTER_MS is a page frozen mid-claim (WebKit
        keeps a page's worker, and the locks it holds, in its back/forward cache; Chromium evicts such a page): the
        lock is then stolen, so adoption is not blocked for as long as that page stays cached."""
        def granted(_lock: Any) -> Any:
            return asyncio.ensure_future(work())  # a Future returned to JavaScript is a Promise there

        callback = create_proxy(granted)
        try:
            timeout = getattr(js.AbortSignal, "timeout", None)
            if timeout is None:  # an engine without AbortSignal.timeout waits as long as it takes
                await self._locks.request(name, callback)
                return
            try:
                options = to_js({"signal": timeout(STEAL_AFTER_MS)}, dict_converter=js.Object.fromEntries)
                await self._locks.request(name, options, callback)
            except Exception as exc:  # noqa: BLE001 - the wait timed out (an AbortError / TimeoutError)
                if "abort" not in str(exc).lower() and "timeout" not in str(exc).lower():
                    raise
                steal = to_js({"steal": True}, dict_converter=js.Object.fromEntries)
                await self._locks.request(name, steal, callback)
        finally:
            callback.destroy()


def start(boot_text: str, post_text: Any, hook: Any = None, boot_info: Any = None) -> Callable[[str], None]:
    """Boot the tracker from the sensor's boot message; returns the handler of every later message.

    `post_text(text)` posts one message (JSON text) to the page; `hook` is the merchant's `before_send`
    module's default export, if any; `boot_info()` (JSON text) is how the worker script started Python, for
    status(). A bad configuration is reported and nothing is tracked (the handler then ignores everything).
    """
    # Python may have been restored from a memory snapshot that every page of every shopper shares: the random
    # generator (retry jitter) is seeded anew here, from the browser's crypto, or all would draw the same numbers.
    random.seed()

    def post(message: dict[str, Any]) -> None:
        post_text(json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False))

    locks = getattr(js.navigator, "locks", None)
    seams = Seams(post=post, request=request, clock=WorkerClock(), later=later,
                  locks=WebLocks(locks) if locks is not None else None, fetch=deliver)
    before_send = None
    if hook is not None and hook is not jsnull:
        def before_send(event: dict[str, Any]) -> Any:
            answer = hook(to_js(event, dict_converter=js.Object.fromEntries))
            return None if answer is None or answer is jsnull else json.loads(str(js.JSON.stringify(answer)))

    try:
        tracker = WorkerTracker(json.loads(boot_text), seams, before_send)
    except ValueError as exc:  # ConfigError, FactError, bad JSON
        post({"t": "log", "l": "error", "m": f"not started: {exc}"})
        post({"t": "error"})
        return lambda _text: None
    if boot_info is not None and boot_info is not jsnull:
        tracker.boot_info = lambda: json.loads(str(boot_info()))
    tracker.start()

    def handle(text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            tracker.error("a message from the sensor was not JSON")
            return
        try:
            tracker.handle(message)
        except Exception as exc:  # noqa: BLE001 - the tracker must keep going whatever one message does
            tracker.error(f"message {str(message.get('t') if isinstance(message, dict) else '')[:20]!r} "
                          f"failed: {type(exc).__name__}: {exc}")

    return handle

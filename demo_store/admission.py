"""Admission control: how many requests run at once, per client and in all, and what overload answers.

`Admission` (ASGI middleware, inside `create_app`) first receives a request's body — at most `MAX_BODY_BYTES`
(+1, to know it is too big), by `Settings.body_timeout` — without taking anything, so that a client that sends
slowly holds only its connection, never a place among the running requests. Then the request waits for a slot:
at most `Settings.max_requests` run at once, at most `Settings.max_requests_per_client` of one client (its
address, `scope["client"]`), the waiting ones are let in client by client in turn, each for at most
`Settings.queue_timeout` seconds.

A request that gets no slot in time, that arrived on a connection the server took past its connection caps, or
whose connection the server closed to make room while its body was arriving (`serving.BoundedH11Protocol`
marks those scopes with `OVERLOADED`) is answered here, by the app: 503 with `Retry-After` and `Connection:
close`, in the APIs' Error shape on API paths (with the collectors' CORS headers, counted in their
`rejected_by_status`), a small page elsewhere. Every such answer counts in `Limiter.overloaded`
(`/_collector/stats.json` `server.overloaded`). Preflights (`OPTIONS`) take no slot and are never refused: a
refused preflight would hide the real answer from the page.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import BODY_DEADLINE, EXPOSED_HEADERS, MAX_BODY_BYTES, cors_headers, json_error
from .collector import COLLECTOR_PATHS
from .pages import JSON_PREFIXES, plain_error_page
from .settings import AppState, Settings

__all__ = ["OVERLOADED", "RETRY_AFTER", "Limiter", "limiter_from", "Admission", "overload_response"]

#: Scope key of a request the server refuses for overload: its value is the message the answer gives.
OVERLOADED = "demo_store.overloaded"
#: Seconds an overload answer asks the client to wait (`Retry-After`).
RETRY_AFTER = 2

_LOG = logging.getLogger("demo_store")


def _open(waiter: _Waiter) -> None:
    if not waiter.future.done():
        waiter.future.set_result(None)


@dataclass(eq=False)
class _Waiter:
    client: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = field(default=False)


class Limiter:
    """At most `max_requests` slots in all and `max_per_client` per client; `acquire` waits up to `queue_timeout`.

    Waiting requests are granted as slots free up, the clients with waiters in turn (round robin), each
    client's in arrival order: one client's hundreds of waiting requests do not delay another's. Thread-safe
    (an app may be driven from several event loops, as TestClient does)."""

    def __init__(self, max_requests: int, max_per_client: int, queue_timeout: float) -> None:
        self.max_requests = max_requests
        self.max_per_client = max_per_client
        self.queue_timeout = queue_timeout
        #: Overload answers (any path) since the start or the last `reset_counts()`.
        self.overloaded = 0
        self._lock = threading.Lock()
        self._running = 0
        self._by_client: Counter[str] = Counter()
        self._queues: dict[str, deque[_Waiter]] = {}

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def running_for(self, client: str) -> int:
        with self._lock:
            return self._by_client[client]

    def snapshot(self) -> dict[str, int]:
        """What `/_collector/stats.json` shows as `server`."""
        with self._lock:
            return {"overloaded": self.overloaded, "running": self._running,
                    "waiting": sum(len(queue) for queue in self._queues.values()),
                    "max_requests": self.max_requests, "max_requests_per_client": self.max_per_client}

    def count_overload(self) -> None:
        with self._lock:
            self.overloaded += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.overloaded = 0

    async def acquire(self, client: str) -> bool:
        """Take a slot for `client` (True), waiting up to `queue_timeout`; False when none came in time."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._running < self.max_requests and self._by_client[client] < self.max_per_client:
                self._take(client)
                return True
            if self.queue_timeout <= 0:
                return False
            waiter = _Waiter(client, loop, loop.create_future())
            self._queues.setdefault(client, deque()).append(waiter)
        try:
            async with asyncio.timeout(self.queue_timeout):
                await waiter.future
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            with self._lock:
                if waiter.granted:
                    self._release(client)
                else:
                    self._forget(waiter)
            raise
        with self._lock:
            if waiter.granted:
                return True
            self._forget(waiter)
            return False

    def release(self, client: str) -> None:
        with self._lock:
            self._release(client)

    # -- under the lock ----------------------------------------------------------------------

    def _take(self, client: str) -> None:
        self._running += 1
        self._by_client[client] += 1

    def _release(self, client: str) -> None:
        self._running -= 1
        self._by_client[client] -= 1
        if self._by_client[client] <= 0:
            del self._by_client[client]
        self._grant()

    def _forget(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.client)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._queues[waiter.client]

    def _grant(self) -> None:
        while self._running < self.max_requests:
            chosen = next((client for client in self._queues if self._by_client[client] < self.max_per_client), None)
            if chosen is None:
                return
            queue = self._queues.pop(chosen)
            waiter = queue.popleft()
            if queue:
                self._queues[chosen] = queue  # to the back: the clients take turns
            waiter.granted = True
            self._take(chosen)
            waiter.loop.call_soon_threadsafe(_open, waiter)


def _client_key(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def overload_response(scope: Scope, state: AppState, message: str) -> Response:
    """The answer to a request refused for overload (see the module docstring), counted."""
    path = scope.get("path", "")
    headers = {"Retry-After": str(RETRY_AFTER), "Connection": "close", "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff"}
    state.limiter.count_overload()
    destination = COLLECTOR_PATHS.get(path)
    if destination is not None:
        headers.update(cors_headers(Request(scope)))
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        try:
            state.db.count_rejection(destination, 503)
        except Exception:  # noqa: BLE001 - the answer goes out even when the count fails
            _LOG.exception("could not count a 503 (overload) of %s", destination)
    if destination is not None or path.startswith(JSON_PREFIXES):
        return json_error(503, message, headers)
    html = plain_error_page("The store is busy", "Too many requests at once: try again in a moment.")
    return HTMLResponse(html, status_code=503, headers=headers)


def _closing(send: Send) -> Send:
    """`send`, with `Connection: close` added to the response (the server then closes the connection)."""

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing


class Admission:
    """ASGI middleware: bodies first, then a bounded number of running requests; overload answered here."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused: str | None = scope.get(OVERLOADED)
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, send if refused is None else _closing(send))
            return
        if refused is not None:
            await overload_response(scope, self.state, refused)(scope, receive, send)
            return
        receive = await self._received(scope, receive)
        refused = scope.get(OVERLOADED)  # the server closed the connection while the body was arriving
        if refused is not None:
            await overload_response(scope, self.state, refused)(scope, receive, send)
            return
        limiter, client = self.state.limiter, _client_key(scope)
        if not await limiter.acquire(client):
            message = (f"server busy: no request slot within {limiter.queue_timeout:g} s (at most "
                       f"{limiter.max_requests} requests at once, {limiter.max_per_client} per client); "
                       f"retry after {RETRY_AFTER} s")
            await overload_response(scope, self.state, message)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release(client)

    async def _received(self, scope: Scope, receive: Receive) -> Callable[[], Awaitable[Message]]:
        """Receive the body (up to MAX_BODY_BYTES + 1 bytes, until `body_timeout`, the end or a disconnect) and
        answer a `receive` that replays it, then goes on with the real one. The deadline goes into the scope
        (`BODY_DEADLINE`): the app's own reading (`api.read_body`) keeps it, and says 408 past it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.state.settings.body_timeout
        scope[BODY_DEADLINE] = deadline
        messages: deque[Message] = deque()
        size = 0
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    message = await receive()
                    messages.append(message)
                    if message["type"] != "http.request" or not message.get("more_body", False):
                        break
                    size += len(message.get("body", b""))
                    if size > MAX_BODY_BYTES:
                        break
        except TimeoutError:
            pass

        async def replay() -> Message:
            if messages:
                return messages.popleft()
            return await receive()

        return replay


def limiter_from(settings: Settings) -> Limiter:
    """The Limiter of an app with these Settings."""
    return Limiter(settings.max_requests, settings.max_requests_per_client, settings.queue_timeout)

"""A demo store served by uvicorn on 127.0.0.1, port 0, in a background thread (tests and the benchmark)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

from .serving import HEADER_TIMEOUT, server_config

__all__ = ["LiveServer", "Gate"]


class LiveServer:
    """An ASGI app on a free port (or `port`; `host` 127.0.0.1 unless told) in a background thread; `url` once
    started, `stop()` to shut it down. Served as `python -m demo_store` serves it (`serving.server_config`);
    `options` go to uvicorn.Config. A second one plays the CDN beside a store (`demo_store.cdn`)."""

    def __init__(self, app: Any, name: str = "demo-store", *, header_timeout: float = HEADER_TIMEOUT,
                 host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        config = server_config(app, host, port, header_timeout=header_timeout, lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{name} did not start on {host}:{port}")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Gate:
    """An ASGI wrapper that holds back requests whose path starts with a held prefix until `release()` (tests and
    the benchmark make "before the tracker is ready" certain by holding its runtime's files on the server).

    `hold()` and `release()` are called from any thread; `waiting` counts the requests held right now (a test
    waits for it instead of for time)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._prefixes: tuple[str, ...] = ()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()
        self.held_total = 0

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(1 for _, future in self._waiters if not future.done())

    def hold(self, *prefixes: str) -> None:
        with self._lock:
            self._prefixes = tuple(sorted({*self._prefixes, *prefixes}))

    def release(self) -> None:
        with self._lock:
            self._prefixes = ()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_open, future)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            future: asyncio.Future[None] | None = None
            with self._lock:
                if scope["path"].startswith(self._prefixes) and self._prefixes:
                    future = asyncio.get_running_loop().create_future()
                    self._waiters.append((asyncio.get_running_loop(), future))
                    self.held_total += 1
            if future is not None:
                await future
        await self.app(scope, receive, send)


def _open(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

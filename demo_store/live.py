"""A demo store served by uvicorn on 127.0.0.1, port 0, in a background thread (tests and the benchmark)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from .serving import HEADER_TIMEOUT, server_config

__all__ = ["LiveServer"]


class LiveServer:
    """An ASGI app on a free port; `url` once started, `stop()` to shut it down. Served as `python -m
    demo_store` serves it (`serving.server_config`); `options` go to uvicorn.Config."""

    def __init__(self, app: Any, name: str = "demo-store", *, header_timeout: float = HEADER_TIMEOUT,
                 **options: Any) -> None:
        config = server_config(app, "127.0.0.1", 0, header_timeout=header_timeout, lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("demo store did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

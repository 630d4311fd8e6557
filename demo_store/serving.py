"""uvicorn, configured against slow and greedy clients: bounded header reads, keep-alive and concurrency.

uvicorn 0.54's h11 protocol has no bound on the time a request's head may take: a connection that sends
part of a request line (or nothing at all) stays open for good, and `timeout_keep_alive` only runs between
requests (any byte received cancels it). `BoundedH11Protocol` adds that bound: from the moment a
connection opens, or a new request begins, its request line and headers must be complete within
`header_timeout` seconds, or the connection is closed. Bodies are bounded by the app (`Settings.body_timeout`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "LIMIT_CONCURRENCY", "MAX_HEAD_BYTES", "ServerConfig",
           "BoundedH11Protocol", "server_config"]

#: Seconds a connection has to deliver a complete request line and headers.
HEADER_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_TIMEOUT = 5
#: Connections (or running requests) past which new requests are answered 503.
LIMIT_CONCURRENCY = 200
#: Bytes a request line and headers may take (h11 answers 400 past it).
MAX_HEAD_BYTES = 16 * 1024


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus `header_timeout`, read by BoundedH11Protocol."""

    def __init__(self, app: Any, *, header_timeout: float = HEADER_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's head (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout = float(getattr(config, "header_timeout", HEADER_TIMEOUT))
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        # A request begins with its first byte: its head is due within header_timeout from here.
        if self.header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self.header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_handler)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timeout_handler(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.debug("closing a connection whose request head took over %s s", self.header_timeout)
            self.transport.close()


def server_config(app: Any, host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
                  **kwargs: Any) -> ServerConfig:
    """A uvicorn config for the demo store: BoundedH11Protocol, keep-alive, concurrency and head-size limits
    (`kwargs` go to uvicorn.Config and win over these)."""
    options: dict[str, Any] = {
        "http": BoundedH11Protocol, "timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "limit_concurrency": LIMIT_CONCURRENCY,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES, "log_level": "warning", **kwargs}
    return ServerConfig(app, host=host, port=port, header_timeout=header_timeout, **options)

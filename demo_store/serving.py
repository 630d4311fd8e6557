"""uvicorn, configured against slow and greedy clients: bounded request heads, keep-alive and connection caps.

uvicorn 0.54's h11 protocol has no bound on the time a request's head may take: a connection that sends
part of a request line (or nothing at all) stays open for good, and `timeout_keep_alive` only runs between
requests (any byte received cancels it). `BoundedH11Protocol` adds that bound: from the moment a
connection opens, or a new request begins, its request line and headers must be complete within
`header_timeout` seconds, or the connection is closed.

Connections are capped without uvicorn's `limit_concurrency`, which counts idle connections too and answers
a plain-text 503 that a cross-origin script cannot read and nobody counts: at most `max_connections` in all
(`MAX_CONNECTIONS`, less when the process may not open that many files) and `max_connections_per_client`
from one peer address. A connection past a cap first makes room by closing the connection — of the same peer
for the per-client cap, of anyone for the overall one — that has waited longest on its client, for a request
head (an idle keep-alive connection included) or for the rest of a request body: idle and slow sockets give
way to new ones, however many they are. Only when no connection is waiting on its client is the new one
refused: its request is marked (`admission.OVERLOADED` in the scope) and the app answers it 503 in the
documented shape, then the connection closes. Bodies and running requests are bounded by the app
(`Settings.body_timeout` and `demo_store.admission`).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .admission import OVERLOADED

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_CLIENT", "FD_RESERVE",
           "MAX_HEAD_BYTES", "ServerConfig", "BoundedH11Protocol", "connection_budget", "server_config"]

#: Seconds a connection has to deliver a complete request line and headers.
HEADER_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_TIMEOUT = 5
#: Connections open at once, in all (at most: see `connection_budget`) and from one peer address.
MAX_CONNECTIONS = 1024
MAX_CONNECTIONS_PER_CLIENT = 256
#: File descriptors kept for everything but connections (the database, static files, listening sockets).
FD_RESERVE = 128
#: Bytes a request line and headers may take (h11 answers 400 past it).
MAX_HEAD_BYTES = 16 * 1024


def connection_budget(wanted: int = MAX_CONNECTIONS) -> int:
    """`wanted`, or fewer when the process may not open that many files (its RLIMIT_NOFILE less FD_RESERVE)."""
    try:
        import resource
    except ImportError:  # not a Unix
        return wanted
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return wanted
    return max(16, min(wanted, soft - FD_RESERVE))


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus `header_timeout` and the connection caps, read by BoundedH11Protocol."""

    def __init__(self, app: Any, *, header_timeout: float = HEADER_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's head and connection caps (module docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout = float(getattr(config, "header_timeout", HEADER_TIMEOUT))
        self.max_connections = int(getattr(config, "max_connections", MAX_CONNECTIONS))
        self.max_connections_per_client = int(getattr(config, "max_connections_per_client",
                                                      MAX_CONNECTIONS_PER_CLIENT))
        self.header_timer: asyncio.TimerHandle | None = None
        self.peer = ""
        #: Loop time since which the connection waits on its client (for a request head, idle between requests
        #: included, or for the rest of a body); None while it has a whole request and owes the answer.
        self.client_since: float | None = None
        #: Why this connection's requests are refused (it came past a cap), else None.
        self.refused: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer = self.client[0] if self.client else ""
        self.client_since = self.loop.time()
        self._arm_header_timer()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        # A request begins with its first byte: its head is due within header_timeout from here.
        if self.header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()
            self.client_since = self.loop.time()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self.client_since = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.client_since = self.loop.time()

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

    # -- connection caps -----------------------------------------------------------------------

    def _make_room(self) -> None:
        """Within the caps, or made so by closing the connection that waited longest on its client; else
        `refused`: the app answers this connection's request 503."""
        if len(self.connections) <= min(self.max_connections, self.max_connections_per_client):
            return
        others = [c for c in self.connections
                  if c is not self and isinstance(c, BoundedH11Protocol) and not c.transport.is_closing()]
        mine = [c for c in others if c.peer == self.peer]
        if len(mine) >= self.max_connections_per_client and not _close_stalest(mine):
            self._refuse(f"server busy: {len(mine)} connections open from this client and none idle; "
                         "retry later")
            return
        others = [c for c in others if not c.transport.is_closing()]
        if len(others) >= self.max_connections and not _close_stalest(others):
            self._refuse(f"server busy: {len(others)} connections open and none idle; retry later")

    def _refuse(self, message: str) -> None:
        self.refused = message
        self.logger.warning("%s (%s)", message, self.peer)
        app = self.app

        async def refusing(scope: Any, receive: Any, send: Any) -> None:
            scope[OVERLOADED] = message
            await app(scope, receive, send)

        self.app = refusing


def _close_stalest(connections: list[BoundedH11Protocol]) -> bool:
    """Close the connection that has waited longest on its client; False when none is waiting on its client."""
    waiting = [c for c in connections if c.client_since is not None]
    if not waiting:
        return False
    stalest = min(waiting, key=lambda c: c.client_since or 0.0)
    stalest.logger.debug("closing %s's connection, waiting on it for %.1f s, to make room", stalest.peer,
                         stalest.loop.time() - (stalest.client_since or 0.0))
    if stalest.cycle is not None and not stalest.cycle.response_complete:
        # A request whose body was still arriving: refused for overload (the app counts it, nobody hears it).
        scope = cast(dict[str, Any], stalest.scope)
        scope[OVERLOADED] = "server busy: connection closed to make room while its body was arriving; retry later"
    stalest.transport.close()
    return True


def server_config(app: Any, host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
                  max_connections: int | None = None, max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
                  **kwargs: Any) -> ServerConfig:
    """A uvicorn config for the demo store: BoundedH11Protocol (head deadline, connection caps: `max_connections`
    defaults to `connection_budget()`), keep-alive and head-size limits, no uvicorn `limit_concurrency` (the app
    bounds running requests). `kwargs` go to uvicorn.Config and win over these."""
    options: dict[str, Any] = {
        "http": BoundedH11Protocol, "timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "limit_concurrency": None,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES, "log_level": "warning", **kwargs}
    return ServerConfig(app, host=host, port=port, header_timeout=header_timeout,
                        max_connections=connection_budget() if max_connections is None else max_connections,
                        max_connections_per_client=max_connections_per_client, **options)

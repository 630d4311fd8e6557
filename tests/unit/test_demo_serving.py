"""The demo store under uvicorn against slow clients: request heads and bodies have deadlines (raw sockets)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from demo_store.__main__ import parse_args
from demo_store.app import Settings, create_app
from demo_store.live import LiveServer
from demo_store.serving import (
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_CONNECTIONS_PER_CLIENT,
    MAX_HEAD_BYTES,
    BoundedH11Protocol,
    connection_budget,
    server_config,
)

#: The bound configured for these tests, and how long a test waits for it before failing (generous: the
#: machine is shared; what matters is that the server closes at all, and long before this).
SHORT_TIMEOUT = 1.0
GIVE_UP_AFTER = 30.0
GLOOD = "/api/storefront/v3/headless/events"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(db_path=str(tmp_path_factory.mktemp("serving") / "demo.sqlite3"), body_timeout=SHORT_TIMEOUT)
    live = LiveServer(create_app(settings), name="serving-test", header_timeout=SHORT_TIMEOUT)
    yield live
    live.stop()


def connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=GIVE_UP_AFTER)
    sock.settimeout(GIVE_UP_AFTER)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; fails if it has not within GIVE_UP_AFTER."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {GIVE_UP_AFTER} s")
    finally:
        sock.close()
    return received


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(
        b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("sent", [b"", b"G", b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"])
def test_an_incomplete_request_head_is_closed(server: LiveServer, sent: bytes) -> None:
    """Nothing, part of a request line or part of the headers: the server closes the connection (slowloris)."""
    sock = connect(server)
    if sent:
        sock.sendall(sent)
    assert read_until_closed(sock) == b""


def test_a_partial_second_request_on_a_kept_alive_connection_is_closed(server: LiveServer) -> None:
    """The deadline applies to every request of a connection, not only the first."""
    sock = connect(server)
    sock.sendall(b"GET /_collector/stats.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(sock).startswith(b"HTTP/1.1 200 ")
    sock.sendall(b"GET /_collector/stats.json HTTP/1.1\r\nHo")
    assert read_until_closed(sock) == b""


def test_complete_requests_are_served(server: LiveServer) -> None:
    """A whole request, even sent in pieces, is answered (the deadline only cuts off stalled heads)."""
    sock = connect(server)
    for piece in (b"GET /_collector/stats.json HT", b"TP/1.1\r\nHost: local", b"host\r\n", b"\r\n"):
        sock.sendall(piece)
    assert read_response(sock).startswith(b"HTTP/1.1 200 ")
    sock.close()


def test_a_stalled_body_gets_408_and_the_connection_is_closed(server: LiveServer) -> None:
    """A collector body that stops arriving is answered 408 in the Error shape (Connection: close)."""
    sock = connect(server)
    sock.sendall(b"POST " + GLOOD.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"event\":")
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"error":408' in answer and b"connection: close" in answer.lower()


def test_server_config_bounds_everything() -> None:
    """The uvicorn config of `python -m demo_store` and LiveServer: bounded heads, keep-alive, connection caps (no
    uvicorn `limit_concurrency`: the app answers overload itself)."""
    config = server_config(object(), "127.0.0.1", 8000)
    assert config.http is BoundedH11Protocol and config.header_timeout == HEADER_TIMEOUT
    assert config.timeout_keep_alive == KEEP_ALIVE_TIMEOUT and config.limit_concurrency is None
    assert config.max_connections == connection_budget()
    assert config.max_connections_per_client == MAX_CONNECTIONS_PER_CLIENT
    assert config.h11_max_incomplete_event_size == MAX_HEAD_BYTES
    assert server_config(object(), "127.0.0.1", 0, header_timeout=2.5).header_timeout == 2.5


def test_header_timeout_cli_option() -> None:
    """`--header-timeout` sets the bound of `python -m demo_store`."""
    assert parse_args([]).header_timeout == HEADER_TIMEOUT
    assert parse_args(["--header-timeout", "3"]).header_timeout == 3.0

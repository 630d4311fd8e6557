"""Overload: the app answers it (503 in the documented shape, CORS, Retry-After, counted), slow and idle clients
hold no request slots and give way to others, a normal load is all accepted.

The first tests drive the ASGI app by hand, holding requests at their answer (`Held`) so that slots are taken for
certain; the others run a real server (`LiveServer`) and talk to it over raw sockets, the "other client" from a
second loopback address (127.0.0.2). Nothing waits for time: each waits for an explicit signal (a request held,
a count reached, a socket readable), with GIVE_UP_AFTER only as the bound of a failure.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from own_thread import run_on_own_thread
from starlette.applications import Starlette

from demo_store.__main__ import parse_args, settings_from_args
from demo_store.admission import OVERLOADED, RETRY_AFTER, Limiter
from demo_store.app import Settings, create_app
from demo_store.live import Gate, LiveServer

T = TypeVar("T")

GLOOD = "/api/storefront/v3/headless/events"
INIT = "/api/storefront/v3/headless/init"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
SHOP = "demo-store.myshopify.com"
ORIGIN = "http://localhost:9999"
#: How long a test waits for what it expects before failing (the machine is shared: generous).
GIVE_UP_AFTER = 30.0
Message = dict[str, Any]


def glood_body(event_id: str) -> bytes:
    return json.dumps({"event": {"id": event_id, "name": "glood:section:view", "type": "custom",
                                 "timestamp": "2026-04-16T10:29:58.123Z", "data": {}, "customData": {}},
                       "session_id": "visit-1", "client_id": "client-1", "shop_domain": SHOP}).encode()


def genlook_body(event_id: str) -> bytes:
    return json.dumps({"events": [{"event": "section:view", "timestamp": "2026-04-16T10:29:58Z",
                                   "$insert_id": event_id, "properties": {}}],
                       "context": {"$current_url": "http://shop.test/", "$session_id": "visit-1"}}).encode()


INIT_BODY = json.dumps({"client_id": "c", "page_type": "home"}).encode()
BODIES: dict[str, Callable[[str], bytes]] = {GLOOD: glood_body, GENLOOK: genlook_body, INIT: lambda _: INIT_BODY}


# -- the ASGI app driven by hand ----------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Held:
    """A request that, once answered, waits at its answer's start until `release()`: it keeps its slot."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.gate.set()


async def call(app: Starlette, method: str, path: str, body: bytes = b"", *, client: str = "10.0.0.1",
               headers: dict[str, str] | None = None, held: Held | None = None,
               receive: Callable[[], Awaitable[Message]] | None = None, scope: Message | None = None) -> Answer:
    """One request through the app (Host 127.0.0.1, x-shop, `headers`), from `client`; its answer."""
    sent: list[Message] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive_body() -> Message:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays: no disconnect
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and held is not None:
            held.started.set()
            await held.gate.wait()
        sent.append(message)

    all_headers = {"host": "127.0.0.1", "x-shop": SHOP, "content-type": "application/json", **(headers or {})}
    request_scope: Message = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in all_headers.items()],
        "client": (client, 50000), "server": ("127.0.0.1", 8000), "state": {}, **(scope or {})}
    await app(request_scope, receive or receive_body, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
                  b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until `condition()` holds (it is made true by tasks of this loop)."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0)


def limiter(app: Starlette) -> Limiter:
    state_limiter: Limiter = app.state.demo.limiter
    return state_limiter


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Starlette]]:
    apps: list[Starlette] = []

    def make(**settings: Any) -> Starlette:
        app = create_app(Settings(db_path=str(tmp_path / f"demo{len(apps)}.sqlite3"), **settings))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.demo.db.close()


def stats(app: Starlette) -> dict[str, Any]:
    answer: dict[str, Any] = {**app.state.demo.db.stats(), "server": limiter(app).snapshot()}
    return answer


@pytest.mark.parametrize(("path", "destination"), [(GLOOD, "glood"), (GENLOOK, "genlook"), (INIT, "glood")])
def test_overload_is_answered_in_the_error_shape_with_cors_and_counted(
        make_app: Callable[..., Starlette], path: str, destination: str) -> None:
    """No slot (one request at most, held; no queue): a collector answers 503 `{error, message}` with the echoed
    Origin, credentials, Retry-After (exposed) and Connection: close, counted for its destination."""
    app = make_app(max_requests=1, queue_timeout=0)

    async def scenario() -> Answer:
        held = Held()
        first = asyncio.create_task(call(app, "GET", "/_collector/stats.json", held=held))
        await held.started.wait()
        refused = await call(app, "POST", path, BODIES[path]("e1"), client="10.0.0.2", headers={"origin": ORIGIN})
        held.release()
        assert (await first).status == 200
        return refused

    answer = run_on_own_thread(scenario)
    assert answer.status == 503
    body = answer.json()
    assert body["error"] == 503 and "server busy" in body["message"]
    assert answer.headers["retry-after"] == str(RETRY_AFTER)
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-expose-headers"] == "Retry-After"
    assert answer.headers["connection"] == "close" and answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-type"] == "application/json"
    counts = stats(app)
    assert counts[destination]["rejected_by_status"] == {"503": 1}
    assert counts["server"]["overloaded"] == 1
    assert counts["glood"]["accepted"] == counts["genlook"]["accepted"] == 0


def test_overload_elsewhere_is_json_under_api_paths_and_a_page_otherwise(make_app: Callable[..., Starlette]) -> None:
    """Other routes: the Error shape under API paths, a small store page elsewhere; both with Retry-After, no CORS
    grant, counted only in `server.overloaded` (no destination)."""
    app = make_app(max_requests=1, queue_timeout=0)

    async def scenario() -> tuple[Answer, Answer]:
        held = Held()
        first = asyncio.create_task(call(app, "GET", "/_collector/stats.json", held=held))
        await held.started.wait()
        api = await call(app, "GET", "/_collector/events.json", headers={"origin": ORIGIN})
        page = await call(app, "GET", "/")
        held.release()
        await first
        return api, page

    api, page = run_on_own_thread(scenario)
    assert api.status == 503 and api.json()["error"] == 503 and api.headers["retry-after"] == str(RETRY_AFTER)
    assert "access-control-allow-origin" not in api.headers
    assert page.status == 503 and page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER) and "content-security-policy" in page.headers
    assert b"busy" in page.body
    counts = stats(app)
    assert counts["server"]["overloaded"] == 2
    assert counts["glood"]["rejected"] == counts["genlook"]["rejected"] == 0


def test_a_waiting_request_runs_when_a_slot_frees(make_app: Callable[..., Starlette]) -> None:
    """Within `queue_timeout` a request waits for a slot and is then served as usual (nothing refused)."""
    app = make_app(max_requests=1, queue_timeout=GIVE_UP_AFTER)

    async def scenario() -> Answer:
        held = Held()
        first = asyncio.create_task(call(app, "GET", "/_collector/stats.json", held=held))
        await held.started.wait()
        second = asyncio.create_task(call(app, "POST", GENLOOK, genlook_body("waited"), client="10.0.0.2"))
        await until(lambda: limiter(app).waiting == 1)
        held.release()
        await first
        return await second

    assert run_on_own_thread(scenario).status == 200
    counts = stats(app)
    assert counts["genlook"]["accepted"] == 1 and counts["server"]["overloaded"] == 0
    assert counts["server"]["running"] == counts["server"]["waiting"] == 0


def test_one_client_cannot_take_every_slot(make_app: Callable[..., Starlette]) -> None:
    """A client at its own limit waits (here: is refused at once), another client still runs."""
    app = make_app(max_requests=4, max_requests_per_client=2, queue_timeout=0)

    async def scenario() -> tuple[Answer, Answer]:
        held = [Held(), Held()]
        firsts = [asyncio.create_task(call(app, "GET", "/_collector/stats.json", client="10.0.0.1", held=h))
                  for h in held]
        for h in held:
            await h.started.wait()
        same = await call(app, "POST", GLOOD, glood_body("same"), client="10.0.0.1")
        other = await call(app, "POST", GLOOD, glood_body("other"), client="10.0.0.2")
        for h in held:
            h.release()
        await asyncio.gather(*firsts)
        return same, other

    same, other = run_on_own_thread(scenario)
    assert same.status == 503 and other.status == 200
    assert stats(app)["glood"]["rejected_by_status"] == {"503": 1}


def test_waiting_clients_take_turns(make_app: Callable[..., Starlette]) -> None:
    """Freed slots go to the waiting clients in turn, not to the client that queued most first."""
    app = make_app(max_requests=1, queue_timeout=GIVE_UP_AFTER)
    order: list[str] = []

    async def scenario() -> None:
        held = Held()
        first = asyncio.create_task(call(app, "GET", "/_collector/stats.json", client="10.0.0.1", held=held))
        await held.started.wait()

        async def post(name: str, client: str) -> None:
            answer = await call(app, "POST", GENLOOK, genlook_body(name), client=client)
            assert answer.status == 200
            order.append(name)

        waiting: list[asyncio.Task[None]] = []
        for name, client in (("a2", "10.0.0.1"), ("a3", "10.0.0.1"), ("b1", "10.0.0.2")):
            waiting.append(asyncio.create_task(post(name, client)))
            await until(lambda: limiter(app).waiting == len(waiting))
        held.release()
        await asyncio.gather(first, *waiting)

    run_on_own_thread(scenario)
    assert order == ["a2", "b1", "a3"]


def test_preflights_are_never_refused(make_app: Callable[..., Starlette]) -> None:
    """A preflight takes no slot: refused, it would hide the real answer (and its Retry-After) from the page."""
    app = make_app(max_requests=1, queue_timeout=0)

    async def scenario() -> Answer:
        held = Held()
        first = asyncio.create_task(call(app, "GET", "/_collector/stats.json", held=held))
        await held.started.wait()
        preflight = await call(app, "OPTIONS", GLOOD, headers={
            "origin": ORIGIN, "access-control-request-method": "POST"})
        held.release()
        await first
        return preflight

    answer = run_on_own_thread(scenario)
    assert answer.status == 204 and answer.headers["access-control-allow-origin"] == ORIGIN
    assert stats(app)["server"]["overloaded"] == 0


def test_a_slow_body_holds_no_slot(make_app: Callable[..., Starlette]) -> None:
    """A body still arriving is received before the request takes a slot: with one slot, another request of the
    same client runs meanwhile, and the slow one is served once its body is complete."""
    app = make_app(max_requests=1, queue_timeout=0)

    async def scenario() -> tuple[Answer, Answer]:
        body = genlook_body("slow")
        asked_for_more, rest = asyncio.Event(), asyncio.Event()
        chunks = [{"type": "http.request", "body": body[:10], "more_body": True}]

        async def slow_receive() -> Message:
            if chunks:
                return chunks.pop()
            asked_for_more.set()
            await rest.wait()
            return {"type": "http.request", "body": body[10:], "more_body": False}

        slow = asyncio.create_task(call(app, "POST", GENLOOK, receive=slow_receive))
        await asked_for_more.wait()
        assert limiter(app).running == 0
        quick = await call(app, "POST", GENLOOK, genlook_body("quick"))
        rest.set()
        return await slow, quick

    slow, quick = run_on_own_thread(scenario)
    assert slow.status == quick.status == 200
    assert stats(app)["genlook"]["accepted"] == 2


def test_requests_the_server_marked_overloaded_are_answered_by_the_app(make_app: Callable[..., Starlette]) -> None:
    """A connection past the server's caps (`OVERLOADED` in the scope): 503 with its message, counted; its
    preflight is answered as usual, the connection then closed."""
    app = make_app()
    mark = {OVERLOADED: "server busy: 3 connections open from this client and none idle; retry later"}

    async def scenario() -> tuple[Answer, Answer]:
        refused = await call(app, "POST", GENLOOK, genlook_body("x"), headers={"origin": ORIGIN}, scope=mark)
        preflight = await call(app, "OPTIONS", GENLOOK, headers={"origin": ORIGIN}, scope=mark)
        return refused, preflight

    refused, preflight = run_on_own_thread(scenario)
    assert refused.status == 503 and refused.json() == {"error": 503, "message": mark[OVERLOADED]}
    assert refused.headers["access-control-allow-origin"] == ORIGIN and refused.headers["connection"] == "close"
    assert preflight.status == 204 and preflight.headers["connection"] == "close"
    assert stats(app)["genlook"]["rejected_by_status"] == {"503": 1}


def test_reset_forgets_overload_counts(make_app: Callable[..., Starlette]) -> None:
    """`POST /_collector/reset` zeroes `server.overloaded` too; stats.json shows it."""
    app = make_app()

    async def scenario() -> Answer:
        await call(app, "POST", GENLOOK, genlook_body("x"), scope={OVERLOADED: "busy"})
        before = await call(app, "GET", "/_collector/stats.json")
        assert before.json()["server"]["overloaded"] == 1
        await call(app, "POST", "/_collector/reset")
        return await call(app, "GET", "/_collector/stats.json")

    after = run_on_own_thread(scenario).json()
    assert after["server"]["overloaded"] == 0 and after["genlook"]["rejected"] == 0


def test_overload_cli_options() -> None:
    """The limits are options of `python -m demo_store`."""
    args = parse_args(["--max-connections", "50", "--max-connections-per-client", "10", "--max-requests", "8",
                       "--max-requests-per-client", "2", "--queue-timeout", "1.5", "--body-timeout", "4"])
    assert (args.max_connections, args.max_connections_per_client) == (50, 10)
    settings = settings_from_args(args)
    assert (settings.max_requests, settings.max_requests_per_client) == (8, 2)
    assert (settings.queue_timeout, settings.body_timeout) == (1.5, 4.0)
    defaults = settings_from_args(parse_args([]))
    assert (defaults.max_requests, defaults.queue_timeout, defaults.body_timeout) == (256, 5.0, 30.0)


# -- a real server, raw sockets --------------------------------------------------------------------

OTHER = "127.0.0.2"


@pytest.fixture(scope="module")
def other_address() -> str:
    """A second loopback address for "another client" (Linux routes all of 127/8 to lo)."""
    probe = socket.socket()
    try:
        probe.bind((OTHER, 0))
    except OSError:
        pytest.skip(f"{OTHER} is not a local address here")
    finally:
        probe.close()
    return OTHER


def connect(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=GIVE_UP_AFTER, source_address=(source, 0))
    sock.settimeout(GIVE_UP_AFTER)
    return sock


def request_bytes(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"x-shop: {SHOP}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answer(sock: socket.socket) -> Answer:
    """One answer with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the answer's body"
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body)


def exchange(server: LiveServer, method: str, path: str, body: bytes = b"", *, source: str = "127.0.0.1",
             headers: dict[str, str] | None = None) -> Answer:
    with connect(server, source) as sock:
        sock.sendall(request_bytes(method, path, body, headers))
        return read_answer(sock)


def until_true(condition: Callable[[], bool]) -> None:
    """Wait (in this thread) until `condition()` holds, made true by the server's thread."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def open_connections(server: LiveServer) -> int:
    return len(server.server.server_state.connections)


def settle(server: LiveServer) -> None:
    """Wait until the server has seen every connection of the test closed and finished their requests (so that
    nothing is counted after the next test's reset)."""
    until_true(lambda: open_connections(server) == 0 and not server.server.server_state.tasks)


def live_stats(server: LiveServer) -> dict[str, Any]:
    answer: dict[str, Any] = exchange(server, "GET", "/_collector/stats.json").json()
    return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The store as `python -m demo_store` serves it (default limits; deadlines long enough that no test's slow
    socket is closed for being slow)."""
    settings = Settings(db_path=str(tmp_path_factory.mktemp("overload") / "demo.sqlite3"), body_timeout=60)
    live = LiveServer(create_app(settings), name="overload-test", header_timeout=60)
    yield live
    live.stop()


@pytest.fixture
def fresh(server: LiveServer) -> LiveServer:
    assert exchange(server, "POST", "/_collector/reset").status == 200
    return server


def test_idle_and_slow_connections_of_one_client_do_not_block_another(fresh: LiveServer, other_address: str) -> None:
    """200 connections of one client — idle, stalled in their head, stalled in their body — stay open, unanswered,
    while normal requests of another client (and of the same one) are all served."""
    slow: list[socket.socket] = []
    try:
        for index in range(200):
            sock = connect(fresh, other_address)
            slow.append(sock)
            if index % 3 == 1:
                sock.sendall(b"POST " + GLOOD.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            elif index % 3 == 2:
                sock.sendall(b"POST " + GENLOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"events\":")
        until_true(lambda: open_connections(fresh) >= 200)
        for index in range(25):
            path = (GLOOD, GENLOOK)[index % 2]
            answer = exchange(fresh, "POST", path, BODIES[path](f"normal-{index}"), headers={"Origin": ORIGIN})
            assert answer.status == 200, answer
            assert answer.headers["access-control-allow-origin"] == ORIGIN
        same = exchange(fresh, "POST", GLOOD, glood_body("same-client"), source=other_address)
        assert same.status == 200, same
        # The slow ones were neither refused nor dropped: they still wait, unanswered.
        assert select.select(slow, [], [], 0)[0] == []
        assert open_connections(fresh) >= 200
    finally:
        for sock in slow:
            sock.close()
    settle(fresh)
    counts = live_stats(fresh)
    assert counts["glood"]["accepted"] == 14 and counts["genlook"]["accepted"] == 12
    assert counts["server"]["overloaded"] == 0


def test_past_the_per_client_cap_the_stalest_connection_gives_way(
        tmp_path: Path, other_address: str) -> None:
    """At its connection cap, a client's new connection closes that client's connection that waited longest on it
    (here: one of the idle ones) and is served; other clients are not touched."""
    app = create_app(Settings(db_path=str(tmp_path / "demo.sqlite3")))
    live = LiveServer(app, name="overload-cap", header_timeout=60, max_connections_per_client=20)
    idle: list[socket.socket] = []
    try:
        bystander = connect(live)
        idle = [connect(live, other_address) for _ in range(20)]
        until_true(lambda: open_connections(live) >= 21)
        answer = exchange(live, "POST", GENLOOK, genlook_body("new"), source=other_address)
        assert answer.status == 200, answer
        readable, _, _ = select.select(idle, [], [], GIVE_UP_AFTER)
        closed = [sock for sock in readable if sock.recv(1) == b""]
        assert len(closed) == 1
        assert select.select([bystander], [], [], 0)[0] == []  # the other client's idle connection stays
        bystander.close()
    finally:
        for sock in idle:
            sock.close()
        live.stop()


def test_a_slow_body_gives_way_and_counts_as_overload(tmp_path: Path, other_address: str) -> None:
    """At the cap, a connection still sending its body is closed for the new one (the oldest such), and its
    request counts as a 503 of its collector (nobody hears that answer)."""
    app = create_app(Settings(db_path=str(tmp_path / "demo.sqlite3"), body_timeout=60))
    live = LiveServer(app, name="overload-slow-body", header_timeout=60, max_connections_per_client=3)
    slow: list[socket.socket] = []
    try:
        for _ in range(3):
            sock = connect(live, other_address)
            sock.sendall(b"POST " + GENLOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"events\":")
            slow.append(sock)
        until_true(lambda: len(live.server.server_state.tasks) == 3)  # three requests receiving their bodies
        answer = exchange(live, "POST", GENLOOK, genlook_body("new"), source=other_address)
        assert answer.status == 200, answer
        readable, _, _ = select.select(slow, [], [], GIVE_UP_AFTER)
        assert [sock.recv(1) for sock in readable] == [b""]  # one closed, unanswered
        until_true(lambda: live_stats(live)["server"]["overloaded"] == 1)
        counts = live_stats(live)["genlook"]
        assert counts["rejected_by_status"] == {"503": 1} and counts["accepted"] == 1
    finally:
        for sock in slow:
            sock.close()
        live.stop()


def test_past_the_caps_with_nothing_idle_the_app_answers_503(tmp_path: Path, other_address: str) -> None:
    """When every connection of a client at its cap has a request running, its next connection is answered 503 by
    the app (Error shape, CORS, Retry-After, counted) and closed; other clients are served."""
    app = create_app(Settings(db_path=str(tmp_path / "demo.sqlite3")))
    gate = Gate(app)
    gate.hold("/_collector/events.json")
    live = LiveServer(gate, name="overload-busy", max_connections_per_client=3)
    busy: list[socket.socket] = []
    try:
        for _ in range(3):
            sock = connect(live, other_address)
            sock.sendall(request_bytes("GET", "/_collector/events.json"))
            busy.append(sock)
        until_true(lambda: gate.waiting == 3)
        with connect(live, other_address) as sock:
            sock.sendall(request_bytes("POST", GENLOOK, genlook_body("refused"), {"Origin": ORIGIN}))
            refused = read_answer(sock)
            assert sock.recv(1) == b""  # closed after the answer
        assert refused.status == 503, refused
        assert refused.json()["error"] == 503 and "connections open from this client" in refused.json()["message"]
        assert refused.headers["retry-after"] == str(RETRY_AFTER)
        assert refused.headers["access-control-allow-origin"] == ORIGIN
        assert refused.headers["access-control-expose-headers"] == "Retry-After"
        assert exchange(live, "POST", GENLOOK, genlook_body("other")).status == 200
        gate.release()
        assert all(read_answer(sock).status == 200 for sock in busy)
        counts = live_stats(live)
        assert counts["genlook"]["rejected_by_status"] == {"503": 1} and counts["genlook"]["accepted"] == 1
        assert counts["server"]["overloaded"] == 1
    finally:
        gate.release()
        for sock in busy:
            sock.close()
        live.stop()


def post_bodies(server: LiveServer, connections: int, per_connection: int) -> dict[int, int]:
    """`connections` keep-alive connections, all open at once, each posting `per_connection` bodies (Glood and
    Genlook in turn, half the connections starting with each); the statuses answered."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    all_open = threading.Barrier(connections)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GIVE_UP_AFTER)
        try:
            conn.connect()
            all_open.wait(GIVE_UP_AFTER)
            for index in range(per_connection):
                path = (GLOOD, GENLOOK)[(number + index) % 2]
                conn.request("POST", path, BODIES[path](f"load-{number}-{index}"), headers={
                    "Content-Type": "application/json", "x-shop": SHOP, "Origin": ORIGIN})
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.will_close:
                    conn.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    return statuses


@pytest.mark.parametrize(("connections", "per_connection"), [(50, 20), (200, 5)])
def test_a_thousand_bodies_are_all_accepted(fresh: LiveServer, connections: int, per_connection: int) -> None:
    """1,000 bodies over 50 connections, and over 200 connections open at once (uvicorn's old cap): all 200."""
    assert post_bodies(fresh, connections, per_connection) == {200: 1000}
    counts = live_stats(fresh)
    assert counts["glood"]["accepted"] == counts["genlook"]["accepted"] == 500
    assert counts["glood"]["rejected"] == counts["genlook"]["rejected"] == 0
    assert counts["server"]["overloaded"] == 0

"""Fixtures of the engine-neutral journeys: one browser per engine for the session (Firefox ESR, WebKitGTK), one
demo store behind a Gate, its collectors, and a guard failing any test whose pages threw or logged an error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from e2e.support import Collector

from demo_store.app import Settings, create_app
from demo_store.live import Gate, LiveServer

from .drivers import ENGINES, Engine, launch, missing
from .shop import Served, Shop


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/engines/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.engines)


#: The tracker's first file after the page's load event (the sensor imports it); every other runtime file comes after.
RELAY_PREFIX = "/dist/tracker/relay."


class NoStoreRelay:
    """ASGI wrapper: the relay's responses say `Cache-Control: no-store` instead of immutable. One browser serves a
    whole session, so an earlier test has the runtime in its HTTP cache; a Gate holding "/dist/" then holds
    nothing. A relay always fetched makes the hold certain (the rest stays cached, as shoppers have it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(RELAY_PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"cache-control",
                                                                                              b"etag",
                                                                                              b"last-modified")]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo store (its collectors on the same origin) on a free port, every request through a Gate, the relay
    never cached."""
    gate = Gate(NoStoreRelay(create_app(Settings(db_path=str(tmp_path_factory.mktemp("engines") / "demo.sqlite3")))))
    server = LiveServer(gate, "engines-store")
    yield Served(server.url, gate)
    gate.release()
    server.stop()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One browser per engine for the whole session (pytest runs one engine's tests, then the other's)."""
    name = str(request.param)
    lacking = missing(name)
    if lacking:
        pytest.fail(f"{name}: this machine lacks {lacking} (bash scripts/setup.sh --browser installs it)")
    browser = launch(name)
    yield browser
    browser.close()


@pytest.fixture
def gate(served: Served) -> Iterator[Gate]:
    """The store's Gate; whatever a test holds is released after it."""
    yield served.gate
    served.gate.release()


@pytest.fixture
def collector(served: Served) -> Collector:
    return Collector(served.url)


@pytest.fixture
def shop(engine: Engine, served: Served, gate: Gate) -> Iterator[Shop]:
    """The store in the engine's page, as a new visitor (storage cleared: a new client id, nothing to adopt).

    After the test its last page is left (its pagehide runs) and the test fails on any uncaught page error or
    console error its pages had (Firefox: puppeteer's events; WebKit: the hook injected into each document)."""
    engine.reset(served.url)
    yield Shop(engine, served.url)
    gate.release()
    engine.reset(served.url)
    errors = engine.errors()
    assert errors.page == [], f"{engine.name}: uncaught page errors: {errors.page}"
    assert errors.console == [], f"{engine.name}: console errors: {errors.console}"

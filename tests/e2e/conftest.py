"""E2E fixtures: Debian's Chromium, live demo stores on free ports, collectors, a page-error guard."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from demo_store.app import Settings, create_app

from .support import Collector, LiveServer, StorePage

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Offline by resolver (not by page.route(), which breaks preflighted beacons).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": [*browser_type_launch_args.get("args", []), *OFFLINE_ARGS]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}}


def _serve(settings: Settings) -> LiveServer:
    return LiveServer(create_app(settings))


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo store with its own collectors on the same origin."""
    server = _serve(Settings(db_path=str(tmp_path_factory.mktemp("store") / "demo.sqlite3")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def remote_collector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second demo store instance used only as a cross-site collector."""
    server = _serve(Settings(db_path=str(tmp_path_factory.mktemp("remote") / "demo.sqlite3")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cross_store_server(tmp_path_factory: pytest.TempPathFactory,
                       remote_collector_server: LiveServer) -> Iterator[LiveServer]:
    """A demo store whose tracker delivers to the remote collector on another site (localhost vs 127.0.0.1)."""
    remote = remote_collector_server.url.replace("127.0.0.1", "localhost")
    server = _serve(Settings(db_path=str(tmp_path_factory.mktemp("cross") / "demo.sqlite3"),
                             glood_url=remote,
                             genlook_url=remote + "/apps/proxy_genlook-x/public/tracking/events"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def consent_store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A demo store that asks for analytics consent first (Shopify Customer Privacy API stand-in)."""
    server = _serve(Settings(db_path=str(tmp_path_factory.mktemp("consent") / "demo.sqlite3"), consent_banner=True))
    yield server
    server.stop()


@pytest.fixture
def collector(store_server: LiveServer) -> Iterator[Collector]:
    """The store's collectors; any fault a test arms is disarmed after it."""
    collector = Collector(store_server.url)
    yield collector
    for destination, endpoint in (("glood", "events"), ("glood", "init"), ("genlook", "events")):
        collector.fail(destination, 0, endpoint=endpoint)


@pytest.fixture
def consent_collector(consent_store_server: LiveServer) -> Collector:
    return Collector(consent_store_server.url)


@pytest.fixture
def consent_store(page: Page, consent_store_server: LiveServer) -> StorePage:
    return StorePage(page, consent_store_server.url)


@pytest.fixture
def remote_collector(remote_collector_server: LiveServer) -> Collector:
    return Collector(remote_collector_server.url)


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Console errors of the page; a test that expects some takes this fixture and inspects them."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


@pytest.fixture(autouse=True)
def page_error_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any browser test whose page throws an uncaught error, or logs a console error it did not ask for."""
    if "page" not in request.fixturenames:
        yield
        return
    page: Page = request.getfixturevalue("page")
    page_errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.on("crash", lambda _: page_errors.append("the page crashed (its renderer process ended)"))
    yield
    assert page_errors == [], f"uncaught page errors: {page_errors}"
    if "console_errors" not in request.fixturenames:
        assert console == [], f"console errors: {console}"


@pytest.fixture
def store(page: Page, store_server: LiveServer) -> StorePage:
    return StorePage(page, store_server.url)


@pytest.fixture
def cross_store(page: Page, cross_store_server: LiveServer) -> StorePage:
    return StorePage(page, cross_store_server.url)

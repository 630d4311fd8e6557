"""Support for the exactly-once journeys (test_handover.py): a demo store behind a `Gate`, a browser with the
back/forward cache on, the page's own clock, and checks made at the collectors.

The fixtures are named with `name=` so that the test module imports them under other names (pytest finds
fixtures in the test module's namespace; conftest.py is not touched)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Page

from demo_store.app import Settings, create_app
from demo_store.live import Gate

from .conftest import CHROMIUM, OFFLINE_ARGS
from .support import Collector, LiveServer, StorePage, poll

__all__ = ["GatedStore", "PRODUCT", "READY_MS", "ErrorWatch", "bfcache_browser_fixture", "gate_fixture",
           "gated_collector_fixture", "gated_server_fixture", "gated_store_fixture", "tag", "wait_page_clock",
           "wait_gate_waiting", "settle", "assert_delivered_once", "of_page", "names", "ids", "expect_at_both",
           "wait_for_page_events", "stored"]

PRODUCT = "/products/classic-oxford-shirt"
READY_MS = 60_000


@dataclass
class GatedStore:
    """The demo store whose every request passes a `Gate` (hold "/dist/": the tracker's runtime waits)."""

    server: LiveServer
    gate: Gate

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session", name="gated_server")
def gated_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatedStore]:
    """A demo store of its own (own SQLite), its app wrapped in a Gate."""
    gate = Gate(create_app(Settings(db_path=str(tmp_path_factory.mktemp("handover") / "demo.sqlite3"))))
    server = LiveServer(gate, "handover-store")
    yield GatedStore(server, gate)
    gate.release()
    server.stop()


@pytest.fixture(name="gate")
def gate_fixture(gated_server: GatedStore) -> Iterator[Gate]:
    """The store's gate, open at the start of each test and released after it (whatever the test held)."""
    gated_server.gate.release()
    yield gated_server.gate
    gated_server.gate.release()


@pytest.fixture(name="gated_store")
def gated_store_fixture(page: Page, gated_server: GatedStore, gate: Gate) -> StorePage:
    return StorePage(page, gated_server.url)


@pytest.fixture(name="gated_collector")
def gated_collector_fixture(gated_server: GatedStore) -> Collector:
    return Collector(gated_server.url)


@pytest.fixture(name="bfcache_browser")
def bfcache_browser_fixture(browser_type: BrowserType) -> Iterator[Browser]:
    """Chromium with the back/forward cache on (Playwright turns it off with a default argument)."""
    browser = browser_type.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS,
                                  ignore_default_args=["--disable-back-forward-cache"])
    yield browser
    browser.close()


@dataclass
class ErrorWatch:
    """Uncaught errors and console errors of pages the `page_error_guard` of conftest.py does not see (pages of
    other contexts and second tabs)."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))
        page.on("console", lambda msg: self.errors.append(f"{page.url}: console {msg.text}")
                if msg.type == "error" else None)
        page.on("crash", lambda _: self.errors.append(f"{page.url}: the page crashed (its renderer process ended)"))
        return page

    def check(self) -> None:
        assert self.errors == [], self.errors


def tag() -> str:
    """A query string that makes a page's URL unique to this test (events are told apart by page_url)."""
    return f"?j={uuid.uuid4().hex[:10]}"


def wait_page_clock(page: Page, ms: float, timeout: float = 30.0) -> float:
    """Wait until the page's own clock (`performance.now()`, from its navigation start) reaches `ms`; answer
    the reading. Polled from here: no string predicate in the page (its CSP allows no eval)."""
    return float(poll(lambda: page.evaluate("performance.now()"), lambda now: now >= ms, timeout,
                      lambda now: f"the page's clock to reach {ms} ms; last {now}",
                      pause=lambda: time.sleep(0.005)))


def wait_gate_waiting(gate: Gate, at_least: int = 1, timeout: float = 30.0) -> int:
    """Wait until the gate holds at least `at_least` requests (the page asked for the runtime: load has passed)."""
    return poll(lambda: gate.waiting, lambda n: n >= at_least, timeout, lambda n: f"{at_least} held requests; {n}")


def ids(events: Iterable[dict[str, Any]]) -> set[str]:
    return {e["event_id"] for e in events}


def names(events: Iterable[dict[str, Any]]) -> Counter[str]:
    return Counter(e["name"] for e in events)


def of_page(events: Iterable[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """The events stored for one page URL (both collectors' items carry `page_url`)."""
    return [e for e in events if e["page_url"] == url]


def settle(store: StorePage, collector: Collector, client_id: str,
           timeout: float = 60.0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Let a live tracker page finish: adoption over, nothing pending or in flight; then a marker event tracked
    after that is stored at both collectors (what was sent before it has arrived). Answers every stored event
    of the client at Glood and at Genlook."""
    store.wait_status(lambda s: s["adopted"] and s["pending"] == 0 and s["in_flight"] == 0, timeout=timeout)
    marker = store.track("checkout_started", {"checkout": {"token": "settle-" + uuid.uuid4().hex}})
    assert marker
    store.flush()
    glood = collector.wait_for("glood", lambda ev: marker in ids(ev), timeout, client_id=client_id)
    genlook = collector.wait_for("genlook", lambda ev: marker in ids(ev), timeout, client_id=client_id)
    return glood, genlook


def stored(collector: Collector, *client_ids: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored event of these clients at Glood and at Genlook."""
    return ([e for c in client_ids for e in collector.events("glood", client_id=c)],
            [e for c in client_ids for e in collector.events("genlook", client_id=c)])


def _describe(e: dict[str, Any]) -> str:
    return f"{e['destination']} {e['name']} {e['event_id'][:8]} page={e['page_url']} deliveries={e['deliveries']}"


def assert_delivered_once(glood: list[dict[str, Any]], genlook: list[dict[str, Any]]) -> None:
    """Every stored event of the client arrived exactly once at each collector, and each Glood event is at Genlook
    and the other way round (every event goes to both)."""
    repeated = [_describe(e) for e in glood + genlook if e["deliveries"] != 1]
    assert repeated == [], "delivered more than once:\n" + "\n".join(repeated)
    assert ids(glood) == ids(genlook), (
        f"only at Glood: {[_describe(e) for e in glood if e['event_id'] not in ids(genlook)]}; "
        f"only at Genlook: {[_describe(e) for e in genlook if e['event_id'] not in ids(glood)]}")


def expect_at_both(glood: list[dict[str, Any]], genlook: list[dict[str, Any]], url: str,
                   expected: Counter[str] | dict[str, int], *, exact: bool = True) -> list[dict[str, Any]]:
    """Of the Glood events of page `url`, each name of `expected` was stored exactly (`exact`) or at least that many
    times (other names are not looked at), and each of the page's events is stored at Genlook too. Answers the
    page's Glood events."""
    page_events = of_page(glood, url)
    got = names(page_events)
    wrong = {n: (c, got[n]) for n, c in expected.items() if (got[n] != c if exact else got[n] < c)}
    assert wrong == {}, f"{url}: name: (expected, stored): {wrong}; all stored: {dict(got)}"
    missing = ids(page_events) - ids(genlook)
    assert missing == set(), f"{url}: not at Genlook: {[_describe(e) for e in page_events if e['event_id'] in missing]}"
    return page_events


def wait_for_page_events(collector: Collector, client_id: str, url: str, enough: Callable[[Counter[str]], bool],
                         timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until the Glood events of page `url` satisfy `enough(names)`."""
    return collector.wait_for("glood", lambda ev: enough(names(of_page(ev, url))), timeout, client_id=client_id)

"""E2E support: the live demo store (re-exported), a collector client, and a store page object."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from playwright.sync_api import Page

from demo_store.live import LiveServer

__all__ = ["LiveServer", "Collector", "StorePage", "poll"]

T = TypeVar("T")


def poll(read: Callable[[], T], predicate: Callable[[T], bool], timeout: float, what: Callable[[T], str],
         pause: Callable[[], None] = lambda: time.sleep(0.1)) -> T:
    """`read()` until `predicate` holds on what it returns; past `timeout` s fail saying `what(last)`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what(value)}")
        pause()


@dataclass
class Collector:
    """Reads what the demo store's stand-in collectors accepted."""

    base_url: str

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        with urllib.request.urlopen(f"{self.base_url}{path}?{query}", timeout=10) as response:
            return json.load(response)

    def events(self, destination: str, **filters: Any) -> list[dict[str, Any]]:
        """Stored events, oldest first."""
        return list(reversed(self._get("/_collector/events.json", destination=destination, limit=1000, **filters)))

    def stats(self) -> dict[str, Any]:
        return self._get("/_collector/stats.json")

    def fail(self, destination: str, times: int, *, status: int = 503, endpoint: str = "events",
             retry_after: int | None = None) -> None:
        """Make the next `times` requests to a stand-in answer `status` (0 = work again)."""
        body = json.dumps({"destination": destination, "endpoint": endpoint, "fail_next": times, "status": status,
                           "retry_after": retry_after}).encode()
        request = urllib.request.Request(f"{self.base_url}/_collector/faults", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["ok"] is True

    def wait_for_stats(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        """Poll the stats until `predicate(stats)` holds."""
        return poll(self.stats, predicate, timeout, lambda stats: f"collector stats; last {stats}")

    def wait_for(self, destination: str, predicate: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 30.0, **filters: Any) -> list[dict[str, Any]]:
        """Poll until `predicate(events)` holds; fails with what arrived when it never does."""
        return poll(lambda: self.events(destination, **filters), predicate, timeout,
                    lambda events: f"events at {destination}; received {[e['name'] for e in events]}")

    def wait_for_names(self, destination: str, names: list[str], timeout: float = 30.0,
                       **filters: Any) -> list[dict[str, Any]]:
        """Wait until every name in `names` arrived at least as many times as listed."""

        def enough(events: list[dict[str, Any]]) -> bool:
            got = [e["name"] for e in events]
            return all(got.count(n) >= names.count(n) for n in set(names))

        return self.wait_for(destination, enough, timeout, **filters)


class StorePage:
    """Intent-level actions on the demo store in one browser page."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/", *, wait_ready: bool = True) -> StorePage:
        self.page.goto(self.base_url + path)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60_000) -> None:
        """Wait for the readiness marker (a selector: the store's CSP allows no string evaluation)."""
        self.page.wait_for_selector("html[data-glood-tracker=ready], html[data-glood-tracker=error]",
                                    state="attached", timeout=timeout)
        assert self.page.evaluate("document.documentElement.dataset.gloodTracker") == "ready"

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        """Ask the tracker's status until `predicate(status)` holds (each answer comes from the worker)."""
        return poll(self.status, predicate, timeout, lambda status: f"the tracker's status; last {status}",
                    lambda: self.page.wait_for_timeout(50))

    def identity(self) -> dict[str, str]:
        raw = self.page.evaluate("localStorage.getItem('glood_tracker:identity')")
        return json.loads(raw)

    @property
    def client_id(self) -> str:
        return str(self.status()["client_id"])

    def track(self, name: str, data: Any = None, custom_data: Any = None) -> Any:
        return self.page.evaluate("([n, d, c]) => window.gloodTracker.track(n, d, c)", [name, data, custom_data])

    def flush(self) -> int:
        return self.page.evaluate("window.gloodTracker.flush()")

    def status(self) -> dict[str, Any]:
        """The tracker's own account (tab_id, pageview_id, consent, pending, in_flight, client_id, session_id,
        facts, stats), from the worker once it has judged every fact recorded before the call."""
        return self.page.evaluate("window.gloodTracker.status()")

    def stored_keys(self) -> list[str]:
        """The tracker's keys in localStorage, once the worker's writes up to now are applied."""
        return self.page.evaluate("""() => window.gloodTracker.status().then(() =>
            Object.keys(localStorage).filter(k => k.startsWith('glood_tracker:')).sort())""")

    def scroll_to(self, selector: str) -> None:
        self.page.locator(selector).scroll_into_view_if_needed()

    def scroll_top(self) -> None:
        self.page.evaluate("window.scrollTo(0, 0)")

    def click_recommended_product(self, section_selector: str, index: int = 0) -> None:
        self.page.locator(f"{section_selector} .glood-product a").nth(index).click()

    def use_cart_forms(self) -> StorePage:
        """The store's cart forms post and redirect (the theme's cart drawer off: `cart_ui=classic`, a cookie), as
        without JavaScript: for journeys that test a plain form post, judged by the page it lands on."""
        self.page.context.add_cookies([{"name": "cart_ui", "value": "classic", "url": self.base_url}])
        return self

    def add_recommended_to_cart(self, section_selector: str, index: int = 0) -> None:
        self.page.locator(f"{section_selector} [data-glood-add-to-cart]").nth(index).click()

    def hide_tab(self) -> None:
        """Headless Chromium never changes visibilityState; fake a tab switch."""
        self.page.evaluate("""() => {
            Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            Object.defineProperty(document, 'hidden', {value: true, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")

    def show_tab(self) -> None:
        self.page.evaluate("""() => {
            Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
            Object.defineProperty(document, 'hidden', {value: false, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")

"""The early start: once a page of this build was ready with consent, later pages start the tracker's worker at
DOMContentLoaded instead of after `load` (its runtime is in the HTTP cache by then); a first visit, like
Lighthouse's cold load, starts it after `load`. Each page's `load` is held by an image the test answers only when
it says so, so "before load" is certain, not a race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from .support import Collector, StorePage, poll

HELD = "/__held-image.gif"
WARM = "glood_tracker:warm"


class HeldLoad:
    """Every storefront document gets `<img src=HELD>` before `</body>`; the image is answered on `release()`."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page, self.base_url = page, base_url
        self.arrived = threading.Event()
        self._held: list[Route] = []
        page.route(base_url + "/**", self._route)

    def _route(self, route: Route) -> None:
        request = route.request
        if request.url.endswith(HELD):
            self._held.append(route)
            self.arrived.set()
            return
        if request.resource_type != "document":
            route.fallback()
            return
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace("</body>", f'<img src="{HELD}" alt=""></body>'))

    def wait_held(self) -> None:
        poll(lambda: self.arrived.is_set(), bool, 30, lambda _: "the held image's request")

    def release(self) -> None:
        held, self._held = self._held, []
        for route in held:
            route.fulfill(status=204)
        self.page.unroute(self.base_url + "/**")


@pytest.fixture
def held(page: Page, store: StorePage) -> Iterator[HeldLoad]:
    holder = HeldLoad(page, store.base_url)
    yield holder
    holder.release()


def timing(page: Page) -> dict[str, Any]:
    """The navigation's load start (0: not fired) and when relay.js was requested (None: not yet)."""
    return dict(page.evaluate("""() => {
        const relay = performance.getEntriesByType("resource")
            .find(entry => /\\/relay\\.[0-9a-f]+\\.js$/.test(entry.name));
        const load = performance.getEntriesByType("navigation")[0].loadEventStart;
        return {load, relay: relay ? relay.startTime : null};
    }"""))


def warm_mark(page: Page) -> str | None:
    value = page.evaluate(f"() => localStorage.getItem({WARM!r})")
    return str(value) if value is not None else None


def test_a_first_visit_starts_the_tracker_after_load(store: StorePage, held: HeldLoad, page: Page) -> None:
    """No earlier ready page: relay.js is requested only once `load` fired, however long load takes."""
    page.goto(store.base_url + "/", wait_until="domcontentloaded")
    held.wait_held()
    assert timing(page)["load"] == 0
    held.release()
    store.wait_ready()
    after = timing(page)
    assert after["load"] > 0 and after["relay"] is not None and after["relay"] >= after["load"]


def test_a_later_page_is_ready_before_its_load(store: StorePage, held: HeldLoad, page: Page,
                                                collector: Collector) -> None:
    """After a ready page with consent (the mark names this build's relay.js), the next page's tracker is ready
    while its `load` is still held, and its page view is delivered once."""
    held.release()
    store.open("/")
    relay = page.evaluate("() => JSON.parse(document.querySelector('script[data-runtime]').dataset.runtime).relay")
    poll(lambda: warm_mark(page), lambda mark: mark == relay, 30, lambda mark: f"the warm mark (now {mark!r})")

    later = HeldLoad(page, store.base_url)
    try:
        page.goto(store.base_url + "/collections/all", wait_until="domcontentloaded")
        later.wait_held()
        store.wait_ready()
        before_load = timing(page)
        assert before_load["load"] == 0 and before_load["relay"] is not None
        pageview = store.status()["pageview_id"]
    finally:
        later.release()
    events = collector.wait_for("genlook", lambda found: any(e["context"]["$pageview_id"] == pageview for e in found),
                                client_id=store.client_id)
    mine = [e for e in events if e["context"]["$pageview_id"] == pageview]
    assert "collection_page:page_view" in [e["name"] for e in mine] and all(e["deliveries"] == 1 for e in mine)


def test_another_build_or_no_consent_keeps_the_start_after_load(store: StorePage, held: HeldLoad,
                                                                page: Page) -> None:
    """A mark of another build's relay.js does not start early: relay.js waits for `load`."""
    held.release()
    store.open("/")
    poll(lambda: warm_mark(page), bool, 30, lambda mark: f"the warm mark (now {mark!r})")
    page.evaluate(f"() => localStorage.setItem({WARM!r}, '/dist/tracker/relay.000000000000.js')")
    later = HeldLoad(page, store.base_url)
    try:
        page.goto(store.base_url + "/collections/all", wait_until="domcontentloaded")
        later.wait_held()
        assert timing(page) == {"load": 0, "relay": None}
    finally:
        later.release()
    store.wait_ready()
    after = timing(page)
    assert after["relay"] is not None and after["relay"] >= after["load"] > 0

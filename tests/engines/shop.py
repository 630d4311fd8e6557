"""The demo store in any engine (`drivers.Engine`): intent-level actions, and what the collectors received."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e2e.support import Collector

from demo_store.live import Gate

from .drivers import Engine, wait_until

__all__ = ["Served", "Shop", "of_page", "tracks", "at_both", "ids", "cart_moves"]

#: How long each engine took to load a page and to get ready, and events to arrive (`-o log_cli=true` shows it).
log = logging.getLogger("engines")

PRODUCT = "/products/classic-oxford-shirt"
#: Python's start in WebKit takes 5-18 s on a quiet 2-core machine (tests/engines/README: other-engines notes).
READY_TIMEOUT = 120.0
#: Events reach the collectors within a flush interval (2 s) of being judged; generous for busy machines.
ARRIVAL_TIMEOUT = 120.0

# Resolves with the IntersectionObserver entry time (the page's clock) at which the element is at least half
# visible (half of the viewport when it is the larger): when the sensor's own observer has seen it too.
SEEN_AT = """(selector) => new Promise((resolve, reject) => {
    const el = document.querySelector(selector);
    if (!el) { reject(new Error('no element matches ' + selector)); return; }
    const io = new IntersectionObserver((entries) => {
        for (const e of entries) {
            const box = e.boundingClientRect, seen = e.intersectionRect;
            const enough = 0.5 * Math.min(box.width * box.height, innerWidth * innerHeight);
            if (e.isIntersecting && seen.width * seen.height >= enough) { io.disconnect(); resolve(e.time); }
        }
    }, {threshold: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]});
    io.observe(el);
    setTimeout(() => { io.disconnect(); reject(new Error(`${selector} not half visible (moved after the scroll?): ` +
        `${JSON.stringify(el.getBoundingClientRect())} in ${innerWidth}x${innerHeight}`)); }, 20000);
})"""


@dataclass
class Served:
    """The demo store on a free port behind a Gate (tests hold its runtime files back)."""

    url: str
    gate: Gate


class Shop:
    """The demo store in the engine's one page."""

    def __init__(self, engine: Engine, base_url: str) -> None:
        self.engine = engine
        self.base_url = base_url

    def open(self, path: str, *, wait_ready: bool = True) -> Shop:
        started = time.monotonic()
        self.engine.goto(self.base_url + path)
        log.info("%s: %s loaded in %.1f s", self.engine.name, path, time.monotonic() - started)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait for the tracker's readiness marker (or its error marker, then fail)."""
        started = time.monotonic()
        self.engine.wait_for_selector("html[data-glood-tracker=ready], html[data-glood-tracker=error]", timeout)
        state = self.engine.evaluate("() => document.documentElement.dataset.gloodTracker")
        assert state == "ready", f"{self.engine.name}: the tracker is {state!r} at {self.engine.url}"
        log.info("%s: ready %.1f s later (page's clock %.0f ms)", self.engine.name, time.monotonic() - started,
                 self.page_now())

    def tracker_state(self) -> str | None:
        """The page's `data-glood-tracker` marker (None: the tracker has not started or answered yet)."""
        state = self.engine.evaluate("() => document.documentElement.dataset.gloodTracker ?? null")
        return None if state is None else str(state)

    def status(self) -> dict[str, Any]:
        """The tracker's own account, from its worker (`gloodTracker.status()` returns a Promise)."""
        return dict(self.engine.evaluate("() => window.gloodTracker.status()"))

    def wait_sent(self, timeout: float = ARRIVAL_TIMEOUT) -> None:
        """Flush, then wait until the tracker has nothing queued and nothing in flight."""
        self.engine.evaluate("() => window.gloodTracker.flush()")
        wait_until(lambda: (lambda s: s["pending"] == 0 and s["in_flight"] == 0)(self.status()), timeout,
                   f"{self.engine.name}: the tracker's queue sent", pause=0.25)

    @property
    def client_id(self) -> str:
        return str(self.status()["client_id"])

    def section(self, element_id: str) -> dict[str, Any]:
        """A section as the DOM has it: its key, serve id and product ids."""
        return dict(self.engine.evaluate("""(id) => {
            const el = document.getElementById(id);
            return {section: el.dataset.gloodSection, serve: el.dataset.gloodServeId,
                    products: [...el.querySelectorAll('[data-glood-product-id]')].map(p => p.dataset.gloodProductId)};
        }""", element_id))

    def wait_sections_filled(self) -> None:
        """The late section (filled from the sections API after a delay) has its products: the layout above the
        fold's sections is final (it pushes the sections below it down)."""
        self.engine.wait_for_selector("#section-fbt [data-glood-product-id]")

    def scroll_and_see(self, selector: str) -> float:
        """Scroll the element into the middle of the viewport; the page's time (ms) at which it was seen at least
        half visible. Call wait_sections_filled first: the late section fills above the sections below the fold,
        and WebKit (no scroll anchoring seen here) then shows only a third of them."""
        self.engine.scroll_into_view(selector)
        return float(self.engine.evaluate(SEEN_AT, selector))

    def page_now(self) -> float:
        return float(self.engine.evaluate("() => performance.now()"))

    def wait_page_clock(self, at_least: float, timeout: float = 60.0) -> None:
        """Wait until the page's own clock (`performance.now()`, where the sensor stamps its facts) passes."""
        wait_until(lambda: self.page_now() >= at_least, timeout,
                   f"{self.engine.name}: the page's clock past {at_least:.0f} ms")

    def navigate_by_click(self, selector: str) -> None:
        """Click (a link, a form's button) and wait for the next document's load."""
        self.engine.navigate_by(lambda: self.engine.click(selector))

    def empty_cart(self) -> None:
        """Empty the visitor's cart from an untracked page of the store (the collector's), so that a cart journey
        starts from nothing whatever the session's earlier tests added."""
        self.engine.goto(self.base_url + "/_collector")
        assert self.engine.evaluate("() => fetch('/cart/clear.js', {method: 'POST'}).then(r => r.status)") == 200

    def drawer_count(self, expected: str) -> None:
        """Wait until the cart drawer shows `expected` (its first line's count, or "empty")."""
        wait_until(lambda: self.engine.evaluate("""() => {
            const drawer = document.getElementById('cart-drawer');
            if (!drawer || drawer.hidden) return null;
            const count = drawer.querySelector('.drawer-count');
            return count ? count.textContent : drawer.textContent.includes('Your cart is empty') ? 'empty' : null;
        }""") == expected, 60, f"{self.engine.name}: the cart drawer shows {expected}")


def cart_moves(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """The Glood cart events, sorted: (name, variant id, quantity)."""
    return sorted((e["name"], str(e["event"]["data"]["cartLine"]["merchandise"]["id"]),
                   e["event"]["data"]["cartLine"]["quantity"]) for e in events
                  if e["name"] in ("product_added_to_cart", "product_removed_from_cart"))


def of_page(events: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    return [e for e in events if e["page_url"] == url]


def tracks(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The `track` custom data of Glood's events named `name` (sections' events)."""
    return [e["event"]["customData"]["track"] for e in events if e["name"] == name]


def ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["event_id"] for e in events}


def at_both(collector: Collector, client_id: str, select: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
            done: Callable[[list[dict[str, Any]]], bool], timeout: float = ARRIVAL_TIMEOUT,
            what: str = "") -> list[dict[str, Any]]:
    """Wait until Glood's events `select`ed from the client's are `done`, then until Genlook has the same event ids
    (Genlook's `$insert_id` is Glood's `event.id`); Glood's selected events."""
    started = time.monotonic()
    glood = collector.wait_for("glood", lambda ev: done(select(ev)), timeout, client_id=client_id)
    chosen = select(glood)
    wanted = ids(chosen)
    try:
        collector.wait_for("genlook", lambda ev: wanted <= ids(ev), timeout, client_id=client_id)
    except AssertionError as exc:
        # (The collectors' counts say whether a request was refused, by the stand-in's overload control included.)
        raise AssertionError(f"{what}: Genlook lacks some of {sorted(e['name'] for e in chosen)}: {exc}; "
                             f"the collectors' stats: {collector.stats()}") from None
    log.info("%s at both collectors after %.1f s", what, time.monotonic() - started)
    return chosen


def assert_delivered_once(collector: Collector, client_id: str) -> None:
    """Every event of the visitor stored at either collector was delivered exactly once."""
    stored = collector.events("glood", client_id=client_id) + collector.events("genlook", client_id=client_id)
    assert stored, f"nothing stored for client {client_id}"
    twice = [(e["destination"], e["name"], e["page_url"], e["deliveries"]) for e in stored if e["deliveries"] != 1]
    assert twice == [], f"events delivered more than once: {twice}"

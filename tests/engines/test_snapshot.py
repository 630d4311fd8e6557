"""Python ready on return visits in Firefox ESR and WebKitGTK: the worker's memory snapshot (static/tracker/worker.mjs),
made after a first ready, is restored by the next page, whose events still arrive once at both collectors
(Chromium's cases, fallbacks included: tests/e2e/test_snapshot.py)."""

from __future__ import annotations

from typing import Any

from e2e.support import Collector

from .drivers import wait_until
from .shop import PRODUCT, Shop, assert_delivered_once, at_both

NEXT_PAGE = "/collections/all"


def _boot(shop: Shop) -> dict[str, Any]:
    boot = shop.status()["boot"]
    assert isinstance(boot, dict), boot
    return boot


def test_a_snapshot_is_made_then_restored_by_the_next_page(shop: Shop, collector: Collector) -> None:
    shop.open("/")
    boot = _boot(shop)
    if boot["snapshot"] != "restored":  # the engine's session is shared: an earlier test's page may have made it
        assert boot["snapshot"] in ("missing", "other-build"), f"the first page's boot: {boot}"
        boot = wait_until(lambda: (lambda b: b if b["made"] not in (None, "making") else None)(_boot(shop)), 240,
                          "the snapshot to be made")
        assert boot["made"] == "stored", f"the first page's boot: {boot}"
    shop.open(PRODUCT)
    boot = _boot(shop)
    assert boot["snapshot"] == "restored", f"the next page's boot: {boot}"
    url = shop.engine.url
    client_id = shop.client_id
    event_id = shop.engine.evaluate(
        "() => window.gloodTracker.track('checkout_started', {checkout: {token: 'engine-snapshot'}})")
    assert event_id
    at_both(collector, client_id, lambda ev: [e for e in ev if e["event_id"] == event_id
                                              or (e["name"] == "page_viewed" and e["page_url"] == url)],
            lambda chosen: len(chosen) >= 2, what=f"the tracked event and page_viewed of {url}")
    shop.wait_sent()
    assert_delivered_once(collector, client_id)

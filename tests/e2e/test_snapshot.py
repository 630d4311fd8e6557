"""Python ready on return visits: the worker's memory snapshot (static/tracker/worker.mjs), made after a first ready
and restored by later pages; every way it cannot be used boots Python the normal way, is counted in
status().boot, and loses no event."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from .support import Collector, LiveServer, StorePage

PRODUCT = "/products/classic-oxford-shirt"
CACHE = "glood-tracker-snapshot"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A context of its own per test: Cache Storage starts empty."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    yield context
    context.close()


@pytest.fixture
def shop(context: BrowserContext, store_server: LiveServer) -> StorePage:
    return StorePage(context.new_page(), store_server.url)


@pytest.fixture
def snapshot_guard(shop: StorePage) -> Iterator[list[str]]:
    """This module's pages are its own context's, not the `page` fixture's: the same guard as conftest's
    page_error_guard (no uncaught error, no console error) on them."""
    errors: list[str] = []
    shop.page.on("pageerror", lambda exc: errors.append(str(exc)))
    shop.page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield errors
    assert errors == [], f"page errors: {errors}"


def _boot(shop: StorePage) -> dict[str, Any]:
    boot = shop.status()["boot"]
    assert isinstance(boot, dict), boot
    return boot


def _made(shop: StorePage) -> dict[str, Any]:
    """Wait until this page's worker has made and stored the snapshot (it starts 1.5 s after ready)."""
    status = shop.wait_status(lambda s: s["boot"]["made"] not in (None, "making"), timeout=120)
    boot = status["boot"]
    assert boot["made"] == "stored", boot
    return boot


def _cache_keys(page: Page) -> list[str]:
    return page.evaluate(f"caches.open('{CACHE}').then((c) => c.keys()).then((k) => k.map((r) => r.url))")


def _track_and_deliver(shop: StorePage, collector: Collector, label: str) -> None:
    """An event tracked on this page and this page's page_viewed reach both collectors, exactly once each."""
    event_id = shop.track("checkout_started", {"checkout": {"token": label}})
    assert event_id
    shop.flush()
    client_id = shop.client_id
    url = shop.page.url
    for destination in ("glood", "genlook"):
        events = collector.wait_for(destination, lambda ev: any(e.get("event_id") == event_id for e in ev),
                                    client_id=client_id)
        ids = Counter(e["event_id"] for e in events)
        assert ids[event_id] == 1, (destination, ids[event_id])
        assert max(ids.values()) == 1, destination
    glood = collector.wait_for("glood", lambda ev: any(e["name"] == "page_viewed" and e["body"]["page_url"] == url
                                                       for e in ev), client_id=client_id)
    assert [e["name"] for e in glood if e["body"]["page_url"] == url].count("page_viewed") == 1


def test_snapshot_made_after_the_first_ready_is_restored_by_the_next_page(
        shop: StorePage, collector: Collector, snapshot_guard: list[str]) -> None:
    shop.open("/")
    first = _boot(shop)
    assert first["snapshot"] == "missing", first
    made = _made(shop)
    assert made["make"]["bytes"] > made["make"]["stored_bytes"] > 0, made
    assert len(_cache_keys(shop.page)) == 1
    shop.open(PRODUCT)
    second = shop.status()
    assert second["boot"]["snapshot"] == "restored", second["boot"]
    _track_and_deliver(shop, collector, "snapshot_restored")
    assert shop.status()["boot"]["made"] is None  # stored already: not made again
    # A third page restores too, with ids of its own (a restored heap is the snapshot's, not the last page's).
    shop.open("/collections/all")
    third = shop.status()
    assert third["boot"]["snapshot"] == "restored"
    assert third["pageview_id"] != second["pageview_id"] and third["tab_id"] != second["tab_id"]
    assert third["client_id"] == second["client_id"]


def test_snapshot_off_switch_neither_restores_nor_makes(shop: StorePage, collector: Collector,
                                                         snapshot_guard: list[str]) -> None:
    shop.page.context.add_init_script("localStorage.setItem('glood_tracker:snapshot', 'off')")
    shop.open("/")
    assert _boot(shop)["snapshot"] == "off"
    _track_and_deliver(shop, collector, "snapshot_off")
    assert _cache_keys(shop.page) == []


def _corrupt(page: Page, body: str, headers: dict[str, str]) -> None:
    """Replace the stored snapshot's bytes (same key) with `body`."""
    page.evaluate("""async ([cache, body, headers]) => {
        const c = await caches.open(cache);
        const [key] = await c.keys();
        await c.put(key, new Response(body, { headers }));
    }""", [CACHE, body, headers])


@pytest.mark.parametrize("how", ["not gzip", "gzip of other bytes", "wrong length"])
def test_a_corrupt_snapshot_boots_normally_and_is_made_again(shop: StorePage, collector: Collector,
                                                              snapshot_guard: list[str], how: str) -> None:
    shop.open("/")
    _made(shop)
    if how == "not gzip":
        _corrupt(shop.page, "not a snapshot", {"x-glood-bytes": "14"})
    else:
        # Valid gzip whose content is not a snapshot; or the right content announced with another length.
        shop.page.evaluate("""async ([cache, how]) => {
            const c = await caches.open(cache);
            const [key] = await c.keys();
            const stored = await c.match(key);
            const real = Number(stored.headers.get('x-glood-bytes'));
            const body = how === 'wrong length' ? await stored.blob()
                : await new Response(new Blob([new Uint8Array(real)]).stream()
                    .pipeThrough(new CompressionStream('gzip'))).blob();
            await c.put(key, new Response(body, { headers: { 'x-glood-bytes': String(how === 'wrong length'
                ? real + 16 : real) } }));
        }""", [CACHE, how])
    shop.open(PRODUCT)
    boot = _boot(shop)
    assert boot["snapshot"] == "corrupt", boot
    _track_and_deliver(shop, collector, "snapshot_corrupt")
    _made(shop)  # the bad entry was dropped, so this page makes a good one
    shop.open("/collections/all")
    assert _boot(shop)["snapshot"] == "restored"


def test_another_builds_snapshot_is_not_restored_and_is_replaced(shop: StorePage, collector: Collector,
                                                                  snapshot_guard: list[str]) -> None:
    shop.open("/")
    _made(shop)
    # The same snapshot under the key of another build (keys name the build's hashed runtime URLs).
    shop.page.evaluate("""async (cache) => {
        const c = await caches.open(cache);
        const [key] = await c.keys();
        const stored = await c.match(key);
        await c.delete(key);
        await c.put(key.url.replace('glood-tracker-snapshot/', 'glood-tracker-snapshot/other%20'), stored);
    }""", CACHE)
    shop.open(PRODUCT)
    boot = _boot(shop)
    assert boot["snapshot"] == "other-build", boot
    _track_and_deliver(shop, collector, "snapshot_other_build")
    _made(shop)
    keys = _cache_keys(shop.page)
    assert len(keys) == 1 and "other%20" not in keys[0], keys  # the other build's snapshot is gone


def test_storage_refused_boots_normally(shop: StorePage, collector: Collector, snapshot_guard: list[str]) -> None:
    """Cache Storage that refuses (as in private browsing, or site data blocked): caches.open throws in every
    worker (the page's and its maker), so Python boots and nothing is made."""
    shop.page.context.add_init_script("""
        if (self.caches) CacheStorage.prototype.open = function () {
            return Promise.reject(new DOMException('refused', 'SecurityError'));
        };""")
    def refuse(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=REFUSE_IN_WORKER + response.text())

    shop.page.context.route("**/worker.*.mjs", refuse)
    shop.open("/")
    boot = _boot(shop)
    assert boot["snapshot"] == "refused", boot
    boot = shop.wait_status(lambda s: s["boot"]["made"] not in (None, "making"), timeout=60)["boot"]
    assert boot["made"] == "refused", boot
    _track_and_deliver(shop, collector, "snapshot_refused")
    shop.open(PRODUCT)
    assert _boot(shop)["snapshot"] == "refused"


#: Prepended to the worker script (init scripts do not run in workers): Cache Storage refuses in the worker.
REFUSE_IN_WORKER = ("CacheStorage.prototype.open = function () { "
                    "return Promise.reject(new DOMException('refused', 'SecurityError')); };\n")


def test_no_snapshot_is_made_until_consent_is_granted(consent_store: StorePage) -> None:
    """A visitor who has not answered (require_consent) gets nothing of ours stored, not even the snapshot: the
    worker waits (`made` "consent"), and makes it once setConsent(true) grants consent."""
    consent_store.open("/")
    consent_store.wait_status(lambda s: s["boot"]["made"] == "consent")
    assert _cache_keys(consent_store.page) == []
    consent_store.page.evaluate("() => window.gloodTracker.setConsent(true)")
    boot = consent_store.wait_status(lambda s: s["boot"]["made"] not in (None, "consent", "making"),
                                     timeout=120)["boot"]
    assert boot["made"] == "stored", boot
    assert len(_cache_keys(consent_store.page)) == 1

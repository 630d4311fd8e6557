"""The inspector (docs/inspector.md) in Chromium: with `?glood_inspect=1` its badges and timeline match what the
collectors stored for the page; without it, not one byte of it is requested."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request

from tracker.core.protocol import validate

from .support import Collector, StorePage, poll

#: Python under PyScript boots after the page's tracker, on 2 shared cores: generous, it is a wait for a marker.
READY_MS = 180_000
READY = '#glood-inspector[data-state="ready"]'
SECTIONS = ("section-similar", "section-fbt", "section-below")


def _inspector_request(url: str) -> bool:
    """A request only the inspector makes: its files, PyScript, or what PyScript's Pyodide loads by name."""
    path = url.split("?", 1)[0]
    return ("/dist/inspector/" in path or "pyscript" in path or path.endswith("/pyodide-lock.json")
            or path.endswith("/python_stdlib.zip") or "/micropip-" in path or "/packaging-" in path)


@pytest.fixture
def requests_seen(page: Page) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(request.url)

    page.on("request", record)
    yield seen
    page.remove_listener("request", record)


def _product_path(store: StorePage) -> str:
    store.open("/collections/all")
    href = store.page.locator("a[href^='/products/']").first.get_attribute("href")
    assert href and href.startswith("/products/")
    return href


def _serve_id(store: StorePage, element_id: str) -> str:
    return str(store.page.get_attribute(f"#{element_id}", "data-glood-serve-id"))


def _timeline_ids(store: StorePage) -> dict[str, str]:
    """Event id → the row's text, for every event row."""
    return store.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#glood-inspector [data-event-id][data-kind="event"]')]
        .map(r => [r.dataset.eventId, r.querySelector('.gi-text').textContent]))""")


def test_without_the_flag_nothing_of_the_inspector_is_fetched(store: StorePage, collector: Collector,
                                                              requests_seen: list[str]) -> None:
    store.open(_product_path(store))
    collector.wait_for("glood", lambda ev: any(e["name"] == "glood:section:render" for e in ev),
                       client_id=store.client_id)
    store.flush()
    assert any("/dist/tracker/" in url for url in requests_seen)  # the tracker itself did load
    assert [url for url in requests_seen if _inspector_request(url)] == []
    assert store.page.locator("#glood-inspector").count() == 0
    assert store.page.evaluate("sessionStorage.getItem('glood_inspect')") is None


def test_with_the_flag_badges_and_timeline_match_the_collectors(store: StorePage, collector: Collector,
                                                                requests_seen: list[str]) -> None:
    path = _product_path(store)
    store.open(path + "?glood_inspect=1")
    store.page.wait_for_selector(READY, state="attached", timeout=READY_MS)
    assert any("pyscript" in url for url in requests_seen)
    client = store.client_id
    serve = {name: _serve_id(store, name) for name in SECTIONS}
    # The section in view at load is viewed (1 s on screen), the one below the fold is not.
    events = collector.wait_for("glood", lambda ev: {
        e["event"]["customData"]["track"].get("sectionServeId") for e in ev if e["name"] == "glood:section:view"
    } >= {serve["section-similar"]} and sum(e["name"] == "glood:section:render" for e in ev) >= 3, client_id=client)
    views = {e["event"]["customData"]["track"].get("sectionServeId")
             for e in events if e["name"] == "glood:section:view"}
    store.page.wait_for_selector(f'.gi-badge[data-serve-id="{serve["section-similar"]}"][data-viewable="true"]',
                                 timeout=30_000)
    for name in SECTIONS:
        badge = store.page.locator(f'.gi-badge[data-serve-id="{serve[name]}"]')
        assert badge.count() == 1, name
        assert badge.get_attribute("data-viewable") == ("true" if serve[name] in views else "false"), name
        assert badge.get_attribute("data-rendered") == "true", name
    assert serve["section-below"] not in views
    # Every event the collectors stored for this page is a timeline row, under its name; nothing else was judged.
    stored = [e for e in collector.wait_for("glood", lambda ev: len(ev) >= len(events), client_id=client)
              if urlsplit(e["page_url"]).path == path]  # not the collection page opened first
    rows = poll(lambda: _timeline_ids(store), lambda r: set(r) >= {e["event_id"] for e in stored}, 30,
                lambda r: f"timeline rows for {sorted(e['event_id'] for e in stored)}; have {r}")
    for event in stored:
        assert rows[event["event_id"]].startswith(event["name"]), (event, rows[event["event_id"]])
    # ... and every event the inspector shows as judged reached both collectors.
    store.flush()
    shown = set(_timeline_ids(store))
    collector.wait_for("glood", lambda ev: {e["event_id"] for e in ev} >= shown, client_id=client)
    collector.wait_for("genlook", lambda ev: {e["event_id"] for e in ev} >= shown, client_id=client)
    delivered = store.page.locator(f'[data-event-id="{stored[0]["event_id"]}"] .gi-delivery').text_content() or ""
    assert "glood: sent by beacon" in delivered, delivered
    assert store.page.locator("#glood-inspector [data-event-id].gi-error").count() == 0  # every body checked clean
    # The ids are the tracker's own.
    status = store.status()
    ids = store.page.locator("#glood-inspector .gi-ids").first.text_content() or ""
    assert status["client_id"] in ids and status["pageview_id"] in ids
    # Every debug message the page received is as tracker/core/protocol.py defines it.
    messages = [json.loads(text) for text in store.page.evaluate("window.gloodInspector.log")]
    assert [p for m in messages for p in validate(m, "to_page")] == []
    assert {m["k"] for m in messages} >= {"boot", "fact", "event", "body", "outcome", "state"}
    # Clicking an event highlights its element.
    view_row = next(e["event_id"] for e in events if e["name"] == "glood:section:view")
    store.page.locator(f'#glood-inspector [data-event-id="{view_row}"]').click()
    assert store.page.locator("#section-similar.gi-highlight").count() == 1
    # Remembered for the tab: the next page has it without the flag; `?glood_inspect=0` turns it off.
    store.open("/")
    store.page.wait_for_selector(READY, state="attached", timeout=READY_MS)
    requests_seen.clear()
    store.open("/?glood_inspect=0")
    store.flush()
    assert [url for url in requests_seen if _inspector_request(url)] == []
    assert store.page.locator("#glood-inspector").count() == 0


def test_headless_route_change_starts_a_new_timeline(store: StorePage, collector: Collector) -> None:
    store.open("/headless/?glood_inspect=1")
    store.page.wait_for_selector(READY, state="attached", timeout=READY_MS)
    first = store.status()["pageview_id"]
    store.page.locator("a[href^='/headless/products/']").first.click()
    second = store.wait_status(lambda s: s["pageview_id"] != first)["pageview_id"]
    events = collector.wait_for("glood", lambda ev: any(e["name"] == "product_viewed" for e in ev),
                                client_id=store.client_id)
    product_viewed = next(e["event_id"] for e in events if e["name"] == "product_viewed")
    row = store.page.locator(f'#glood-inspector [data-event-id="{product_viewed}"]')
    row.wait_for(state="attached", timeout=30_000)
    assert row.get_attribute("data-pv") == second
    old = store.page.locator(f'#glood-inspector .gi-row[data-pv="{first}"]')
    assert old.count() > 0 and all(old.nth(i).is_hidden() for i in range(old.count()))

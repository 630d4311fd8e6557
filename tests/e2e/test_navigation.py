"""Client-side navigation (History API) on a page that is already tracked: one page view per route."""

from __future__ import annotations

from .support import Collector, StorePage

ROUTE = """([path, page]) => {
    document.getElementById('glood-page').textContent = JSON.stringify(page);
    for (const s of document.querySelectorAll('[data-glood-section]')) s.remove();
    history.pushState({}, '', path);
    const s = document.createElement('section');
    s.setAttribute('data-glood-section', 'spa-' + path.length);
    s.setAttribute('data-glood-serve-id', 'serve-' + path);
    s.innerHTML = '<div data-glood-product-id="99"><a href="#">x</a></div>';
    document.querySelector('main').prepend(s);
}"""


def test_route_changes_are_page_views_with_their_own_url_type_and_sections(store: StorePage,
                                                                            collector: Collector) -> None:
    """Two pushState routes give two more page_viewed (right URL, type, distinct pageview ids) and renders of
    the new sections; a hash-only change and a replaceState to the same URL give none; removed sections
    are never viewed."""
    store.open("/")
    client_id = store.client_id
    base = store.base_url
    first = store.status()["pageview_id"]
    removed = store.page.evaluate(
        "[...document.querySelectorAll('[data-glood-section]')].map(s => s.dataset.gloodSection)")
    store.page.evaluate(ROUTE, ["/collections/all?spa=1", {"page_type": "collection", "collection": {"id": "7"}}])
    store.page.evaluate(ROUTE, ["/products/spa-shirt", {"page_type": "product", "product": {"id": "42"}}])
    store.page.evaluate("history.pushState({}, '', location.pathname + '#reviews')")
    store.page.evaluate("history.replaceState({}, '', location.href)")
    second = store.status()["pageview_id"]
    assert second != first
    def spa_render(ev: dict) -> bool:
        return ev["name"] == "glood:section:render" and ev["body"]["page_url"] == base + "/products/spa-shirt"

    # Each event is its own request: wait for all of them, not just the first few.
    glood = collector.wait_for("glood", lambda ev: len([e for e in ev if e["name"] == "page_viewed"]) >= 3
                               and any(e["name"] == "product_viewed" for e in ev) and any(spa_render(e) for e in ev),
                               client_id=client_id)
    views = sorted((e["body"]["page_url"], e["body"]["page_type"]) for e in glood if e["name"] == "page_viewed")
    assert views == [(base + "/", "home"), (base + "/collections/all?spa=1", "collection"),
                     (base + "/products/spa-shirt", "product")]
    assert [e["event"]["data"]["product"]["id"] for e in glood if e["name"] == "product_viewed"] == ["42"]
    genlook = collector.wait_for("genlook", lambda ev: len([e for e in ev if e["name"].endswith(":page_view")]) == 3,
                                 client_id=client_id)
    assert len({e["context"]["$pageview_id"] for e in genlook if e["name"].endswith(":page_view")}) == 3
    renders = [(e["body"]["page_url"], e["event"]["customData"]["track"]["section"])
               for e in glood if e["name"] == "glood:section:render"]
    assert (base + "/products/spa-shirt", "spa-19") in renders
    store.flush()
    late = [e for e in collector.events("glood", client_id=client_id) if e["name"] == "glood:section:view"
            and e["body"]["page_url"] != base + "/" and e["event"]["customData"]["track"]["section"] in removed]
    assert late == []

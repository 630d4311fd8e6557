"""The fact judge: DOM facts recorded by the sensor, turned into events exactly as live or replayed."""

from __future__ import annotations

from typing import Any

import pytest

from tracker.core.facts import (
    PAGE_DATA_GRACE_MS,
    Emit,
    FactError,
    PageBoot,
    PageJudge,
    is_new_pageview,
    section_from_dataset,
    stable_id,
    visible_share,
)

T0 = 1_776_000_000_000.0
PRODUCT_PAGE = '{"page_type": "product", "product": {"id": "11", "variant_id": "12"}}'
DATASET = {"gloodSection": "91740", "gloodServeId": "serve-1", "gloodRequestId": "req-1",
           "gloodRecommendationType": "similar_products", "gloodParentProductId": "11", "gloodParentVariantId": ""}


def boot(page_json: str | None = PRODUCT_PAGE, *, visible: bool = True) -> PageBoot:
    return PageBoot("page-1", "pv-1", T0, url="https://shop.example/products/x", referrer="", title="X",
                    viewport_width=1280, viewport_height=720, user_agent="UA", visible=visible, page_json=page_json)


class Facts:
    """A sensor double: numbered, timestamped facts relative to the page's time origin."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, at_ms: float, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"s": self.seq, "t": T0 + at_ms, "k": kind, **fields}


def section(f: Facts, at: float, key: int = 1, **attrs: str) -> dict[str, Any]:
    return f(at, "sec", i=key, a={**DATASET, **attrs}, p=[["21", "22"], ["31", None]])


def io(f: Facts, at: float, share: float, key: int = 1) -> dict[str, Any]:
    return f(at, "io", i=key, r=[share * 100.0, 100.0, 1000.0])


def judge_all(judge: PageJudge, facts: list[dict[str, Any]], end_ms: float | None = None) -> list[Emit]:
    out = [e for fact in facts for e in judge.apply(fact)]
    if end_ms is not None:
        out += judge.due(T0 + end_ms)
    return out


def names(emits: list[Emit]) -> list[str]:
    return [e.name for e in emits]


def test_page_events_at_the_time_origin_with_stable_ids():
    """start() gives page_viewed and product_viewed stamped at t0, once, with ids derived from the pageview."""
    judge = PageJudge(boot())
    first = judge.start()
    assert names(first) == ["page_viewed", "product_viewed"]
    assert {e.timestamp_ms for e in first} == {int(T0)}
    assert first[0].id == stable_id("pv-1", "page_viewed")
    assert first[1].data == {"product": {"id": "11", "variant_id": "12"}}
    assert judge.start() == []
    assert [e.id for e in PageJudge(boot()).start()] == [e.id for e in first]


def test_invalid_page_json_is_an_other_page_with_a_problem():
    """A broken #glood-page reads as 'other' and says why."""
    judge = PageJudge(boot("{nope"))
    assert judge.page.page_type == "other" and "not valid JSON" in judge.problems[0]


def test_render_carries_the_section_track():
    """A section fact renders once with its dataset, products and parent."""
    f = Facts()
    judge = PageJudge(boot())
    (render,) = judge.apply(section(f, 10))
    assert render.name == "glood:section:render" and render.timestamp_ms == int(T0 + 10)
    assert render.custom["track"] == {
        "section": "91740", "parent": {"productId": "11", "variantId": None},
        "products": [{"productId": "21", "variantId": "22", "quantity": 1},
                     {"productId": "31", "variantId": None, "quantity": 1}],
        "requestId": "req-1", "sectionServeId": "serve-1", "recommendationType": "similar_products"}
    assert judge.apply(section(f, 20)) == []


@pytest.mark.parametrize("visible, element, root, expected", [
    (50, 100, 1000, 0.5), (500, 4000, 1000, 0.5), (0, 0, 1000, 0.0), (80, 100, 0, 0.8), (150, 100, 1000, 1.0)])
def test_visible_share_of_element_or_viewport(visible, element, root, expected):
    """The share is of the element, or of the viewport when the element is larger (0 root: unknown)."""
    assert visible_share(visible, element, root) == pytest.approx(expected)


def test_view_needs_one_continuous_second_and_is_stamped_when_met():
    """50% for 1 s makes one view stamped at start + 1 s, even when judged much later."""
    f = Facts()
    judge = PageJudge(boot())
    emits = judge_all(judge, [section(f, 0), io(f, 100, 0.6)], end_ms=5000)
    (view,) = [e for e in emits if e.name == "glood:section:view"]
    assert view.timestamp_ms == int(T0 + 1100) and view.id == stable_id("pv-1", "1/view")
    assert judge.due(T0 + 9000) == []


def test_interrupted_visibility_is_not_a_view():
    """Visible 0.9 s, away, visible 0.9 s again: no view (the second run restarts the clock)."""
    f = Facts()
    judge = PageJudge(boot())
    facts = [section(f, 0), io(f, 100, 0.9), io(f, 1000, 0.2), io(f, 1200, 0.7), io(f, 2100, 0.0)]
    assert "glood:section:view" not in names(judge_all(judge, facts, end_ms=10_000))


def test_hidden_tab_pauses_the_rule():
    """While the page is hidden nothing counts; the second starts when it is visible again."""
    f = Facts()
    judge = PageJudge(boot(visible=False))
    facts = [section(f, 0), io(f, 10, 1.0), f(3000, "vis", v=True)]
    emits = judge_all(judge, facts, end_ms=3999)
    assert "glood:section:view" not in names(emits)
    (view,) = judge.due(T0 + 4000)
    assert view.timestamp_ms == int(T0 + 4000)


def test_removed_section_is_never_viewed():
    """A section gone before its second is forgotten: no view, later facts about it ignored."""
    f = Facts()
    judge = PageJudge(boot())
    facts = [section(f, 0), io(f, 10, 1.0), f(500, "gone", i=1), io(f, 600, 1.0, key=1)]
    assert names(judge_all(judge, facts, end_ms=5000)) == ["glood:section:render"]


def test_click_and_add_to_cart_name_the_product_acted_on():
    """Clicks and section adds narrow products to the one acted on; an add anywhere is product_added_to_cart."""
    f = Facts()
    judge = PageJudge(boot())
    emits = judge_all(judge, [section(f, 0), f(50, "click", i=1, p=["31", None], b=1),
                              f(60, "add", i=1, p=["21", "22"], v="23", q="2"),
                              f(70, "add", i=0, p=["11", "12"], v="12", q=None)])
    assert names(emits) == ["glood:section:render", "glood:section:click", "glood:section:add_to_cart",
                            "product_added_to_cart", "product_added_to_cart"]
    assert emits[1].custom["track"]["products"] == [{"productId": "31", "variantId": None, "quantity": 1}]
    assert emits[2].custom["track"]["products"] == [{"productId": "21", "variantId": "23", "quantity": 2}]
    assert emits[3].data == {"cartLine": {"merchandise": {"id": "23", "product": {"id": "21"}}, "quantity": 2}}
    assert emits[4].data["cartLine"]["quantity"] == 1
    assert len({e.id for e in emits}) == len(emits)


def test_cart_change_to_zero_removes_the_named_line():
    """A /cart/change to 0 of line 2 is product_removed_from_cart for that line; other changes are nothing."""
    cart = '{"page_type": "cart", "cart": {"lines": [{"variant_id": 1, "product_id": 2, "quantity": 1}, ' \
           '{"variant_id": 3, "product_id": 4, "quantity": 5}]}}'
    f = Facts()
    judge = PageJudge(boot(cart))
    (removed,) = judge_all(judge, [f(10, "chg", l="2", q="0"), f(20, "chg", l="1", q="3")])
    assert removed.data == {"cartLine": {"merchandise": {"id": "3", "product": {"id": "4"}}, "quantity": 5}}


def test_back_forward_restore_is_a_new_pageview_that_renders_again():
    """A show fact: new pageview id, page events at that time, sections rendered again and views re-armed."""
    f = Facts()
    judge = PageJudge(boot())
    judge.start()
    judge_all(judge, [section(f, 0), io(f, 10, 1.0)], end_ms=2000)
    emits = judge.apply(f(60_000, "show", pv="pv-2"))
    assert names(emits) == ["page_viewed", "product_viewed", "glood:section:render"]
    assert judge.page.pageview_id == "pv-2" and emits[0].timestamp_ms == int(T0 + 60_000)
    assert emits[0].id == stable_id("pv-2", "page_viewed")
    assert names(judge_all(judge, [io(f, 60_100, 1.0)], end_ms=61_200)) == ["glood:section:view"]


def test_a_snapshot_restored_elsewhere_judges_the_rest_identically():
    """Judging facts 1..n live equals judging 1..k, snapshotting, and judging k+1..n from the snapshot."""
    f = Facts()
    facts = [section(f, 0), io(f, 100, 0.8), section(f, 200, key=2, gloodSection="2"), io(f, 700, 0.9, key=2),
             f(900, "click", i=2, p=["21", "22"]), io(f, 1500, 0.0, key=2)]
    live = PageJudge(boot())
    expected = live.start() + judge_all(live, facts, end_ms=4000)
    first = PageJudge(boot())
    part = first.start() + judge_all(first, facts[:3])
    later = PageJudge.restore(boot(), first.snapshot(), ratio=0.5, duration_ms=1000)
    part += later.start() + judge_all(later, facts[3:], end_ms=4000)
    assert [(e.name, e.id, e.timestamp_ms) for e in part] == [(e.name, e.id, e.timestamp_ms) for e in expected]


@pytest.mark.parametrize("fact", [{"k": "io", "t": 1.0}, {"s": 1, "t": "x", "k": "io"},
                                  {"s": 1, "t": 1, "k": "what"}, {"s": 1, "t": 1, "k": "io", "i": 1, "r": [1]},
                                  {"s": 1, "t": 1, "k": "click", "i": "1"}])
def test_malformed_facts_are_refused(fact):
    """Facts without a number, time, known kind or well-formed fields raise FactError."""
    with pytest.raises(FactError):
        PageJudge(boot()).apply(fact)


def test_boot_record_must_name_page_pageview_and_time():
    """A boot record without ids or a numeric t0 is refused."""
    with pytest.raises(FactError):
        PageBoot.from_message({"page": "p", "pv": "", "t0": 1})
    assert PageBoot.from_message({"page": "p", "pv": "v", "t0": 5, "vw": True}).viewport_width is None


def test_section_from_dataset_ignores_what_is_not_a_product():
    """Products without an id are left out; empty attributes are null."""
    track = section_from_dataset({"gloodSection": "1", "gloodServeId": ""}, [["", "x"], "bad", ["5"]])
    assert track.section_serve_id is None and [p.product_id for p in track.products] == ["5"]


@pytest.mark.parametrize("current, new, expected", [
    ("https://s.example/a", "https://s.example/b", True),
    ("https://s.example/a", "https://s.example/a?page=2", True),
    ("https://s.example/a", "https://s.example/a#reviews", False),
    ("https://s.example/a#x", "https://s.example/a#y", False),
    ("https://s.example/a", "https://s.example/a", False),
])
def test_what_counts_as_a_new_pageview(current, new, expected):
    """A new path or query is a new page view; a hash-only or same-URL change is not."""
    assert is_new_pageview(current, new) is expected


def test_client_side_navigation_is_a_new_pageview_with_the_apps_page_data():
    """A URL fact starts a pageview whose page events wait for the app's page data, then carry the new route's
    URL, type and referrer; sections removed with the old route are gone, new ones render under the new view."""
    f = Facts()
    judge = PageJudge(boot())
    judge.start()
    judge_all(judge, [section(f, 0)])
    first_pv = judge.pageview_id
    emits = judge_all(judge, [f(100, "gone", i=1), f(5000, "url", url="https://shop.example/collections/all#top",
                                                      title="All", pd=PRODUCT_PAGE)])
    assert emits == [] and judge.pageview_id != first_pv
    emits = judge_all(judge, [f(5100, "pd", pd='{"page_type": "collection", "collection": {"id": "7"}}'),
                              section(f, 5200, key=2, gloodSection="2")])
    assert names(emits) == ["page_viewed", "collection_viewed", "glood:section:render"]
    page_viewed = emits[0]
    assert page_viewed.timestamp_ms == int(T0 + 5000) and page_viewed.id == stable_id(judge.pageview_id, "page_viewed")
    assert page_viewed.data["url"] == "https://shop.example/collections/all#top"
    assert page_viewed.data["referrer"] == "https://shop.example/products/x" and judge.page.page_type == "collection"
    assert judge_all(judge, [f(5300, "url", url="https://shop.example/collections/all#reviews")]) == []


def test_navigation_without_new_page_data_goes_after_the_grace_period():
    """With no page data from the app, the page events go PAGE_DATA_GRACE_MS after the navigation, stamped
    with the navigation's time."""
    f = Facts()
    judge = PageJudge(boot())
    judge.start()
    judge_all(judge, [f(1000, "url", url="https://shop.example/pages/about")])
    assert judge.next_deadline() == T0 + 1000 + PAGE_DATA_GRACE_MS
    assert judge.due(T0 + 1000 + PAGE_DATA_GRACE_MS - 1) == []
    emits = judge.due(T0 + 1000 + PAGE_DATA_GRACE_MS)
    assert names(emits) == ["page_viewed", "product_viewed"] and emits[0].timestamp_ms == int(T0 + 1000)


def test_a_pending_navigation_survives_a_snapshot():
    """A navigation judged on one page and restored from its snapshot elsewhere emits the same page events."""
    f = Facts()
    live = PageJudge(boot())
    live.start()
    judge_all(live, [f(1000, "url", url="https://shop.example/cart", pd='{"page_type": "cart"}')])
    later = PageJudge.restore(boot(), live.snapshot(), ratio=0.5, duration_ms=1000)
    expected = [(e.name, e.id, e.timestamp_ms, e.data.get("url")) for e in live.due(T0 + 2000)]
    assert [(e.name, e.id, e.timestamp_ms, e.data.get("url")) for e in later.due(T0 + 2000)] == expected
    assert expected[0][3] == "https://shop.example/cart"


def test_old_route_sections_leaving_after_the_url_change_are_not_rendered_again():
    """A router that removes the old route's sections just after changing the URL: those are not rendered
    under the new page view; a layout section that stays is, once; sections of the new route that appear
    before its page data wait and then carry the new route's page type."""
    f = Facts()
    judge = PageJudge(boot())
    judge.start()
    judge_all(judge, [section(f, 0, key=1), section(f, 0, key=2, gloodSection="layout")])
    judge_all(judge, [f(1000, "url", url="https://shop.example/cart")])
    waiting = judge_all(judge, [f(1010, "gone", i=1), section(f, 1020, key=3, gloodSection="cart-upsell")])
    assert waiting == []
    emits = judge_all(judge, [f(1100, "pd", pd='{"page_type": "cart"}')])
    assert [(e.name, e.custom.get("track", {}).get("section")) for e in emits] == [
        ("page_viewed", None), ("cart_viewed", None), ("glood:section:render", "layout"),
        ("glood:section:render", "cart-upsell")]
    assert judge.page.page_type == "cart"

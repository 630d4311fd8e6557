"""Sections: `sec` facts at DOMContentLoaded and for sections added later, `gone` when they leave the DOM, `gone` +
`sec` when re-served, `io` facts from the IntersectionObserver (docs/design.md §6, the facts table)."""

from __future__ import annotations

from .lab import SensorLab, section

PARENT = 'data-glood-recommendation-type="similar_products" data-glood-parent-product-id="p0" ' \
         'data-glood-parent-variant-id="" data-glood-request-id="r-1" data-other="not ours"'


def test_sections_in_the_markup_are_found_at_domcontentloaded(lab: SensorLab) -> None:
    """Each section in DOM order: a key from 1, its data-glood* attributes as dataset names them (empty kept,
    others left out), its products [id, variant or null] in DOM order; made during DOMContentLoaded."""
    lab.open('<div data-glood-product-id="outside">not in a section</div>'
             + section("221939", "serve-1", [("p1", "v1"), ("p2", None)], attrs=PARENT)
             + section("221940", "serve-2", []))
    facts = lab.facts("sec")
    assert [(f["i"], f["a"], f["p"]) for f in facts] == [
        (1, {"gloodSection": "221939", "gloodServeId": "serve-1", "gloodRecommendationType": "similar_products",
             "gloodParentProductId": "p0", "gloodParentVariantId": "", "gloodRequestId": "r-1"},
         [["p1", "v1"], ["p2", None]]),
        (2, {"gloodSection": "221940", "gloodServeId": "serve-2"}, []),
    ]
    window = lab.page.evaluate("""() => {
        const n = performance.getEntriesByType('navigation')[0], t0 = performance.timeOrigin;
        return [t0 + n.domContentLoadedEventStart, t0 + n.domContentLoadedEventEnd];
    }""")
    assert all(window[0] - 1 <= f["t"] <= window[1] + 1 for f in facts), (window, facts)
    assert lab.sensor("sections.size") == 2


def test_a_section_added_later_then_removed(lab: SensorLab) -> None:
    """A section inserted inside a new subtree is a `sec` with the next key; removed, a `gone` for it, and the
    sensor no longer watches it."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]))
    lab.page.evaluate("""() => {
        const wrapper = document.createElement('div');
        wrapper.id = 'late';
        wrapper.innerHTML = '<section data-glood-section="late" data-glood-serve-id="serve-late">'
            + '<div data-glood-product-id="p9" data-glood-variant-id="v9"></div></section>';
        document.body.appendChild(wrapper);
    }""")
    facts = lab.wait_fact("f => f.k == 'sec' && f.i == 2")
    assert [f for f in facts if f["k"] == "sec" and f["i"] == 2][0]["a"] == {"gloodSection": "late",
                                                                            "gloodServeId": "serve-late"}
    assert [f["p"] for f in facts if f["k"] == "sec" and f["i"] == 2] == [[["p9", "v9"]]]
    lab.page.evaluate("document.getElementById('late').remove()")
    facts = lab.wait_fact("f => f.k == 'gone'")
    assert [f["i"] for f in facts if f["k"] == "gone"] == [2]
    assert lab.page.evaluate("() => [...window.__sensor.sections.keys()]") == [1]


def test_a_re_served_section_is_gone_then_a_new_sec(lab: SensorLab) -> None:
    """A new data-glood-serve-id on a watched section: `gone` for its key, then a `sec` under a new key with the
    new attributes and products."""
    lab.open(section("s1", "serve-1", [("p1", "v1")], element_id="s1"))
    lab.page.evaluate("""() => {
        const element = document.getElementById('s1');
        element.querySelector('[data-glood-product-id]').dataset.gloodProductId = 'p2';
        element.setAttribute('data-glood-serve-id', 'serve-2');
    }""")
    facts = lab.wait_fact("f => f.k == 'sec' && f.i == 2")
    tail = [f for f in facts if f["k"] in ("sec", "gone")]
    assert [(f["k"], f["i"]) for f in tail] == [("sec", 1), ("gone", 1), ("sec", 2)]
    assert tail[2]["a"]["gloodServeId"] == "serve-2" and tail[2]["p"] == [["p2", "v1"]]
    assert tail[2]["s"] == tail[1]["s"] + 1
    assert lab.page.evaluate("() => [...window.__sensor.sections.keys()]") == [2]


def test_io_facts_when_a_section_is_scrolled_into_view(lab: SensorLab) -> None:
    """A section below the fold: observed out of view first, then an `io` fact with [visible area, element area,
    viewport area] once scrolled into view, timed by the IntersectionObserver entry (the page's own observer of
    the section sees the same entry time)."""
    lab.open('<div style="height: 3000px"></div>'
             + section("below", "serve-1", [("p1", "v1")], element_id="below")
             + """<div style="height: 3000px"></div><script>
                 window.__entries = [];
                 new IntersectionObserver(entries => entries.forEach(entry => window.__entries.push(
                     [performance.timeOrigin + entry.time, entry.intersectionRatio])), {threshold: [0, 0.5, 1]})
                     .observe(document.getElementById('below'));
             </script>""")
    lab.wait_fact("f => f.k == 'io'")
    lab.page.locator("#below").scroll_into_view_if_needed()
    facts = lab.wait_fact("f => f.k == 'io' && f.r[0] > 0")
    lab.page.wait_for_function("() => window.__entries.some(([time, ratio]) => ratio > 0)")
    seen = [f for f in facts if f["k"] == "io" and f["r"][0] > 0][0]
    box = lab.page.evaluate("""() => { const r = document.getElementById('below').getBoundingClientRect();
        return [r.width * r.height, innerWidth * innerHeight] }""")
    assert seen["i"] == 1
    assert seen["r"] == [box[0], box[0], box[1]]  # the section fits in the viewport: all of it visible
    times = [time for time, ratio in lab.page.evaluate("window.__entries") if ratio > 0]
    assert any(abs(seen["t"] - time) < 0.01 for time in times), (seen["t"], times)
    first = [f for f in facts if f["k"] == "io"][0]
    assert first["r"][0] == 0 and first["s"] < seen["s"]

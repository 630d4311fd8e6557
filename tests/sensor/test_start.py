"""The page's start-up facts: captured as the page starts (the page context and title at DOMContentLoaded), and
never again when the page is left (docs/design.md §6, "The handover rule")."""

from __future__ import annotations

import json

from .lab import ORIGIN, RECORD_PREFIX, UUID, SensorLab, page_context

CONTEXT = {"page_type": "product", "product": {"id": "15441118822774"}}


def test_start_facts_are_captured_at_start_and_the_page_context_at_domcontentloaded(lab: SensorLab) -> None:
    """start holds the page id (this tab's, in sessionStorage), a new pageview id, t0 = the time origin, the URL,
    visibility, viewport and user agent of the start, and the #glood-page text and title as at DOMContentLoaded:
    a page context changed at load is not the start's (it is a `pd` fact)."""
    body = page_context(CONTEXT) + """<script>
        addEventListener('load', () => {
            document.getElementById('glood-page').textContent = JSON.stringify({page_type: 'cart'});
        });
    </script>"""
    lab.open(body, query="?utm=1#top")
    start = lab.sensor("start")
    page = lab.page.evaluate("""() => ({t0: performance.timeOrigin, ua: navigator.userAgent,
        vw: innerWidth, vh: innerHeight})""")
    assert start == {**start, "page": lab.page_id(), "t0": page["t0"], "url": ORIGIN + "/page.html?utm=1#top",
                     "ref": "", "title": "Sensor test", "vw": page["vw"], "vh": page["vh"], "ua": page["ua"],
                     "vis": True, "pd": json.dumps(CONTEXT)}
    assert set(start) == {"page", "pv", "t0", "url", "ref", "title", "vw", "vh", "ua", "vis", "pd"}
    assert UUID.match(start["page"]) and UUID.match(start["pv"]) and start["pv"] != start["page"]
    facts = lab.wait_fact("f => f.k == 'pd'")
    assert [f["pd"] for f in facts if f["k"] == "pd"] == ['{"page_type":"cart"}']


def test_without_a_page_context_pd_is_null(lab: SensorLab) -> None:
    """No #glood-page element: start.pd is null (not the text of something else)."""
    lab.open("<p>nothing here</p>")
    assert lab.sensor("start.pd") is None


def test_start_facts_do_not_follow_what_happens_later(lab: SensorLab) -> None:
    """The record written when the page is hidden carries the start as it was: vis true (it was visible), the
    first URL, title and page context, t0 = the time origin — not the state at leaving (the regression the
    handover rule fixed)."""
    lab.open(page_context(CONTEXT))
    start = lab.sensor("start")
    lab.page.evaluate("""() => {
        history.pushState({}, '', '/moved?x=2');
        document.title = 'Changed';
        document.getElementById('glood-page').textContent = '{"page_type": "cart"}';
    }""")
    lab.wait_fact("f => f.k == 'pd'")
    lab.hide()
    record = lab.record()
    assert record is not None
    assert record["boot"] == start
    assert record["boot"]["vis"] is True
    assert record["boot"]["url"] == ORIGIN + "/page.html"
    assert record["boot"]["t0"] == lab.page.evaluate("performance.timeOrigin")
    assert record["boot"]["pd"] == json.dumps(CONTEXT)
    assert [(f["k"], f.get("v", f.get("pd"))) for f in record["f"] if f["k"] in ("vis", "pd")] \
        == [("pd", '{"page_type": "cart"}'), ("vis", False)]
    assert lab.sensor("start") == start


def test_a_page_that_started_hidden_keeps_vis_false(lab: SensorLab) -> None:
    """A page opened in a background tab: start.vis is false, and stays false in the record even if the page
    was shown before it was left."""
    lab.page.add_init_script("""
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
    """)
    lab.open()
    assert lab.sensor("start.vis") is False
    lab.show()
    lab.hide()
    lab.pagehide()
    records = lab.records()
    assert list(records) == [RECORD_PREFIX + lab.page_id()]
    assert records[RECORD_PREFIX + lab.page_id()]["boot"]["vis"] is False

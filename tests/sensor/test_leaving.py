"""Leaving (pagehide, or hidden): one record, glood_tracker:facts:<page id>, keeps what the next page needs
(docs/design.md §6, "The handover rule"); with the worker's hold, its ledger; with nothing to hand over, none;
without consent, none."""

from __future__ import annotations

import json
import time

import pytest

from .lab import (
    NO_RELAY,
    ORIGIN,
    RECORD_PREFIX,
    RELAY,
    UUID,
    SensorLab,
    handover,
    hold,
    page_context,
    section,
    with_hold,
)

CONTEXT = {"page_type": "home"}


def test_pagehide_before_the_relay_writes_the_record(lab: SensorLab) -> None:
    """No relay yet: on pagehide the record holds v 1, boot = the start-up facts, every fact from the first
    (s = 1, 2, ...) to the last, quiet 0; no state, ledger or dup (nothing was judged or sent)."""
    lab.open(page_context(CONTEXT) + section("s1", "serve-1", [("p1", "v1")])
             + "<script>gloodTracker.track('early', {n: 1})</script>", relay=NO_RELAY)
    before = time.time() * 1000
    # (In one task: an IntersectionObserver fact may come between two.)
    page = lab.page.evaluate("""() => {
        const page = {t0: performance.timeOrigin, ua: navigator.userAgent, last: gloodTracker.track('last')};
        window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}));
        return page;
    }""")
    records = lab.records()
    assert list(records) == [RECORD_PREFIX + lab.page_id()]
    record = records[RECORD_PREFIX + lab.page_id()]
    boot = record["boot"]
    assert boot == {**boot, "page": lab.page_id(), "t0": page["t0"], "url": ORIGIN + "/page.html", "ref": "",
                    "title": "Sensor test", "vw": 1280, "vh": 720, "ua": page["ua"], "vis": True,
                    "pd": json.dumps(CONTEXT)}
    assert UUID.match(boot["pv"]) and boot["pv"] != boot["page"]
    assert {key: record.get(key) for key in ("v", "st", "x", "sent", "dup", "quiet")} \
        == {"v": 1, "st": None, "x": 0, "sent": None, "dup": None, "quiet": 0}
    assert before - 1 <= record["seen"] <= time.time() * 1000 + 1
    facts = record["f"]
    assert [f["s"] for f in facts] == list(range(1, len(facts) + 1))
    assert (facts[0]["k"], facts[0]["a"]) == ("call", '["early",{"n":1}]')
    assert [f["k"] for f in facts if f["k"] == "sec"] == ["sec"]
    assert (facts[-1]["k"], facts[-1]["e"]) == ("call", page["last"])


def test_navigating_away_writes_the_record(lab: SensorLab) -> None:
    """A real navigation to another page of the store: the record is in localStorage there, with the first
    page's start and its facts."""
    lab.open("<script>gloodTracker.track('before_leaving')</script>", relay=NO_RELAY)
    page_id = lab.page_id()
    lab.serve("/other.html", "<!doctype html><title>Other</title><p>no tracker here</p>")
    lab.page.goto(ORIGIN + "/other.html")
    records = lab.records()
    assert list(records) == [RECORD_PREFIX + page_id]
    record = records[RECORD_PREFIX + page_id]
    assert record["boot"]["url"] == ORIGIN + "/page.html" and record["boot"]["page"] == page_id
    assert [f["a"] for f in record["f"] if f["k"] == "call"] == ['["before_leaving"]']


def test_the_record_carries_the_ledger_of_the_hold(lab: SensorLab) -> None:
    """With the worker's hold and relay.js's onLeave: onLeave(true) is asked, the record carries its ledger and
    dup, and the hold's state. (What relay.js does on leaving, the backlog and `hide`: test_relay.py.)"""
    ledger = ["glood e-1", "genlook e-2"]
    lab.open(section("s1", "serve-1", [("p1", "v1")]), relay=RELAY + with_hold(
        hold(st={"judge": {"views": 1}}, fb=2), handover(all=True, sent=ledger, dup=3)))
    lab.pagehide()
    record = lab.record()
    assert record is not None
    assert (record["sent"], record["dup"], record["st"], record["quiet"]) == (ledger, 3, {"judge": {"views": 1}}, 0)
    assert [f["k"] for f in record["f"]][:1] == ["sec"]
    assert lab.page.evaluate("window.__leaves") == [True]


@pytest.mark.parametrize("everything_went", [True, False])
def test_nothing_to_hand_over(lab: SensorLab, everything_went: bool) -> None:
    """The hold judged every fact: when all of it went the record written on hiding is removed at pagehide
    instead of written again; when not, a record without facts is written (the backlog needs its ledger)."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]),
             relay=RELAY + with_hold(hold(all=everything_went), handover(all=everything_went)))
    lab.hide()
    assert lab.record() is not None
    assert lab.judge_all_and_leave() == 0
    record = lab.record()
    if everything_went:
        assert record is None
    else:
        assert record is not None and record["f"] == []


NO_CONSENT = {
    "require_consent, no setConsent": ("<script>window.gloodTrackerConfig = {require_consent: true}</script>", "",
                                       {}),
    "the runtime's rc, no setConsent": ("", "", {"rc": True}),
    "setConsent(false)": ("", "<script>gloodTracker.setConsent(false)</script>", {}),
    "require_consent, then setConsent(true), then setConsent(false)": (
        "<script>window.gloodTrackerConfig = {require_consent: true}</script>",
        "<script>gloodTracker.setConsent(true); gloodTracker.setConsent(false)</script>", {}),
    "GPC honoured": ("<script>Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
                     "</script>", "", {"gpc": True}),
    "Shopify's consent denied": ("<script>window.Shopify = {customerPrivacy: {analyticsProcessingAllowed: () => false,"
                                 " currentVisitorConsent: () => ({analytics: 'no'})}}</script>", "", {}),
    "Shopify's consent API not loaded yet": ("<script>window.Shopify = {}</script>", "", {}),
}


@pytest.mark.parametrize("case", NO_CONSENT)
def test_no_record_without_consent(lab: SensorLab, case: str) -> None:
    """Consent pending (require_consent without setConsent(true), Shopify's API not loaded), denied (setConsent,
    Shopify's), or GPC honoured: nothing is written, on hiding or on pagehide."""
    before, body, runtime = NO_CONSENT[case]
    lab.open(section("s1", "serve-1", [("p1", "v1")]) + body, before=before, runtime=runtime, relay=NO_RELAY)
    lab.hide()
    lab.pagehide()
    assert lab.records() == {}


CONSENT = {
    "require_consent, setConsent(true)": ("<script>window.gloodTrackerConfig = {require_consent: true}</script>",
                                          "<script>gloodTracker.setConsent(true)</script>", {}),
    "GPC not honoured by the config": (
        "<script>Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})</script>",
        "", {"gpc": False}),
    "Shopify's consent granted, with require_consent": (
        "<script>window.gloodTrackerConfig = {require_consent: true}; window.Shopify = {customerPrivacy: "
        "{analyticsProcessingAllowed: () => true, currentVisitorConsent: () => ({analytics: 'yes'})}}</script>",
        "", {}),
}


@pytest.mark.parametrize("case", CONSENT)
def test_a_record_with_consent(lab: SensorLab, case: str) -> None:
    """The counterparts: consent given after require_consent (by setConsent or Shopify), or GPC set but not
    honoured: the record is written."""
    before, body, runtime = CONSENT[case]
    lab.open(body, before=before, runtime=runtime, relay=NO_RELAY)
    lab.pagehide()
    assert list(lab.records()) == [RECORD_PREFIX + lab.page_id()]


def test_the_holds_consent_decides_once_there_is_a_hold(lab: SensorLab) -> None:
    """With a hold whose consent is denied, nothing is written and onLeave is not asked (nothing is sent)."""
    lab.open(relay=RELAY + with_hold(hold(c="denied"), handover()))
    lab.pagehide()
    assert lab.records() == {}
    assert lab.page.evaluate("window.__leaves") == []


def test_keep_writes_the_record_again_with_the_ledger(lab: SensorLab) -> None:
    """Hidden with a record kept, relay.js sent more and calls keep(): onLeave(false) is asked (nothing sent now)
    and the record is written again with its ledger and the facts made since."""
    lab.open(relay=RELAY + with_hold(hold(all=False), handover(all=False, sent=["glood e-1"])))
    lab.hide()
    first = lab.record()
    assert first is not None and first["sent"] == ["glood e-1"]
    lab.page.evaluate("""() => {
        window.__sensor.onLeave = send => (window.__leaves.push(send),
            {all: false, sent: ['glood e-1', 'glood e-2'], dup: 0});
        window.__id = gloodTracker.track('while_hidden');
        window.__sensor.keep(window.__sensor.onLeave(false));
    }""")
    record = lab.record()
    assert record is not None and record["sent"] == ["glood e-1", "glood e-2"]
    assert record["f"][-1]["e"] == lab.page.evaluate("window.__id")
    assert lab.page.evaluate("window.__leaves") == [True, False]
    assert lab.sensor("left") == record["f"][-1]["s"]

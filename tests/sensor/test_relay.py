"""relay.js on the sensor's side, with a fake worker (lab.REAL_RELAY): facts go to the worker once each and in
order after its boot, questions asked before relay.js follow them, a hold's judged facts leave the sensor, and
leaving sends the hold's bodies, tells the worker (`hide`) and lets the stored backlog go when every body went."""

from __future__ import annotations

from typing import Any

from .lab import ORIGIN, PREFIX, REAL_RELAY, SensorLab, hold


def wait_posted(lab: SensorLab, kind: str, count: int = 1) -> list[dict[str, Any]]:
    lab.page.wait_for_function("([kind, n]) => window.__posted.filter(m => m.t == kind).length >= n",
                               arg=[kind, count])
    return lab.posted(kind)


def fact_numbers(lab: SensorLab) -> list[int]:
    return [f["s"] for m in lab.posted("facts") for f in m["f"]]


def held(lab: SensorLab, message: dict[str, Any]) -> None:
    """The fake worker posts relay.js a hold; returns once relay.js carried out its writes."""
    probe = PREFIX + "probe"
    lab.to_page({**message, "w": [*message.get("w", []), [probe, str(message["upto"])]]})
    lab.page.wait_for_function("([key, value]) => localStorage.getItem(key) == value",
                               arg=[probe, str(message["upto"])])


def test_facts_follow_the_boot_once_each_in_order_then_the_questions(lab: SensorLab) -> None:
    """Facts made before relay.js (the page's calls, relay.js's own `url`) go in one message right after the boot,
    then a question asked before relay.js ran; calls made in one task go in one later message; no fact twice."""
    lab.open("<script>gloodTracker.track('early'); gloodTracker.page({page_type: 'home'});"
             " gloodTracker.status()</script>", relay=REAL_RELAY)
    wait_posted(lab, "ask")
    posted = lab.posted()
    assert [m["t"] for m in posted] == ["boot", "facts", "ask"]
    assert [f["k"] for f in posted[1]["f"]] == ["call", "pd", "url"]
    assert posted[2]["m"] == "status"
    lab.page.evaluate("() => { gloodTracker.track('a'); gloodTracker.track('b') }")
    wait_posted(lab, "facts", 2)
    lab.page.evaluate("() => gloodTracker.track('c')")
    wait_posted(lab, "facts", 3)
    assert [[f["a"] for f in m["f"]] for m in lab.posted("facts")[1:]] == [['["a"]', '["b"]'], ['["c"]']]
    numbers = fact_numbers(lab)
    assert numbers == list(range(1, len(numbers) + 1))


def test_a_hold_drops_the_facts_it_judged(lab: SensorLab) -> None:
    """A hold's `upto`: the facts up to it leave the sensor, so the record written at pagehide holds only the
    later ones; the hold's consent and state decide and go in it."""
    lab.open(relay=REAL_RELAY)
    lab.page.evaluate("() => { for (let i = 0; i < 3; i++) gloodTracker.track('t' + i) }")
    wait_posted(lab, "facts", 2)
    numbers = fact_numbers(lab)
    held(lab, hold(upto=numbers[-2], all=False, st={"judge": 1}))
    lab.pagehide()
    record = lab.record()
    assert record is not None and [f["s"] for f in record["f"]] == numbers[-1:] and record["st"] == {"judge": 1}


def test_leaving_sends_the_holds_bodies_and_tells_the_worker(lab: SensorLab) -> None:
    """pagehide: each body of the hold goes by beacon; `hide` tells the worker what went and how many were in
    flight by its own fetch (perhaps twice); the record names them (its dup adds the hold's fb); every body went,
    so the stored backlog they carried is removed."""
    lab.open(relay=REAL_RELAY)
    outbox = PREFIX + "outbox:" + lab.page_id()
    lab.page.evaluate("(key) => localStorage.setItem(key, '[]')", outbox)
    lab.serve("/collect", "", "text/plain")
    bodies = [{"d": "glood", "u": ORIGIN + "/collect", "x": '{"n":1}', "h": None, "i": ["e-1"], "f": False},
              {"d": "genlook", "u": ORIGIN + "/collect", "x": '{"n":2}', "h": None, "i": ["e-2", "e-3"], "f": True}]
    held(lab, hold(upto=0, b=bodies, all=True, fb=4))
    lab.pagehide()
    assert wait_posted(lab, "hide") == [{"t": "hide", "sent": [["glood", ["e-1"]], ["genlook", ["e-2", "e-3"]]],
                                         "dup": 2}]
    record = lab.record()
    assert record is not None
    assert (sorted(record["sent"]), record["dup"]) == (["genlook e-2", "genlook e-3", "glood e-1"], 6)
    assert lab.page.evaluate("(key) => localStorage.getItem(key)", outbox) is None
    assert sorted(lab.wait_received(2)) == [("/collect", '{"n":1}'), ("/collect", '{"n":2}')]


def test_the_stored_backlog_stays_when_not_everything_went(lab: SensorLab) -> None:
    """A hold that did not carry every stored event (all false): the record is written, the backlog kept."""
    lab.open(relay=REAL_RELAY)
    outbox = PREFIX + "outbox:" + lab.page_id()
    lab.page.evaluate("(key) => localStorage.setItem(key, '[]')", outbox)
    held(lab, hold(upto=0, all=False))
    lab.pagehide()
    wait_posted(lab, "hide")
    assert lab.record() is not None
    assert lab.page.evaluate("(key) => localStorage.getItem(key)", outbox) == "[]"


def test_a_send_while_hidden_keeps_the_backlog_written_since(lab: SensorLab) -> None:
    """Hidden with every body of the hold sent (the backlog removed; the record keeps the facts not judged yet),
    then the worker stores a new backlog and sends its event while the page is still hidden: the record is written
    again for its ledger, and the new backlog stays."""
    lab.open(relay=REAL_RELAY)
    outbox = PREFIX + "outbox:" + lab.page_id()
    lab.serve("/collect", "", "text/plain")
    first = {"d": "glood", "u": ORIGIN + "/collect", "x": '{"n":1}', "h": None, "i": ["e-1"], "f": False}
    held(lab, hold(upto=0, b=[first], all=True, w=[[outbox, '["e-1"]']]))
    lab.hide()
    wait_posted(lab, "hide")
    assert lab.page.evaluate("(key) => localStorage.getItem(key)", outbox) is None
    held(lab, hold(upto=0, all=False, w=[[outbox, '["e-2"]']]))
    lab.to_page({"t": "send", "b": [{"d": "glood", "u": ORIGIN + "/collect", "x": '{"n":2}', "h": None,
                                     "i": ["e-2"], "n": 7}]})
    lab.page.wait_for_function("() => window.__posted.some(m => m.t == 'ans')")
    record = lab.record()
    assert record is not None and sorted(record["sent"]) == ["glood e-1", "glood e-2"], record
    assert lab.page.evaluate("(key) => localStorage.getItem(key)", outbox) == '["e-2"]'

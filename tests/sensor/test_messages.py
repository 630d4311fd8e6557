"""What the sensor posts to the worker: facts once each, in order (those made before the worker in one message on
attach, then one message per task's batch), early messages after them; judged facts are dropped."""

from __future__ import annotations

from .lab import ATTACH, EXPOSE, SensorLab


def test_facts_go_to_the_worker_once_and_in_order(lab: SensorLab) -> None:
    """Attached after the page made facts: one `facts` message with all of them, then the early messages; calls
    made in one task go in one later message; no fact is posted twice. A question asked before relay.js waits in
    `sensor.asks` (relay.js asks the worker)."""
    # (No sections: IntersectionObserver facts would come at their own times.)
    lab.open("<script>gloodTracker.track('early'); gloodTracker.page({page_type: 'home'})</script>", relay=EXPOSE)
    lab.page.evaluate("() => { window.__status = gloodTracker.status() }")
    assert lab.page.evaluate("() => window.__sensor.asks.map(([method]) => method)") == ["status"]
    lab.page.evaluate("() => window.__sensor.toWorker({t: 'fail', k: 'glood_tracker:x'})")  # before the worker
    made = len(lab.facts())
    lab.page.evaluate(f"() => {{ const sensor = window.__sensor; {ATTACH} }}")
    posted = lab.posted()
    assert [m["t"] for m in posted] == ["facts", "fail"]
    assert [f["s"] for f in posted[0]["f"]] == list(range(1, made + 1))
    assert posted[1] == {"t": "fail", "k": "glood_tracker:x"}
    lab.page.evaluate("() => { gloodTracker.track('a'); gloodTracker.track('b') }")
    lab.page.wait_for_function("() => window.__posted.length == 3")
    lab.page.evaluate("() => gloodTracker.track('c')")
    lab.page.wait_for_function("() => window.__posted.length == 4")
    posted = lab.posted()
    assert [[f["a"] for f in m["f"]] for m in posted[2:]] == [['["a",null,null]', '["b",null,null]'],
                                                              ['["c",null,null]']]
    sequence = [f["s"] for m in lab.posted("facts") for f in m["f"]]
    assert sequence == list(range(1, len(sequence) + 1))


def test_judged_drops_the_facts_up_to_upto(lab: SensorLab) -> None:
    """judged(upto) (a hold): facts up to upto leave sensor.facts, later ones stay."""
    lab.open()
    lab.page.evaluate("() => { for (let i = 0; i < 4; i++) gloodTracker.track('t' + i) }")
    facts = lab.facts()
    upto = facts[-2]["s"]
    lab.page.evaluate("(upto) => window.__sensor.judged(upto)", upto)
    assert lab.facts() == facts[-1:]

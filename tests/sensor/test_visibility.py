"""Hidden, then visible again without leaving: the record goes. Gone (past pagehide): nothing more is written."""

from __future__ import annotations

from .lab import LEAVES, RECORD_PREFIX, RELAY, SensorLab, section


def test_visible_again_removes_the_record(lab: SensorLab) -> None:
    """Hidden: relay.js's onLeave(true) is asked and a record is written; visible again (never left): the record is
    removed, onRestore(false) is called, `left` is 0 again; both changes are `vis` facts."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]), relay=RELAY + LEAVES)
    lab.hide()
    record = lab.record()
    assert record is not None
    assert lab.sensor("left") == record["f"][-1]["s"]
    assert lab.page.evaluate("window.__leaves") == [True]
    lab.show()
    assert lab.record() is None
    assert lab.sensor("left") == 0
    assert [r["taken"] for r in lab.page.evaluate("window.__restores")] == [False]
    assert [f["v"] for f in lab.facts("vis")] == [False, True]


def test_hidden_again_writes_the_record_again(lab: SensorLab) -> None:
    """Hidden, visible, hidden: the second record holds the facts made meanwhile."""
    lab.open()
    lab.hide()
    lab.show()
    last = lab.page.evaluate("gloodTracker.track('between')")
    lab.hide()
    record = lab.record()
    assert record is not None
    assert last in [f.get("e") for f in record["f"]]
    assert [f["v"] for f in record["f"] if f["k"] == "vis"] == [False, True, False]


def test_gone_after_pagehide_nothing_more_is_written(lab: SensorLab) -> None:
    """After pagehide the record is the next page's: when it took it, a later visibilitychange to hidden writes
    nothing (and asks relay.js's onLeave nothing), and one to visible neither removes a record nor calls onRestore."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]), relay=RELAY + LEAVES)
    lab.pagehide()
    assert lab.sensor("gone") is True
    lab.remove_record()  # the next page took it
    lab.page.evaluate("gloodTracker.track('after_pagehide')")
    lab.hide()
    assert lab.records() == {}
    assert lab.page.evaluate("window.__leaves") == [True]
    # Not taken (say the next page has not started yet): the record stays when the page is visible again.
    lab.pagehide()  # (the first pagehide's record is gone; this one writes nothing either)
    assert lab.records() == {}
    lab.page.evaluate("(key) => localStorage.setItem(key, '{}')", RECORD_PREFIX + lab.page_id())
    lab.show()
    assert lab.records() == {RECORD_PREFIX + lab.page_id(): {}}
    assert lab.page.evaluate("window.__restores") == []

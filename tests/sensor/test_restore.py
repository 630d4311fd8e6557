"""Restored from the back/forward cache (a synthetic `pageshow` with persisted): the record this page left is still
there (taken back) or another page took it ("taken", docs/design.md §6); either way a new pageview (`show`)."""

from __future__ import annotations

from .lab import PREFIX, RELAY, RESTORES, UUID, SensorLab, handover, hold, section, with_hold


def test_restored_with_its_record_still_there(lab: SensorLab) -> None:
    """The record is still in localStorage: removed, onRestore(false), no `taken`; the page is no longer gone,
    `left` and `quiet` are 0; a `show` fact with a new pageview id."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]))
    lab.pagehide()
    assert lab.record() is not None and lab.sensor("left") > 0
    lab.pageshow()
    assert [r["taken"] for r in lab.wait_restores()] == [False]
    assert lab.records() == {}
    assert lab.posted("taken") == []
    assert (lab.sensor("gone"), lab.sensor("left"), lab.sensor("quiet")) == (False, 0, 0)
    shows = lab.facts("show")
    assert len(shows) == 1 and UUID.match(shows[0]["pv"]) and shows[0]["pv"] != lab.sensor("start.pv")


def test_restored_after_another_page_took_the_record(lab: SensorLab) -> None:
    """The record is gone (another page took it): `taken` {upto: its last fact, at: when it was written} is
    posted before onRestore(true); `quiet` = upto; a record written later carries that quiet."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]) + "<script>gloodTracker.track('before')</script>")
    lab.pagehide()
    record = lab.remove_record()
    lab.pageshow()
    restores = lab.wait_restores()
    assert [r["taken"] for r in restores] == [True]
    upto = record["f"][-1]["s"]
    taken = [(index, m) for index, m in enumerate(lab.posted()) if m["t"] == "taken"]
    assert [m for _, m in taken] == [{"t": "taken", "upto": upto, "at": record["seen"]}]
    assert taken[0][0] < restores[0]["posted"], "taken is posted before onRestore is called"
    assert lab.sensor("quiet") == upto and lab.sensor("left") == 0 and lab.sensor("gone") is False
    assert len(lab.facts("show")) == 1
    lab.pagehide()
    again = lab.record()
    assert again is not None and again["quiet"] == upto


def test_taken_before_the_relay_is_carried_by_quiet(lab: SensorLab) -> None:
    """No relay yet (no worker, no toWorker): restored after another page took the record, nothing is posted and
    nothing fails; `quiet` = the record's last fact, which the worker's boot carries when it starts."""
    lab.open(relay=RESTORES)
    lab.page.evaluate("gloodTracker.track('before')")
    lab.pagehide()
    record = lab.remove_record()
    lab.pageshow()
    assert [r["taken"] for r in lab.wait_restores()] == [True]
    assert lab.posted() == []
    assert lab.sensor("quiet") == record["f"][-1]["s"]
    assert [f["k"] for f in lab.facts()][-1] == "show"


def test_a_pageshow_not_persisted_is_no_restore(lab: SensorLab) -> None:
    """pageshow without persisted (a fresh load): no `show`, no restore; the persisted one after it is one."""
    lab.open()
    lab.pagehide()
    lab.pageshow(persisted=False)
    lab.pageshow(persisted=True)
    assert [r["taken"] for r in lab.wait_restores()] == [False]
    assert len(lab.facts("show")) == 1
    assert lab.page.evaluate("window.__restores.length") == 1


def test_pagehide_releases_the_tab_lock_and_a_restore_takes_it_back(lab: SensorLab) -> None:
    """The tab's Web Lock is held while the page lives, released at pagehide (another page may take the record),
    and held again once restored."""
    lab.open()
    name = PREFIX + "tab:" + lab.page_id()
    assert name in lab.wait_lock(name, held=True)
    lab.pagehide()
    assert name not in lab.wait_lock(name, held=False)
    lab.pageshow()
    lab.wait_restores()
    assert name in lab.wait_lock(name, held=True)
    assert PREFIX + "adopt" not in lab.wait_lock(PREFIX + "adopt", held=False)


def test_a_page_that_removed_its_own_record_is_not_taken(lab: SensorLab) -> None:
    """Hidden (a record written, `left` set), then the hold judged every fact and everything went, so pagehide
    removed the record itself: restored, nobody took it — onRestore(false), no `taken`, quiet stays 0."""
    lab.open(section("s1", "serve-1", [("p1", "v1")]), relay=RELAY + with_hold(hold(all=True), handover(all=True)))
    lab.hide()
    assert lab.record() is not None
    assert lab.judge_all_and_leave() == 0
    assert lab.record() is None  # nothing to hand over: removed by the page itself
    lab.pageshow()
    assert [r["taken"] for r in lab.wait_restores()] == [False]
    assert lab.posted("taken") == []
    assert lab.sensor("quiet") == 0


def test_taken_upto_is_the_last_fact_of_a_cut_record(lab: SensorLab) -> None:
    """A record over 64 KiB leaves its newest facts out (counted in x): when it is taken, `taken.upto` and
    `quiet` are the last fact the record carried (§6: "upto (the last fact of the record)"), so that the facts
    left out are judged live by the restored page rather than quietly dropped."""
    lab.open()
    lab.page.evaluate("() => { for (let i = 0; i < 12; i++) gloodTracker.track('big', {pad: 'x'.repeat(8000)}) }")
    lab.pagehide()
    record = lab.remove_record()
    assert record["x"] > 0 and len(record["f"]) + record["x"] == 12
    lab.pageshow()
    assert [r["taken"] for r in lab.wait_restores()] == [True]
    assert [m["upto"] for m in lab.posted("taken")] == [record["f"][-1]["s"]]
    assert lab.sensor("quiet") == record["f"][-1]["s"]

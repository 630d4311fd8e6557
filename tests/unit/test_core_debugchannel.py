"""The inspector's debug channel: `dbg` messages only when the boot message asks (`insp`), carrying every fact,
each event as judged, each body, each answer, consent and the ids (tracker/core/debugchannel.py)."""

from __future__ import annotations

import json
from typing import Any

import test_core_worker
from test_core_worker import T0, Harness, settle

from tracker.core.debugchannel import DebugKind
from tracker.core.facts import stable_id
from tracker.core.transport import BEACON_ACCEPTED


class Inspected(Harness):
    """The worker harness with the boot message's `insp` set as relay.js sets it while the inspector is on."""

    def __init__(self, *, insp: bool = True, **kwargs: Any) -> None:
        import tracker.core.worker as worker_module

        original = worker_module.WorkerTracker.__init__

        def with_flag(tracker: Any, boot: Any, seams: Any, before_send: Any = None) -> None:
            original(tracker, {**boot, "insp": insp}, seams, before_send)

        worker_module.WorkerTracker.__init__ = with_flag  # type: ignore[method-assign]
        try:
            super().__init__(**kwargs)
        finally:
            worker_module.WorkerTracker.__init__ = original  # type: ignore[method-assign]

    def debug(self, kind: DebugKind) -> list[dict[str, Any]]:
        return [m["v"] for m in self.posted if m["t"] == "dbg" and m["k"] == kind.value]


SECTION = {"s": 1, "t": T0 + 10, "k": "sec", "i": 1, "a": {"gloodSection": "9", "gloodServeId": "serve-9"},
           "p": [["11", "12"]]}
CLICK = {"s": 2, "t": T0 + 20, "k": "click", "i": 1, "p": ["11", "12"], "b": 0}


def test_every_fact_event_body_and_answer_reaches_the_page():
    async def go() -> None:
        h = Inspected()
        h.tracker.start()
        await settle()
        h.tracker.handle({"t": "facts", "f": [SECTION, CLICK]})
        h.timers.advance(30)
        (boot,) = h.debug(DebugKind.BOOT)
        assert boot["page_type"] == "home" and boot["config"]["shop_domain"] == "shop.myshopify.com"
        assert [f["s"] for f in h.debug(DebugKind.FACT)] == [1, 2]
        events = {e["name"]: e for e in h.debug(DebugKind.EVENT)}
        assert set(events) == {"page_viewed", "glood:section:render", "glood:section:click"}
        click = events["glood:section:click"]
        assert click["id"] == stable_id("pv-page-2", "2/click")
        assert click["section"] == {"section": "9", "serve_id": "serve-9", "product": "11"}
        h.tracker.handle({"t": "ask", "n": 1, "m": "flush"})
        bodies = h.debug(DebugKind.BODY)
        assert {b["way"] for b in bodies} == {"beacon"} and {b["d"] for b in bodies} == {"glood", "genlook"}
        sent = [json.loads(b["x"]) for b in bodies if b["d"] == "glood"]
        assert {s["event"]["id"] for s in sent} == {e["id"] for e in events.values()}
        h.answer_all(BEACON_ACCEPTED)
        outcomes = h.debug(DebugKind.OUTCOME)
        assert outcomes and {o["outcome"] for o in outcomes} == {"ok"} and {o["way"] for o in outcomes} == {"beacon"}
        assert {i for o in outcomes if o["d"] == "glood" for i in o["ids"]} == {e["id"] for e in events.values()}
        h.timers.advance(30)
        state = h.debug(DebugKind.STATE)[-1]
        assert state["session_id"] == "visit-1" and state["pageview_id"] == "pv-page-2" and state["client_id"]
        assert state["user_id"] and state["tab_id"] == "page-2" and state["stats"]["sent_glood"] == 3
        assert all(m["pv"] == "pv-page-2" for m in h.posted if m["t"] == "dbg")
    test_core_worker.run(go)  # (replaced in Pyodide: looked up at call time)


def test_consent_pending_is_reported_then_what_it_held_goes():
    async def go() -> None:
        h = Inspected(config=json.dumps({"shop_domain": "s.myshopify.com", "require_consent": True,
                                         "flush_interval_ms": 600_000}))
        h.tracker.start()
        await settle()
        h.tracker.flush("manual")
        (waiting,) = h.debug(DebugKind.WAITING)
        assert waiting["reason"] == "consent pending" and waiting["deferred"]["glood"] == 1
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 5, "k": "call", "m": "consent", "a": "[true]"}]})
        await settle()
        (consent,) = h.debug(DebugKind.CONSENT)
        assert consent == {"state": "granted", "held": 1, "dropped": 0}
        assert h.debug(DebugKind.BODY)
    test_core_worker.run(go)  # (replaced in Pyodide: looked up at call time)


def test_refused_calls_are_reported():
    async def go() -> None:
        h = Inspected()
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 5, "k": "call", "m": "track", "a": '["no_such_event", {}, null]', "e": "x"}]})
        (refused,) = h.debug(DebugKind.REFUSED)
        assert "no_such_event" in refused["what"] and refused["reason"]
    test_core_worker.run(go)  # (replaced in Pyodide: looked up at call time)


def test_without_the_flag_nothing_of_it_runs():
    async def go() -> None:
        h = Inspected(insp=False)
        h.tracker.start()
        await settle()
        h.tracker.handle({"t": "facts", "f": [SECTION, CLICK]})
        h.tracker.handle({"t": "ask", "n": 1, "m": "flush"})
        h.answer_all(BEACON_ACCEPTED)
        h.timers.advance(30)
        assert h.tracker.channel is None and h.tracker.pipeline.observer is None
        assert not [m for m in h.posted if m["t"] == "dbg"] and h.of("send")
    test_core_worker.run(go)  # (replaced in Pyodide: looked up at call time)

"""The handover rule (docs/design.md §6): each event goes out at most once while pages live and at least once
overall, whichever page sends it: the ledger a leaving page keeps, acknowledgements, a record taken while its page
was in the back/forward cache, calls replayed in order, and the one allowed double send, counted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import test_core_worker  # its run(): replaced by a thread-free one inside Pyodide (tests/pyodide)
from test_core_worker import CONFIG, T0, FakeLocks, Harness, settle

from tracker.core.facts import stable_id
from tracker.core.journal import FACTS_PREFIX, JOURNAL_PREFIX
from tracker.core.transport import BEACON_ACCEPTED
from tracker.core.worker import TAB_LOCK_PREFIX

PAGE_VIEWED = stable_id("pv-1", "page_viewed")
PRODUCT_VIEWED = stable_id("pv-1", "product_viewed")
RENDER = stable_id("pv-1", "1/render")
BOOT_1 = {"page": "page-1", "pv": "pv-1", "t0": T0, "url": "https://shop.example/p", "vis": True,
          "pd": '{"page_type": "product", "product": {"id": "5"}}'}
SECTION = {"s": 1, "t": T0 + 100, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": []}


def record(**fields: Any) -> str:
    return json.dumps({"v": 1, "seen": T0 + 400, "x": 0, "st": None, "boot": BOOT_1, "f": [SECTION], **fields})


def sent_ids(h: Harness) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"glood": [], "genlook": []}
    for m in h.of("send"):
        for b in m["b"]:
            out[b["d"]].extend(b["i"])
    return out


def adopting(store: dict[str, str], **options: Any) -> Callable[[Callable[[Harness], None]], None]:
    """Run `check` on a page-2 tracker that started with `store` and adopted page-1's records."""
    def go(check: Callable[[Harness], None]) -> None:
        async def body() -> None:
            h = Harness(store=store, prev="page-1", **options)
            h.tracker.start()
            await settle()
            assert h.tracker.adopted
            check(h)
        test_core_worker.run(body)
    return go


def test_what_a_gone_pages_ledger_names_is_never_sent_again_from_its_facts():
    """The page had beaconed its page_viewed to both destinations and its product_viewed to Glood when it went:
    the next page judges its facts (same ids) and sends only what the ledger does not name."""
    store = {FACTS_PREFIX + "page-1": record(sent=[f"glood {PAGE_VIEWED}", f"genlook {PAGE_VIEWED}",
                                                   f"glood {PRODUCT_VIEWED}"])}

    def check(h: Harness) -> None:
        sent = sent_ids(h)
        assert PAGE_VIEWED not in sent["glood"] and PAGE_VIEWED not in sent["genlook"]
        assert PRODUCT_VIEWED not in sent["glood"] and PRODUCT_VIEWED in sent["genlook"]
        assert RENDER in sent["glood"] and RENDER in sent["genlook"]
        assert h.tracker.status()["stats"]["skipped_sent"] == 3
    adopting(store)(check)


def test_the_ledger_also_filters_the_pages_stored_backlog():
    """An event in the gone page's stored backlog that its sensor had beaconed meanwhile is not sent again."""
    event = {"id": "e-1", "name": "search_submitted", "ts": T0 + 50, "page": {"page_type": "home"}, "data": {},
             "custom": {}}
    outbox = json.dumps({"v": 1, "tab": "page-1", "seen": T0 + 400,
                         "events": [{"d": ["glood", "genlook"], "e": event},
                                    {"d": ["glood", "genlook"], "e": dict(event, id="e-2")}]})
    store = {JOURNAL_PREFIX + "page-1": outbox, FACTS_PREFIX + "page-1": record(f=[], sent=["glood e-1", "genlook e-1"],
                                                                               st={"pv": "pv-1", "started": True})}

    def check(h: Harness) -> None:
        sent = sent_ids(h)
        assert "e-1" not in sent["glood"] + sent["genlook"]
        assert "e-2" in sent["glood"] and "e-2" in sent["genlook"]
        assert PAGE_VIEWED not in sent["glood"]  # the record's state says the page's own events were made
    adopting(store)(check)


def test_calls_before_leaving_are_replayed_in_order():
    """identify, then a grant of consent the current page was waiting for, then track, then reset: the next page
    applies them in order; the events made before the reset keep the identity they were made under."""
    calls = [
        {"s": 2, "t": T0 + 110, "k": "call", "m": "identify", "a": '["cust-9", null]'},
        {"s": 3, "t": T0 + 120, "k": "call", "m": "consent", "a": "[true]"},
        {"s": 4, "t": T0 + 130, "k": "call", "m": "track", "a": '["search_submitted", null, null]', "e": "before"},
        {"s": 5, "t": T0 + 140, "k": "call", "m": "reset", "a": "[]"},
    ]
    store = {FACTS_PREFIX + "page-1": record(f=[SECTION, *calls])}
    config = json.dumps({**json.loads(CONFIG), "require_consent": True})

    def check(h: Harness) -> None:
        tracker = h.tracker
        assert tracker.pipeline.consent == "granted"
        assert tracker.customer_id is None  # reset came last
        h.tracker.handle({"t": "ask", "n": 1, "m": "flush"})
        bodies = {json.loads(b["x"])["event"]["id"]: json.loads(b["x"]) for b in h.bodies("glood")}
        assert bodies["before"]["customer_id"] == "cust-9"
        assert bodies["before"]["client_id"] != tracker.pipeline.identity.client_id
        preference = [b for b in bodies.values() if b["event"]["name"] == "glood:customer_preference"]
        assert preference and preference[0]["page_url"] == "https://shop.example/p"
    adopting(store, config=config)(check)


def test_a_replayed_call_older_than_the_visitors_latest_change_does_not_undo_it():
    """Another tab's record says consent was denied a minute ago; this page granted it since: the grant stands."""
    old = [{"s": 2, "t": T0 - 60_000, "k": "call", "m": "consent", "a": "[false]"}]
    store = {FACTS_PREFIX + "page-1": record(f=[SECTION, *old])}

    async def go() -> None:
        h = Harness(store=store, prev="page-1", config=json.dumps({**json.loads(CONFIG), "require_consent": True}))
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 1, "k": "call", "m": "consent", "a": "[true]"}]})
        h.tracker.start()
        await settle()
        assert h.tracker.pipeline.consent == "granted"
    test_core_worker.run(go)


def test_identify_while_consent_is_pending_is_kept_and_stored_once_granted():
    async def go() -> None:
        h = Harness(config=json.dumps({**json.loads(CONFIG), "require_consent": True}))
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 1, "k": "call", "m": "identify", "a": '["cust-3", null]'},
            {"s": 2, "t": T0 + 2, "k": "call", "m": "track", "a": '["search_submitted", null, null]', "e": "s-1"}]})
        assert h.tracker.customer_id == "cust-3"
        assert "glood_tracker:customer" not in h.tracker.storage.keys("glood_tracker:")
        h.tracker.handle({"t": "facts", "f": [{"s": 3, "t": T0 + 3, "k": "call", "m": "consent", "a": "[true]"}]})
        await settle()
        assert json.loads(h.tracker.storage.get("glood_tracker:customer") or "{}") == {"id": "cust-3"}
        bodies = {json.loads(b["x"])["event"]["id"]: json.loads(b["x"]) for b in h.bodies("glood")}
        assert bodies["s-1"]["customer_id"] == "cust-3"
    test_core_worker.run(go)


def test_events_made_before_reset_go_with_the_visit_token_they_were_made_under():
    """With a public token, Glood events carry the visit's token: those queued before reset() keep the old one."""
    config = json.dumps({"shop_domain": "s.myshopify.com", "glood_public_token": "public-1",
                         "flush_interval_ms": 600_000, "max_batch": 1000})

    async def go() -> None:
        h = Harness(config=config, init_answer={"visit_id": "visit-1", "token": "token-1"})
        h.tracker.start()
        await settle()
        h.answer_all(200)
        h.init_answer = {"visit_id": "visit-2", "token": "token-2"}
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 601, "k": "call", "m": "track", "a": '["search_submitted", null, null]', "e": "old"},
            {"s": 2, "t": T0 + 602, "k": "call", "m": "reset", "a": "[]"},
            {"s": 3, "t": T0 + 603, "k": "call", "m": "track", "a": '["search_submitted", null, null]', "e": "new"}]})
        await settle()
        h.tracker.handle({"t": "ask", "n": 1, "m": "flush"})
        by_id = {b["i"][0]: b for b in h.bodies("glood")}
        assert by_id["old"]["h"]["Authorization"] == "Bearer token-1"
        assert json.loads(by_id["old"]["x"])["session_id"] == "visit-1"
        assert by_id["new"]["h"]["Authorization"] == "Bearer token-2"
        assert json.loads(by_id["new"]["x"])["session_id"] == "visit-2"
    test_core_worker.run(go)


def test_the_hold_acknowledges_what_was_settled_so_the_sensor_can_forget_it():
    async def go() -> None:
        h = Harness()
        h.tracker.start()
        await settle()
        h.answer_all(BEACON_ACCEPTED)
        h.tracker.handle({"t": "ask", "n": 1, "m": "status"})
        acked = h.of("hold")[-1]["ack"]
        assert f"glood {PAGE_VIEWED.replace('pv-1', 'pv-page-2')}" not in acked  # sanity: ids are page-2's
        assert f"glood {stable_id('pv-page-2', 'page_viewed')}" in acked
        assert f"genlook {stable_id('pv-page-2', 'page_viewed')}" in acked
        h.tracker.handle({"t": "ask", "n": 2, "m": "status"})
        assert h.of("hold")[-1]["ack"] == []  # each acknowledgement once
    test_core_worker.run(go)


def test_a_record_taken_while_in_the_back_forward_cache_takes_the_events_made_until_then():
    """Restored after another page adopted its record: the worker drops every event made until the page left and
    judges the facts up to it for their state only; what happens after the restore is tracked as usual."""
    async def go() -> None:
        h = Harness(init_status=503)  # no visit: everything stays queued
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 10, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": [["1", None]]}]})
        assert h.tracker.pipeline.pending() == 2  # page_viewed, render
        h.tracker.handle({"t": "taken", "upto": 1, "at": T0 + 1000})
        assert h.tracker.pipeline.pending() == 0 and h.tracker.status()["stats"]["claimed_elsewhere"] == 2
        h.tracker.handle({"t": "facts", "f": [{"s": 2, "t": T0 + 2000, "k": "show", "pv": "pv-back"}]})
        queued = {e.id for e in h.tracker.pipeline.outboxes["glood"]}
        assert queued == {stable_id("pv-back", "page_viewed"), stable_id("pv-back", "1/render")}
    test_core_worker.run(go)


def test_a_page_whose_record_was_taken_before_its_worker_started_judges_those_facts_quietly():
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker = type(h.tracker)({**_boot_of(h), "quiet": 1}, h.tracker.seams)
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 10, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": [["1", None]]},
            {"s": 2, "t": T0 + 2000, "k": "show", "pv": "pv-back"}]})
        queued = {e.id for e in h.tracker.pipeline.outboxes["glood"]}
        assert queued == {stable_id("pv-back", "page_viewed"), stable_id("pv-back", "1/render")}
    test_core_worker.run(go)


def _boot_of(h: Harness) -> dict[str, Any]:
    return {"cfg": CONFIG, "store": {}, "page": {"page": "page-2", "pv": "pv-page-2", "t0": T0, "vis": True,
                                                 "url": "https://shop.example/", "pd": '{"page_type": "home"}'}}


def test_the_one_allowed_double_send_is_counted_where_it_is_known():
    """The sensor's count of bodies it beaconed again while the worker's own fetch of them was unanswered reaches
    `resent_unanswered`, from the hide message or from the record the next page adopts."""
    async def go() -> None:
        h = Harness()
        h.tracker.start()
        await settle()
        h.tracker.handle({"t": "hide", "sent": [], "dup": 2})
        assert h.tracker.status()["stats"]["resent_unanswered"] == 2
    test_core_worker.run(go)

    def check(h: Harness) -> None:
        assert h.tracker.status()["stats"]["resent_unanswered"] == 3
    adopting({FACTS_PREFIX + "page-1": record(dup=3)})(check)


def test_bodies_in_flight_by_the_workers_fetch_are_flagged_in_the_hold():
    """The flag tells the sensor which of the hold's bodies, if it sends them as the page goes, may be doubles."""
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker.start()
        h.tracker.pipeline.start_session("visit-1")
        h.tracker.pipeline.bulk_ids.add(f"glood {stable_id('pv-page-2', 'page_viewed')}")
        h.tracker.handle({"t": "ask", "n": 1, "m": "status"})
        flags = {b["d"]: b["f"] for b in h.of("hold")[-1]["b"]}
        assert flags == {"glood": True, "genlook": False}, flags
    test_core_worker.run(go)


def test_which_pages_live_is_asked_under_the_adoption_lock():
    """A page restored from the back/forward cache takes its lock back under the adoption lock: asked before it,
    a page could be judged gone, then restored, its record taken all the same."""
    order: list[str] = []

    class Locks(FakeLocks):
        async def held(self) -> set[str]:
            order.append("held")
            return await super().held()

        async def exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
            order.append("lock")
            await super().exclusive(name, work)

    async def go() -> None:
        h = Harness(locks=Locks({TAB_LOCK_PREFIX + "page-2"}))
        h.tracker.start()
        await settle()
        assert order == ["lock", "held"] and h.tracker.adopted
    test_core_worker.run(go)


def test_a_failing_destination_gets_no_bodies_for_leaving():
    """Its last request failed: a request as the page goes would likely fail too, unseen, while counted as sent;
    its events wait in the stored backlog for the next page instead."""
    async def go() -> None:
        h = Harness(config=json.dumps({**json.loads(CONFIG), "transport": "fetch"}))
        h.tracker.start()
        await settle()
        glood = [b["n"] for m in h.of("send") for b in m["b"] if b["d"] == "glood"]
        h.tracker.handle({"t": "ans", "a": [[n, 503, None] for n in glood]})
        h.tracker.handle({"t": "ask", "n": 1, "m": "status"})
        hold = h.of("hold")[-1]
        assert {b["d"] for b in hold["b"]} == {"genlook"} and hold["all"] is False
        stored = dict((k, v) for k, v in hold["w"])
        assert json.loads(stored[JOURNAL_PREFIX + "page-2"])["events"]
    test_core_worker.run(go)


def test_a_gone_page_taken_by_one_tab_is_not_taken_again_by_another_that_still_sees_its_record():
    """localStorage reaches other tabs late: the second tab's fresh copy may still hold a record the first took. The
    first holds `claimed:<page>` for its life, asked under the adoption lock: the second leaves the record alone."""
    store = {FACTS_PREFIX + "page-1": record()}

    async def go() -> None:
        locks = FakeLocks(set())
        first = Harness(store=store, locks=locks, page="page-2")
        first.tracker.start()
        await settle()
        assert first.tracker.status()["stats"]["restored"] >= 3
        assert "glood_tracker:claimed:page-1" in locks.names
        second = Harness(store=store, locks=locks, page="page-3")  # its copy still has page-1's record
        second.tracker.start()
        await settle()
        assert second.tracker.status()["stats"].get("restored", 0) == 0
        assert PAGE_VIEWED not in sent_ids(second)["glood"]
    test_core_worker.run(go)

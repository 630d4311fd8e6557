"""The worker tracker behind its seams: sensor messages in, events, requests and holds out (CPython)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from own_thread import run_on_own_thread

from tracker.core.config import ConfigError
from tracker.core.facts import stable_id
from tracker.core.journal import FACTS_PREFIX, JOURNAL_PREFIX
from tracker.core.protocol import validate
from tracker.core.session import VISIT_KEY
from tracker.core.transport import BEACON_ACCEPTED, NOT_SENT
from tracker.core.worker import ADOPT_LOCK, TAB_LOCK_PREFIX, Seams, WorkerTracker, call_args, json_too_deep
from tracker.testing import FakeClock

T0 = 1_776_000_000_000
CONFIG = json.dumps({"shop_domain": "shop.myshopify.com", "flush_interval_ms": 600_000, "max_batch": 1000})


class Timers:
    """`later` on a FakeClock: callbacks run when `advance` passes their time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.due: list[tuple[float, int, Callable[[], None], list[bool]]] = []
        self.n = 0

    def later(self, delay_ms: float, fn: Callable[[], None]) -> Any:
        self.n += 1
        cancelled = [False]
        self.due.append((self.clock.now_ms() + delay_ms, self.n, fn, cancelled))

        class Handle:
            def cancel(self) -> None:
                cancelled[0] = True

        return Handle()

    def advance(self, ms: float) -> None:
        end = self.clock.now_ms() + ms
        while True:
            ready = sorted(d for d in self.due if d[0] <= end and not d[3][0])
            if not ready:
                break
            at, n, fn, cancelled = ready[0]
            self.due.remove(ready[0])
            self.clock.advance(max(0, at - self.clock.now_ms()))
            cancelled[0] = True
            fn()
        self.clock.advance(max(0, end - self.clock.now_ms()))


class FakeLocks:
    def __init__(self, held: set[str]) -> None:
        self.names = held
        self.taken: list[str] = []

    async def held(self) -> set[str]:
        return set(self.names)

    async def exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        self.taken.append(name)
        await work()


class Harness:
    """A worker tracker wired to doubles; `sensor` plays the page's side of the messages."""

    def __init__(self, *, store: dict[str, str] | None = None, config: str = CONFIG, locks: FakeLocks | None = None,
                 init_status: int = 200, page: str = "page-2", prev: str | None = None, pd: str | None = None,
                 init_answer: dict[str, Any] | None = None, sig: dict[str, Any] | None = None,
                 url: str = "https://shop.example/") -> None:
        self.clock = FakeClock(now_ms=T0 + 500)
        self.timers = Timers(self.clock)
        self.posted: list[dict[str, Any]] = []
        self.store = dict(store or {})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.init_status = init_status
        self.init_answer = init_answer or {"visit_id": "visit-1"}
        self.init_headers: list[dict[str, str]] = []
        seams = Seams(post=self.post, request=self.request, clock=self.clock, later=self.timers.later, locks=locks)
        self.locks = locks
        self.tracker = WorkerTracker({
            "cfg": config, "prev": prev, "store": dict(self.store), "sig": sig,
            "page": {"page": page, "pv": "pv-" + page, "t0": T0, "url": url, "vis": True,
                     "pd": pd or '{"page_type": "home"}'}}, seams)

    def post(self, message: dict[str, Any]) -> None:
        json.loads(json.dumps(message, allow_nan=False))  # everything posted must be plain JSON
        assert validate(json.loads(json.dumps(message)), "to_page") == [], message  # and as the protocol says
        self.posted.append(message)
        kind = message["t"]
        if kind == "claim":  # the page takes the locks (relay.js), then answers
            if self.locks is not None:
                self.locks.names.update(message["names"])
            asyncio.get_event_loop().call_soon(self.tracker.handle, {"t": "re", "n": message["n"]})
        if kind in ("snap", "store"):  # the sensor answers at once
            for key, value in message.get("w") or []:
                if value is None:
                    self.store.pop(key, None)
                else:
                    self.store[key] = value
            reply = {"t": "re", "n": message["n"], "v": dict(self.store) if kind == "snap" else None}
            asyncio.get_event_loop().call_soon(self.tracker.handle, reply)

    async def request(self, url: str, body: str, headers: Mapping[str, str]) -> tuple[int, str]:
        self.requests.append((url, json.loads(body)))
        self.init_headers.append(dict(headers))
        return self.init_status, json.dumps(self.init_answer)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.posted if m["t"] == kind]

    def bodies(self, destination: str) -> list[dict[str, Any]]:
        return [b for m in self.of("send") for b in m["b"] if b["d"] == destination]

    def answer_all(self, status: int = BEACON_ACCEPTED) -> None:
        waiting = [b["n"] for m in self.of("send") for b in m["b"]]
        self.tracker.handle({"t": "ans", "a": [[n, status, None] for n in waiting]})


def run(test: Callable[[], Awaitable[None]]) -> None:
    """Run a test coroutine on a loop of its own thread (Playwright's sync API may hold this thread's loop)."""
    run_on_own_thread(test)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_boot_tracks_the_page_starts_a_visit_and_sends_through_the_sensor():
    """start(): ready, page_viewed, an init request; once the visit is known both destinations are sent to."""
    async def go() -> None:
        h = Harness()
        h.tracker.start()
        await settle()
        assert h.of("ready") and h.requests[0][0].endswith("/api/storefront/v3/headless/init")
        (glood,) = h.bodies("glood")
        assert json.loads(glood["x"])["session_id"] == "visit-1"
        assert glood["i"] == [stable_id("pv-page-2", "page_viewed")] and glood["h"] is None
        (genlook,) = h.bodies("genlook")
        assert json.loads(genlook["x"])["context"]["$session_id"] == "visit-1"
        h.answer_all()
        assert h.tracker.status()["stats"]["sent_glood"] == 1 and h.tracker.pipeline.pending() == 0
    run(go)


def test_facts_become_events_and_the_hold_reflects_them():
    """Facts are judged in order; the hold names the last fact and carries the standby bodies and the state."""
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 10, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": [["1", None]]},
            {"s": 2, "t": T0 + 20, "k": "call", "m": "track", "a": ["search_submitted", {"q": 1}, None],
             "e": "id-from-page"}]})
        h.timers.advance(30)
        hold = h.of("hold")[-1]
        assert hold["upto"] == 2 and hold["b"] == [] and hold["c"] == "granted"  # no visit: nothing may go yet
        assert hold["st"]["sections"][0][1]["section"] == "9"
        stored = dict((k, v) for k, v in hold["w"])
        journal = json.loads(stored[JOURNAL_PREFIX + "page-2"])
        assert {e["e"]["id"] for e in journal["events"]} >= {"id-from-page", stable_id("pv-page-2", "1/render")}
    run(go)


def test_refused_beacons_are_retried_and_hidden_sends_count_as_delivered():
    """NOT_SENT releases the events for a later flush; a hide message removes what the sensor beaconed."""
    async def go() -> None:
        h = Harness()
        h.tracker.start()
        await settle()
        h.answer_all(NOT_SENT)
        assert h.tracker.pipeline.pending() == 1 and h.tracker.status()["stats"]["refused_glood"] == 1
        (event_id,) = h.bodies("glood")[0]["i"]
        h.tracker.handle({"t": "hide", "sent": [["glood", [event_id]], ["genlook", [event_id]]]})
        assert h.tracker.pipeline.pending() == 0
    run(go)


def test_status_question_posts_a_fresh_hold_first():
    """An ask is answered after the hold, so the page sees storage as the tracker left it."""
    async def go() -> None:
        h = Harness()
        h.tracker.start()
        h.tracker.handle({"t": "ask", "n": 7, "m": "status"})
        kinds = [m["t"] for m in h.posted]
        assert kinds.index("hold") < kinds.index("reply")
        assert h.of("reply")[0]["n"] == 7 and h.of("reply")[0]["v"]["tab_id"] == "page-2"
    run(go)


def test_an_earlier_pages_facts_are_judged_once_with_their_own_ids():
    """Facts a gone page's sensor kept are claimed under the adoption lock, judged with that page's ids and
    times, and removed from storage; a live page's record is left alone."""
    async def go() -> None:
        record = {"v": 1, "seen": T0 + 400, "x": 0, "st": None,
                  "boot": {"page": "page-1", "pv": "pv-1", "t0": T0, "url": "https://shop.example/p", "vis": True,
                           "pd": '{"page_type": "product", "product": {"id": "5"}}'},
                  "f": [{"s": 1, "t": T0 + 100, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": []},
                        {"s": 2, "t": T0 + 200, "k": "click", "i": 1, "p": ["7", None]},
                        {"s": 3, "t": T0 + 300, "k": "call", "m": "track", "a": ["search_submitted", None, None],
                         "e": "e-3"}]}
        live = dict(record, boot=dict(record["boot"], page="page-9"))
        store = {FACTS_PREFIX + "page-1": json.dumps(record), FACTS_PREFIX + "page-9": json.dumps(live)}
        locks = FakeLocks({TAB_LOCK_PREFIX + "page-9", TAB_LOCK_PREFIX + "page-2"})
        h = Harness(store=store, locks=locks)
        h.tracker.start()
        await settle()
        assert locks.taken == [ADOPT_LOCK] and h.tracker.adopted
        assert FACTS_PREFIX + "page-1" not in h.store and FACTS_PREFIX + "page-9" in h.store
        ids = {i for b in h.bodies("glood") for i in b["i"]}
        assert ids >= {stable_id("pv-1", "page_viewed"), stable_id("pv-1", "product_viewed"),
                       stable_id("pv-1", "1/render"), stable_id("pv-1", "2/click"), "e-3"}
        clicks = [json.loads(b["x"]) for b in h.bodies("glood") if b["i"] == [stable_id("pv-1", "2/click")]]
        assert clicks[0]["page_url"] == "https://shop.example/p" and clicks[0]["page_type"] == "product"
        assert h.tracker.status()["stats"]["restored"] == 5  # page, product, render, click, the track() call
    run(go)


def test_bad_config_refuses_to_start():
    """An invalid config tag or override is a ConfigError (the edge reports it and tracks nothing)."""
    with pytest.raises(ConfigError):
        Harness(config="{not json")
    with pytest.raises(ConfigError):
        Harness(config=json.dumps({"shop_domain": ""}))


def test_consent_call_denied_drops_and_forgets():
    """A consent(false) call drops what waited and removes stored ids; later tracks make nothing."""
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 5, "k": "call", "m": "consent", "a": [False]}]})
        assert h.tracker.pipeline.pending() == 0 and h.tracker.pipeline.consent == "denied"
        assert h.tracker.track("search_submitted", {}) is None
    run(go)


def test_a_burst_is_sent_whole_within_the_keepalive_quota():
    """2,000 track() calls in one message: nothing dropped while the page lives, at most 64 KiB in flight at
    once, every event sent once to each destination as the sensor answers."""
    async def go() -> None:
        h = Harness(config=json.dumps({"shop_domain": "s.myshopify.com", "persist_max_bytes": 4096}))
        h.tracker.start()
        await settle()
        h.answer_all()
        calls = [{"s": i + 1, "t": T0 + i, "k": "call", "m": "track", "a": ["search_submitted", {"n": i}, None],
                  "e": f"burst-{i}"} for i in range(2000)]
        answered = {b["n"] for m in h.of("send") for b in m["b"]}  # the page's own events, answered above
        h.tracker.handle({"t": "facts", "f": calls})
        for _ in range(500):
            waiting = [b for m in h.of("send") for b in m["b"] if b["n"] not in answered]
            if not waiting:
                break
            assert sum(len(b["x"].encode()) for b in waiting) <= 64 * 1024
            answered.update(b["n"] for b in waiting)
            h.tracker.handle({"t": "ans", "a": [[b["n"], BEACON_ACCEPTED, None] for b in waiting]})
        glood = [i for b in h.bodies("glood") for i in b["i"] if i.startswith("burst-")]
        genlook = [i for b in h.bodies("genlook") for i in b["i"] if i.startswith("burst-")]
        assert sorted(glood) == sorted(genlook) == sorted(f"burst-{i}" for i in range(2000))
        assert h.tracker.pipeline.pending() == 0 and "dropped_overflow" not in h.tracker.pipeline.stats
    run(go)


def test_init_is_glood_documented_call_and_its_answer_is_kept():
    """Init sends x-shop (and the public token), the documented body; the answer's ids and visit token are
    used: Glood events then go by fetch with the visit token, never the public one."""
    async def go() -> None:
        config = json.dumps({"shop_domain": "s.myshopify.com", "glood_public_token": "public-1"})
        h = Harness(config=config, init_answer={"visit_id": "visit-9", "user_id": "u-srv", "client_id": "c-srv",
                                                "token": "visit-token", "config": {"analytics_enabled": True}})
        h.tracker.start()
        await settle()
        (_url, body), headers = h.requests[0], h.init_headers[0]
        assert headers["x-shop"] == "s.myshopify.com" and headers["Authorization"] == "Bearer public-1"
        assert set(body) == {"user_id", "client_id", "page_type", "page_url"} and body["page_type"] == "home"
        (glood,) = h.bodies("glood")
        assert glood["h"]["Authorization"] == "Bearer visit-token" and glood["h"]["x-shop"] == "s.myshopify.com"
        sent = json.loads(glood["x"])
        assert (sent["user_id"], sent["client_id"], sent["session_id"]) == ("u-srv", "c-srv", "visit-9")
    run(go)


def test_shop_without_analytics_gets_nothing():
    """An init answer with analytics_enabled false: nothing is sent, later facts make nothing."""
    async def go() -> None:
        h = Harness(init_answer={"visit_id": "v", "config": {"analytics_enabled": False}})
        h.tracker.start()
        await settle()
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 1, "k": "call", "m": "track",
                                                "a": ["search_submitted", None, None], "e": "x"}]})
        assert h.of("send") == [] and h.tracker.pipeline.pending() == 0
        assert h.tracker.status()["stats"]["dropped_disabled"] == 2
    run(go)


def test_bots_are_muted_only_when_filtering_is_on():
    """With filter_bots a webdriver page sends nothing (counted); by default it is tracked like any page."""
    async def go() -> None:
        for filtering, sends in ((True, False), (False, True)):
            h = Harness(config=json.dumps({"shop_domain": "s.myshopify.com", "filter_bots": filtering}),
                        sig={"webdriver": True, "ua": "Mozilla/5.0 HeadlessChrome/156.0.0.0"})
            h.tracker.start()
            await settle()
            assert bool(h.of("send")) is sends
            assert (h.tracker.status()["stats"].get("dropped_bot", 0) >= 1) is filtering
    run(go)


def test_global_privacy_control_denies_even_a_later_grant():
    """A visitor with GPC on is denied from the start, and setConsent(true) does not override it."""
    async def go() -> None:
        h = Harness(sig={"gpc": True})
        assert h.tracker.pipeline.consent == "denied"
        h.tracker.start()
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 5, "k": "call", "m": "consent", "a": [True]}]})
        await settle()
        assert h.tracker.pipeline.consent == "denied" and h.of("send") == [] and h.requests == []
    run(go)


def test_page_viewed_carries_the_visits_attribution():
    """The landing page's campaign parameters travel in page_viewed's data as first and last touch."""
    async def go() -> None:
        h = Harness(url="https://shop.example/?utm_source=news")
        h.tracker.start()
        await settle()
        body = json.loads(h.bodies("glood")[0]["x"])
        assert body["event"]["data"]["attribution"]["first_touch"]["utm_source"] == "news"
        assert json.loads(h.tracker.storage.get("glood_tracker:attribution") or "{}")["visit"] == "visit-1"
    run(go)


def test_identify_then_reset_keeps_each_events_own_identity():
    """identify() puts the customer on later events and the next init; reset() gives new anonymous ids and a
    new visit, while events queued before it still go under the ids and visit they were made under."""
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker.start()
        old = h.tracker.pipeline.identity
        h.tracker.handle({"t": "facts", "f": [
            {"s": 1, "t": T0 + 1, "k": "call", "m": "identify", "a": ["cust-7", {"tier": "gold"}]},
            {"s": 2, "t": T0 + 2, "k": "call", "m": "track", "a": ["search_submitted", None, None], "e": "before"},
            {"s": 3, "t": T0 + 3, "k": "call", "m": "reset", "a": []},
            {"s": 4, "t": T0 + 4, "k": "call", "m": "track", "a": ["search_submitted", None, None], "e": "after"},
            {"s": 5, "t": T0 + 5, "k": "call", "m": "identify", "a": [None, None]}]})
        new = h.tracker.pipeline.identity
        assert new.user_id != old.user_id and new.client_id != old.client_id
        assert h.tracker.status()["stats"]["rejected"] == 1
        h.tracker.pipeline.start_session("visit-2")
        h.tracker.handle({"t": "ask", "n": 1, "m": "flush"})
        bodies = {json.loads(b["x"])["event"]["id"]: json.loads(b["x"]) for b in h.bodies("glood")}
        assert bodies["before"]["client_id"] == old.client_id and bodies["before"]["customer_id"] == "cust-7"
        assert bodies["after"]["client_id"] == new.client_id and "customer_id" not in bodies["after"]
        (preference,) = [b for b in bodies.values() if b["event"]["name"] == "glood:customer_preference"]
        assert preference["event"]["data"] == {"customer_id": "cust-7", "traits": {"tier": "gold"}}
    run(go)


@pytest.mark.parametrize("text, deep", [
    ('[1, {"a": [2]}]', False),
    ("[" * 40 + "]" * 40, True),
    ('["' + "[" * 100 + '"]', False),  # brackets inside a string do not nest
    ('["\\"' + "{" * 100 + '"]', False),
])
def test_json_depth_is_judged_without_parsing(text, deep):
    """Nesting is measured by a scan that skips strings (and their escaped quotes)."""
    assert json_too_deep(text, 32) is deep


def test_deep_call_data_is_refused_before_parsing():
    """A track() whose JSON text nests past the limit is counted as rejected and reported; nothing is made."""
    async def go() -> None:
        h = Harness(init_status=503)
        h.tracker.start()
        deep = '["checkout_started", ' + '{"d":' * 5000 + "{}" + "}" * 5000 + ", null]"
        h.tracker.handle({"t": "facts", "f": [{"s": 1, "t": T0 + 1, "k": "call", "m": "track", "a": deep, "e": "x"}]})
        assert h.tracker.status()["stats"]["rejected"] == 1 and "x" not in h.tracker.pipeline.outboxes["glood"]
        assert any("nested more than 32" in m["m"] for m in h.of("log"))
        assert call_args({"a": '["search_submitted", {"q": 1}, null]'}) == ["search_submitted", {"q": 1}, None]
    run(go)


def test_the_pages_own_events_go_at_ready_not_with_the_first_timer():
    """A later page of a known visit: at ready (consent granted) its own events go at once, to both destinations,
    not with the first flush timer (here 10 minutes away): its first delivery waits only for Python."""
    async def go() -> None:
        first = Harness()
        first.tracker.start()
        await settle()
        first.answer_all()
        first.timers.advance(1000)
        store = dict(first.store)
        for hold in first.of("hold"):
            store.update((key, value) for key, value in hold["w"] if value is not None)
        assert VISIT_KEY in store
        later = Harness(store=store, page="page-3")  # a new browser session: no previous page of this tab
        later.tracker.start()
        await settle()
        assert later.requests == []  # the visit was known: no init
        assert later.bodies("glood") and later.bodies("genlook")
        assert stable_id("pv-page-3", "page_viewed") in later.bodies("genlook")[0]["i"]
    run(go)

"""Unit tests for tracker.core.pipeline: queueing, sessions, batching, keepalive budget, retries."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tracker.core.config import Config
from tracker.core.encoders import LIB_VERSION
from tracker.core.events import PageContext, ProductRef, SectionTrack, TrackError
from tracker.core.pipeline import Pipeline
from tracker.core.session import IDENTITY_KEY
from tracker.core.storage import MemoryStorage
from tracker.testing import BrokenStorage, FakeClock, MockTransport, sequential_ids

SHOP = "demo-store.myshopify.com"
GLOOD_URL = "/api/storefront/v3/headless/events"
GENLOOK_URL = "/apps/proxy_genlook-x/public/tracking/events"
TTL = 30 * 60 * 1000
PAGE_A = PageContext(url="https://demo-store.myshopify.com/products/classic-shirt", page_type="product",
                     pageview_id="pv-a", product_id="15441118822774", variant_id="56640794886518",
                     viewport_width=1280, viewport_height=720, user_agent="UA/1")
PAGE_B = PageContext(url="https://demo-store.myshopify.com/collections/all", page_type="collection",
                     pageview_id="pv-b")
TRACK = SectionTrack(section="91740", section_serve_id="3dd1d06b", recommendation_type="similar_products",
                     parent=ProductRef("8833600782669"), products=(ProductRef("6695028293701", "39789995884613"),))


def make(transport: MockTransport | None = None, *, clock: FakeClock | None = None, storage=None,
         rand=lambda: 1.0, log=None, **overrides) -> Pipeline:
    """A pipeline with deterministic doubles; max_batch is large unless overridden."""
    config = Config.from_mapping({"shop_domain": SHOP, "max_batch": 1000, **overrides})
    return Pipeline(config, transport or MockTransport(), clock=clock or FakeClock(now_ms=1_776_335_398_123),
                    storage=MemoryStorage() if storage is None else storage, new_id=sequential_ids("id"),
                    rand=rand, log=log)


def sent_to(pipeline: Pipeline, url_part: str) -> list[dict]:
    return pipeline.transport.bodies(url_part)


def glood_ids(pipeline: Pipeline) -> list[str]:
    return [b["event"]["id"] for b in sent_to(pipeline, "headless/events")]


def genlook_ids(pipeline: Pipeline) -> list[str]:
    return [e["$insert_id"] for b in sent_to(pipeline, "genlook") for e in b["events"]]


def track_n(pipeline: Pipeline, n: int, page: PageContext = PAGE_A, pad: int = 0) -> list[str]:
    return [pipeline.track("glood:section:view", {"pad": "p" * pad} if pad else {}, {"track": TRACK.to_json()},
                           page=page).id for _ in range(n)]


# -- waiting for a visit -------------------------------------------------------------------


def test_glood_waits_for_a_visit_id():
    """Without a visit nothing goes to Glood on any flush, and the events stay queued."""
    pipeline = make()
    track_n(pipeline, 2)
    assert pipeline.needs_session
    for reason in ("timer", "pagehide"):
        report = pipeline.flush(reason)
        assert report.deferred["glood"] == 2
    assert glood_ids(pipeline) == [] and pipeline.pending("glood") == 2


@pytest.mark.parametrize("reason", ["timer", "manual", "size", "cart_add", "session"])
def test_genlook_waits_for_a_visit_on_ordinary_flushes(reason):
    """A non-final flush without a visit sends nothing to Genlook either."""
    pipeline = make()
    track_n(pipeline, 2)
    report = pipeline.flush(reason)
    assert (report.sent, report.deferred) == ([], {"glood": 2, "genlook": 2})
    assert pipeline.transport.sent == []


@pytest.mark.parametrize("reason", ["pagehide", "hidden"])
def test_final_flush_without_a_visit_sends_nothing(reason):
    """As the page goes away without a visit id, Genlook waits with Glood: one event, one session at both."""
    pipeline = make()
    track_n(pipeline, 2)
    report = pipeline.flush(reason)
    assert report.sent == [] and sent_to(pipeline, "genlook") == []
    assert (pipeline.pending("glood"), pipeline.pending("genlook")) == (2, 2)
    assert report.deferred == {"glood": 2, "genlook": 2}


def test_session_unavailable_lets_genlook_go_on_any_flush():
    """When the init endpoint is down Genlook stops waiting; Glood still waits."""
    pipeline = make()
    ids = track_n(pipeline, 2)
    pipeline.session_unavailable = True
    pipeline.flush("timer")
    assert genlook_ids(pipeline) == ids and glood_ids(pipeline) == []
    assert pipeline.pending("glood") == 2


def test_events_queued_before_the_visit_go_after_it_starts():
    """Queued events are sent with the visit id once it arrives."""
    pipeline = make()
    ids = track_n(pipeline, 2)
    pipeline.flush("timer")
    pipeline.start_session("visit-1")
    report = pipeline.flush("session")
    assert report.events_sent == 4
    assert glood_ids(pipeline) == ids and genlook_ids(pipeline) == ids
    assert {b["session_id"] for b in sent_to(pipeline, "headless/events")} == {"visit-1"}
    assert sent_to(pipeline, "genlook")[0]["context"]["$session_id"] == "visit-1"


# -- wire contents -------------------------------------------------------------------------


def test_glood_body_fields():
    """A Glood body carries shop, visit id as session_id, identity, channel, page and an ISO-Z timestamp."""
    pipeline = make()
    pipeline.start_session("visit-1")
    event = pipeline.track("glood:section:view", {}, {"track": TRACK.to_json()}, page=PAGE_A)
    pipeline.flush("timer")
    [body] = sent_to(pipeline, "headless/events")
    assert body == {
        "event": {"id": event.id, "name": "glood:section:view", "type": "custom",
                  "timestamp": "2026-04-16T10:29:58.123Z", "data": {}, "customData": {"track": TRACK.to_json()}},
        "session_id": "visit-1", "user_id": pipeline.identity.user_id, "client_id": pipeline.identity.client_id,
        "shop_domain": SHOP, "channel": "web", "page_type": "product", "page_url": PAGE_A.url,
    }
    assert pipeline.transport.sent[0].url == GLOOD_URL


def test_genlook_body_fields():
    """A Genlook body maps names, uses event.id as $insert_id and carries the page context."""
    pipeline = make()
    pipeline.start_session("visit-1")
    view = pipeline.track("page_viewed", page=PAGE_A)
    section = pipeline.track("glood:section:view", {}, {"track": TRACK.to_json()}, page=PAGE_A)
    pipeline.flush("timer")
    [body] = sent_to(pipeline, "genlook")
    assert [(e["event"], e["$insert_id"], e["timestamp"]) for e in body["events"]] == [
        ("product_page:page_view", view.id, "2026-04-16T10:29:58.123Z"),
        ("section:view", section.id, "2026-04-16T10:29:58.123Z")]
    assert body["events"][1]["properties"]["section_id"] == "91740"
    assert body["context"] == {
        "$current_url": PAGE_A.url, "$host": SHOP, "$session_id": "visit-1", "$pageview_id": "pv-a",
        "$viewport_width": 1280, "$viewport_height": 720, "$user_agent": "UA/1",
        "genlook_client_id": pipeline.identity.client_id, "genlook_product_id": "gid://shopify/Product/15441118822774",
        "genlook_variant_id": "gid://shopify/ProductVariant/56640794886518", "genlook_lib_version": LIB_VERSION}
    assert [s.url for s in pipeline.transport.sent if "genlook" in s.url] == [GENLOOK_URL]


def test_event_id_is_insert_id():
    """The same id is Glood's event.id and Genlook's $insert_id."""
    pipeline = make()
    pipeline.start_session("v")
    ids = track_n(pipeline, 3)
    pipeline.flush("timer")
    assert glood_ids(pipeline) == genlook_ids(pipeline) == ids


def test_public_token_sends_glood_events_with_the_visit_token():
    """With glood_public_token Glood requests carry the visit's token (never the public one) and x-shop;
    Genlook requests carry neither."""
    pipeline = make(glood_public_token="public-1", glood_url="https://storefront.glood.ai/")
    pipeline.start_session("v", token="visit-token-1")
    track_n(pipeline, 2)
    pipeline.flush("timer")
    glood = [s for s in pipeline.transport.sent if "headless" in s.url]
    genlook = [s for s in pipeline.transport.sent if "genlook" in s.url]
    assert len(glood) == 2 and len(genlook) == 1
    assert {s.url for s in glood} == {"https://storefront.glood.ai/api/storefront/v3/headless/events"}
    for sent in glood:
        assert sent.headers["Authorization"] == "Bearer visit-token-1"
        assert sent.headers["x-shop"] == SHOP
        assert sent.headers["Content-Type"] == "application/json"
    assert "Authorization" not in genlook[0].headers


def test_init_answers_disable_analytics_and_set_ids():
    """analytics_enabled false drops what waited and tracks nothing more; init's ids replace ours and are kept."""
    pipeline = make()
    track_n(pipeline, 3)
    pipeline.adopt_identity("user-from-init", None)
    pipeline.start_session("v", analytics=False)
    assert pipeline.pending() == 0 and pipeline.stats["dropped_disabled"] == 3
    assert pipeline.track("page_viewed", page=PAGE_A) is None and pipeline.stats["dropped_disabled"] == 4
    assert pipeline.identity.user_id == "user-from-init"
    assert json.loads(pipeline.storage.get("glood_tracker:identity"))["user_id"] == "user-from-init"


def test_no_token_no_auth_headers():
    """Without glood_token no Authorization header is sent."""
    pipeline = make()
    pipeline.start_session("v")
    track_n(pipeline, 1)
    pipeline.flush("timer")
    assert all("Authorization" not in s.headers for s in pipeline.transport.sent)
    assert len(pipeline.transport.sent) == 2


def test_customer_id_travels_to_glood():
    """A page with a logged-in customer adds customer_id to Glood bodies."""
    pipeline = make()
    pipeline.start_session("v")
    pipeline.track("page_viewed", page=PageContext(url="https://s/", page_type="home", customer_id="cust-1"))
    pipeline.flush("timer")
    assert sent_to(pipeline, "headless/events")[0]["customer_id"] == "cust-1"


# -- batching ----------------------------------------------------------------------------


def test_genlook_batches_at_most_50_events():
    """120 events go to Genlook in bodies of 50, 50 and 20, in order."""
    pipeline = make(max_body_bytes=1_000_000, keepalive_quota_bytes=1_000_000)
    pipeline.start_session("v")
    ids = track_n(pipeline, 120)
    pipeline.flush("timer")
    bodies = sent_to(pipeline, "genlook")
    assert [len(b["events"]) for b in bodies] == [50, 50, 20]
    assert genlook_ids(pipeline) == ids
    assert glood_ids(pipeline) == ids


def test_genlook_max_events_setting():
    """genlook_max_events lowers the per-body count."""
    pipeline = make(genlook_max_events=4)
    pipeline.start_session("v")
    track_n(pipeline, 10)
    pipeline.flush("timer")
    assert [len(b["events"]) for b in sent_to(pipeline, "genlook")] == [4, 4, 2]


def test_genlook_splits_by_bytes():
    """With a small max_body_bytes every Genlook body stays within it and all events go once."""
    pipeline = make(max_body_bytes=2048, keepalive_quota_bytes=1_000_000)
    pipeline.start_session("v")
    ids = track_n(pipeline, 30, pad=200)
    pipeline.flush("timer")
    bodies = [s for s in pipeline.transport.sent if "genlook" in s.url]
    assert len(bodies) > 3
    assert all(len(s.body) <= 2048 for s in bodies)
    assert all(len(s.json()["events"]) > 1 for s in bodies[:-1])
    assert genlook_ids(pipeline) == ids


def test_two_page_contexts_never_share_a_body():
    """Events from two page views (say, before and after a soft navigation) go in separate Genlook bodies."""
    pipeline = make()
    pipeline.start_session("v")
    a1 = pipeline.track("page_viewed", page=PAGE_A).id
    b1 = pipeline.track("page_viewed", page=PAGE_B).id
    a2 = pipeline.track("product_viewed", page=PAGE_A).id
    b2 = pipeline.track("collection_viewed", page=PAGE_B).id
    pipeline.flush("timer")
    bodies = sent_to(pipeline, "genlook")
    assert [[e["$insert_id"] for e in b["events"]] for b in bodies] == [[a1, a2], [b1, b2]]
    assert [b["context"]["$pageview_id"] for b in bodies] == ["pv-a", "pv-b"]
    assert [e["event"] for e in bodies[1]["events"]] == ["collection_page:page_view", "collection_page:collection_view"]


def test_flush_on_size_is_automatic():
    """Reaching max_batch pending events flushes without being asked."""
    pipeline = make(max_batch=3)
    pipeline.start_session("v")
    ids = track_n(pipeline, 2)
    assert pipeline.transport.sent == [] and pipeline.pending() == 2
    ids += track_n(pipeline, 1)
    assert glood_ids(pipeline) == ids and genlook_ids(pipeline) == ids
    assert pipeline.pending() == 0


def test_size_flush_without_visit_keeps_events():
    """A size flush before the visit is known sends nothing and loses nothing."""
    pipeline = make(max_batch=2)
    ids = track_n(pipeline, 5)
    assert pipeline.transport.sent == [] and pipeline.pending() == 5
    pipeline.start_session("v")
    pipeline.flush("session")
    assert glood_ids(pipeline) == ids


# -- keepalive budget ---------------------------------------------------------------------


def test_keepalive_budget_caps_each_flush_and_the_rest_goes_next():
    """A flush sends at most keepalive_quota_bytes in total; leftovers go on later flushes, each once."""
    quota = 4096
    pipeline = make(max_body_bytes=2048, keepalive_quota_bytes=quota)
    pipeline.start_session("v")
    ids = track_n(pipeline, 20, pad=100)
    totals = []
    for _ in range(20):
        if not pipeline.pending():
            break
        report = pipeline.flush("timer")
        totals.append(sum(b.size for b in report.sent))
        assert report.sent, "every flush must make progress"
        assert report.refused == []
    assert len(totals) > 2 and all(0 < t <= quota for t in totals)
    assert pipeline.pending() == 0
    assert Counter(glood_ids(pipeline)) == Counter(ids) and Counter(genlook_ids(pipeline)) == Counter(ids)
    assert set(Counter(glood_ids(pipeline)).values()) == {1} and set(Counter(genlook_ids(pipeline)).values()) == {1}


def test_budget_report_defers_what_did_not_fit():
    """A flush that runs out of budget reports the remaining events as deferred."""
    pipeline = make(max_body_bytes=2048, keepalive_quota_bytes=2048)
    pipeline.start_session("v")
    track_n(pipeline, 10, pad=100)
    report = pipeline.flush("timer")
    assert sum(b.size for b in report.sent) <= 2048
    assert report.deferred == {k: pipeline.pending(k) for k in report.deferred}
    assert sum(report.deferred.values()) > 0 and pipeline.pending() > 0


def test_final_flush_respects_the_budget_too():
    """Even a pagehide flush stays within the keepalive quota."""
    pipeline = make(max_body_bytes=2048, keepalive_quota_bytes=3000)
    pipeline.start_session("v")
    track_n(pipeline, 15, pad=100)
    report = pipeline.flush("pagehide")
    assert 0 < sum(b.size for b in report.sent) <= 3000
    assert pipeline.pending() > 0


def test_flush_alternates_between_destinations():
    """Destinations take turns so one cannot starve the other of the budget."""
    pipeline = make(max_body_bytes=2048, keepalive_quota_bytes=8192, genlook_max_events=1)
    pipeline.start_session("v")
    track_n(pipeline, 10)
    report = pipeline.flush("timer")
    order = [b.destination for b in report.sent]
    assert len(order) >= 4 and pipeline.pending() > 0  # the budget ran out part-way
    assert order[:4] == ["glood", "genlook", "glood", "genlook"]


# -- refusals, backoff, retries -------------------------------------------------------------


def test_refused_send_keeps_events_with_the_same_ids():
    """When the transport refuses, the events stay queued under their original ids."""
    transport = MockTransport(lambda url, body, headers: False)
    pipeline = make(transport)
    pipeline.start_session("v")
    ids = track_n(pipeline, 2)
    report = pipeline.flush("timer")
    assert report.sent == [] and [b.destination for b in report.refused] == ["glood", "genlook"]
    assert report.deferred == {"glood": 2, "genlook": 2}
    assert [e.id for e in pipeline.outboxes["glood"]] == ids == [e.id for e in pipeline.outboxes["genlook"]]
    assert json.loads(transport.refused[0].body)["event"]["id"] == ids[0]
    assert (pipeline.stats["refused_glood"], pipeline.stats["refused_genlook"]) == (1, 1)


def test_backoff_defers_until_the_delay_has_passed():
    """After a refusal a non-final flush does not retry before the backoff delay; it does after."""
    accept = {"ok": False}
    transport = MockTransport(lambda url, body, headers: accept["ok"])
    clock = FakeClock()
    pipeline = make(transport, clock=clock)  # rand=1.0: first delay is exactly 1000 ms
    pipeline.start_session("v")
    ids = track_n(pipeline, 1)
    pipeline.flush("timer")
    accept["ok"] = True
    attempts = len(transport.refused) + len(transport.sent)
    clock.advance(999)
    report = pipeline.flush("timer")
    assert report.deferred == {"glood": 1, "genlook": 1}
    assert len(transport.refused) + len(transport.sent) == attempts
    clock.advance(1)
    pipeline.flush("timer")
    assert glood_ids(pipeline) == ids and genlook_ids(pipeline) == ids


@pytest.mark.parametrize("reason", ["pagehide", "hidden"])
def test_final_flush_ignores_backoff(reason):
    """A pagehide/hidden flush retries at once despite the backoff."""
    accept = {"ok": False}
    pipeline = make(MockTransport(lambda url, body, headers: accept["ok"]))
    pipeline.start_session("v")
    ids = track_n(pipeline, 1)
    pipeline.flush("timer")
    accept["ok"] = True
    pipeline.flush(reason)
    assert glood_ids(pipeline) == ids and genlook_ids(pipeline) == ids


def test_backoff_grows_with_each_failure():
    """Consecutive refusals wait 1 s, then 2 s, then 4 s before the next non-final attempt."""
    transport = MockTransport(lambda url, body, headers: False)
    clock = FakeClock()
    pipeline = make(transport, clock=clock)
    pipeline.start_session("v")
    track_n(pipeline, 1)
    pipeline.flush("timer")  # failure 1 -> 1000 ms
    waits = []
    for _ in range(3):
        before = len(transport.refused)
        waited = 0
        while len(transport.refused) == before:
            clock.advance(100)
            waited += 100
            pipeline.flush("timer")
        waits.append(waited)
    assert waits == [1000, 2000, 4000]


def test_one_destination_refusing_does_not_block_the_other():
    """Glood refusing leaves Genlook delivering normally."""
    pipeline = make(MockTransport(lambda url, body, headers: "genlook" in url))
    pipeline.start_session("v")
    ids = track_n(pipeline, 3)
    pipeline.flush("timer")
    assert genlook_ids(pipeline) == ids
    assert pipeline.pending("glood") == 3 and pipeline.pending("genlook") == 0
    assert not pipeline.retry["glood"].ready(pipeline.clock.monotonic_ms())
    assert pipeline.retry["genlook"].ready(pipeline.clock.monotonic_ms())


def test_partial_refusal_keeps_only_the_unsent_events():
    """If the second Glood body is refused, the first stays sent and the rest stay queued in order."""
    calls = {"n": 0}

    def handler(url, body, headers):
        if "genlook" in url:
            return True
        calls["n"] += 1
        return calls["n"] != 2

    pipeline = make(MockTransport(handler))
    pipeline.start_session("v")
    ids = track_n(pipeline, 3)
    report = pipeline.flush("timer")
    assert glood_ids(pipeline) == ids[:1]
    assert [e.id for e in pipeline.outboxes["glood"]] == ids[1:]
    assert report.deferred == {"glood": 2}
    pipeline.clock.advance(1000)
    pipeline.flush("timer")
    assert glood_ids(pipeline) == ids


def test_event_retried_three_times_is_sent_once_with_one_id():
    """Three refusals then success: every attempt carries the same id and each destination gets it once."""
    attempts: Counter[str] = Counter()

    def handler(url, body, headers):
        kind = "genlook" if "genlook" in url else "glood"
        attempts[kind] += 1
        return attempts[kind] > 3

    transport = MockTransport(handler)
    clock = FakeClock()
    pipeline = make(transport, clock=clock)
    pipeline.start_session("v")
    [event_id] = track_n(pipeline, 1)
    for _ in range(10):
        pipeline.flush("timer")
        clock.advance(60_000)
    assert attempts == Counter({"glood": 4, "genlook": 4})
    assert len(transport.refused) == 6
    tried_glood = [json.loads(s.body)["event"]["id"] for s in transport.refused + transport.sent if "headless" in s.url]
    tried_genlook = [e["$insert_id"] for s in transport.refused + transport.sent if "genlook" in s.url
                     for e in json.loads(s.body)["events"]]
    assert tried_glood == tried_genlook == [event_id] * 4
    assert glood_ids(pipeline) == [event_id] and genlook_ids(pipeline) == [event_id]
    assert pipeline.pending() == 0


def test_success_resets_backoff():
    """After a success the next failure starts again from the shortest delay."""
    accept = {"ok": False}
    clock = FakeClock()
    pipeline = make(MockTransport(lambda url, body, headers: accept["ok"]), clock=clock)
    pipeline.start_session("v")
    track_n(pipeline, 1)
    pipeline.flush("timer")
    clock.advance(1000)
    pipeline.flush("timer")  # second failure
    assert pipeline.retry["glood"].failures == 2
    accept["ok"] = True
    clock.advance(2000)
    pipeline.flush("timer")
    assert pipeline.retry["glood"].failures == 0 and pipeline.retry["glood"].not_before_ms == 0.0


def test_enqueueing_the_same_event_twice_sends_it_once():
    """An event enqueued again (e.g. replayed) is deduplicated by id."""
    pipeline = make()
    pipeline.start_session("v")
    event = pipeline.make_event("page_viewed", page=PAGE_A)
    pipeline.enqueue(event)
    pipeline.enqueue(event)
    assert pipeline.pending() == 1
    pipeline.flush("timer")
    assert glood_ids(pipeline) == [event.id] and genlook_ids(pipeline) == [event.id]


# -- identity and visit across pages ---------------------------------------------------------


def test_identity_persists_across_pipelines():
    """Two pipelines on the same storage (two page loads) share user_id and client_id."""
    storage = MemoryStorage()
    first, second = make(storage=storage), make(storage=storage)
    assert first.identity == second.identity
    second.start_session("v")
    track_n(second, 1)
    second.flush("timer")
    body = sent_to(second, "headless/events")[0]
    assert (body["user_id"], body["client_id"]) == (first.identity.user_id, first.identity.client_id)
    assert sent_to(second, "genlook")[0]["context"]["genlook_client_id"] == first.identity.client_id


def test_broken_storage_still_tracks_with_fresh_ids():
    """With storage disabled each pipeline makes a new identity and still delivers."""
    ids = sequential_ids("b")
    config = Config.from_mapping({"shop_domain": SHOP})
    first = Pipeline(config, MockTransport(), clock=FakeClock(), storage=BrokenStorage(), new_id=ids)
    second = Pipeline(config, MockTransport(), clock=FakeClock(), storage=BrokenStorage(), new_id=ids)
    assert first.identity != second.identity
    assert first.identity.user_id and second.identity.client_id
    second.start_session("v")
    event = second.track("page_viewed", page=PAGE_A)
    second.flush("timer")
    assert glood_ids(second) == [event.id]


def test_corrupt_stored_identity_is_ignored():
    """Corrupt identity JSON in storage is replaced by a fresh identity."""
    storage = MemoryStorage()
    storage.set(IDENTITY_KEY, '{"user_id": ')
    pipeline = make(storage=storage)
    assert (pipeline.identity.user_id, pipeline.identity.client_id) == ("id-1", "id-2")
    assert json.loads(storage.get(IDENTITY_KEY)) == {"user_id": "id-1", "client_id": "id-2"}


def test_visit_resumes_on_next_page_within_ttl():
    """A second pipeline within the TTL reuses the visit without waiting for init."""
    storage, clock = MemoryStorage(), FakeClock()
    first = make(storage=storage, clock=clock)
    first.start_session("visit-1")
    clock.advance(TTL - 1)
    second = make(storage=storage, clock=clock)
    assert not second.needs_session
    track_n(second, 1)
    second.flush("timer")
    assert sent_to(second, "headless/events")[0]["session_id"] == "visit-1"


def test_visit_not_resumed_after_ttl():
    """After the TTL a new page needs a fresh visit."""
    storage, clock = MemoryStorage(), FakeClock()
    make(storage=storage, clock=clock).start_session("visit-1")
    clock.advance(TTL)
    assert make(storage=storage, clock=clock).needs_session


def test_tracking_keeps_the_visit_alive():
    """Each tracked event counts as activity and extends the visit."""
    clock = FakeClock()
    pipeline = make(clock=clock)
    pipeline.start_session("v")
    clock.advance(TTL - 1)
    track_n(pipeline, 1)
    clock.advance(TTL - 1)
    assert not pipeline.needs_session


def test_expired_visit_is_not_revived_by_a_new_event():
    """An event after the visit went idle waits for a new visit instead of reusing the expired one."""
    clock = FakeClock()
    pipeline = make(clock=clock)
    pipeline.start_session("visit-1")
    clock.advance(TTL)
    ids = track_n(pipeline, 1)
    assert pipeline.needs_session
    assert pipeline.flush("timer").deferred["glood"] == 1
    pipeline.start_session("visit-2")
    pipeline.flush("session")
    assert [b["session_id"] for b in sent_to(pipeline, "headless/events")] == ["visit-2"]
    assert glood_ids(pipeline) == ids


# -- bookkeeping ---------------------------------------------------------------------------


def test_stats_count_tracked_sent_refused_and_rejected():
    """stats counts tracked, per-destination sent and refused, and rejected events."""
    pipeline = make(MockTransport(lambda url, body, headers: "genlook" in url))
    pipeline.start_session("v")
    track_n(pipeline, 3)
    with pytest.raises(TrackError):
        pipeline.track("nope", page=PAGE_A)
    pipeline.flush("timer")
    assert pipeline.stats == Counter({"tracked": 3, "sent_genlook": 3, "refused_glood": 1, "rejected": 1})


def test_pending_per_destination_and_overall():
    """pending() is the longest outbox; pending(name) a single one."""
    pipeline = make()
    track_n(pipeline, 3)
    pipeline.session_unavailable = True  # Genlook stops waiting for a visit; Glood cannot
    pipeline.flush("pagehide")
    assert (pipeline.pending(), pipeline.pending("glood"), pipeline.pending("genlook")) == (3, 3, 0)


def test_flush_with_nothing_queued_is_empty():
    """An empty flush sends nothing and reports nothing."""
    pipeline = make()
    pipeline.start_session("v")
    report = pipeline.flush("timer")
    assert (report.reason, report.sent, report.refused, report.deferred, report.events_sent) == \
        ("timer", [], [], {}, 0)


def test_debug_log_only_when_debug_is_on():
    """The log callback hears about queueing and flushing only with debug on."""
    quiet, loud = [], []
    for lines, debug in ((quiet, False), (loud, True)):
        pipeline = make(log=lines.append, debug=debug)
        pipeline.start_session("visit-1")
        track_n(pipeline, 1)
        pipeline.flush("timer")
    assert quiet == []
    assert any(line.startswith("queued glood:section:view id-") for line in loud)
    assert "visit visit-1" in loud
    assert any(line.startswith("flush[timer]: 2 event(s) in 2 request(s)") for line in loud)


def test_track_returns_the_event_and_rejects_before_queueing():
    """track returns the queued event; a rejected one leaves the queues untouched."""
    pipeline = make()
    event = pipeline.track("page_viewed", {"a": 1}, page=PAGE_A, timestamp_ms=1_700_000_000_000)
    assert (event.name, event.data, event.timestamp_ms, event.page) == ("page_viewed", {"a": 1}, 1_700_000_000_000,
                                                                        PAGE_A)
    with pytest.raises(TrackError):
        pipeline.track("page_viewed", {"bad": {1}}, page=PAGE_A)
    assert [e.id for e in pipeline.outboxes["glood"]] == [event.id]


def test_before_send_drops_edits_and_survives_a_broken_hook():
    """A Python before_send sees the event as JSON: None drops it (counted), a changed dict edits it (validated
    again), a hook that raises or answers junk leaves the event as it was (counted)."""
    def hook(event):
        query = event["data"].get("q")
        if query == "drop":
            return None
        if query == "edit":
            return {**event, "data": {"q": "edited"}}
        if query == "junk":
            return ["not", "an", "event"]
        if query == "bad-name":
            return {**event, "name": "no_such_event"}
        raise RuntimeError("hook bug")

    pipeline = make()
    pipeline.before_send = hook
    assert pipeline.track("search_submitted", {"q": "drop"}, page=PAGE_A) is None
    edited = pipeline.track("search_submitted", {"q": "edit"}, page=PAGE_A)
    assert edited is not None and edited.data == {"q": "edited"}
    for query in ("junk", "bad-name", "boom"):
        kept = pipeline.track("search_submitted", {"q": query}, page=PAGE_A)
        assert kept is not None and kept.data == {"q": query} and kept.name == "search_submitted"
    assert pipeline.stats["dropped_before_send"] == 1 and pipeline.stats["before_send_failed"] == 3
    assert pipeline.pending() == 4

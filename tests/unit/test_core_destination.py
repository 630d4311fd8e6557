"""Unit tests for tracker.core.destination: each API's URL, headers, visit rule, wire format and batch limits."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest

from tracker.core.batching import Body
from tracker.core.config import Config
from tracker.core.destination import (
    DEFAULT_DESTINATIONS,
    GENLOOK,
    GLOOD,
    Destination,
    Stamped,
    Target,
    VisitRule,
    fetch_headers,
)
from tracker.core.encoders import genlook_context, genlook_item, glood_body, json_bytes
from tracker.core.events import PageContext
from tracker.core.pipeline import DESTINATIONS, Pipeline
from tracker.core.session import Identity
from tracker.core.storage import MemoryStorage
from tracker.testing import FakeClock, MockTransport, sequential_ids

SHOP = "demo-store.myshopify.com"
PAGE = PageContext(url="https://demo-store.myshopify.com/products/shirt", page_type="product", pageview_id="pv-1",
                   product_id="15441118822774", variant_id="56640794886518")
OTHER_PAGE = PageContext(url="https://demo-store.myshopify.com/cart", page_type="cart", pageview_id="pv-2")
IDENTITY = Identity("user-1", "client-1")


def config(**overrides: object) -> Config:
    return Config.from_mapping({"shop_domain": SHOP, "max_batch": 1000, **overrides})


def pipeline(destinations: Sequence[Destination] | None = None, **overrides: object) -> Pipeline:
    extra = {} if destinations is None else {"destinations": destinations}
    return Pipeline(config(**overrides), MockTransport(), clock=FakeClock(now_ms=1_776_335_398_123),
                    storage=MemoryStorage(), new_id=sequential_ids("id"), **extra)


def stamped(n: int, session_id: str | None = "visit-1", page: PageContext = PAGE) -> list[Stamped]:
    p = pipeline()
    return [(p.make_event("glood:section:view", {"i": i}, page=page), session_id, IDENTITY) for i in range(n)]


def test_default_destinations_are_glood_then_genlook():
    """Every event goes to Glood and Genlook, in that order, under the names the stats and the sensor use."""
    assert [d.name for d in DEFAULT_DESTINATIONS] == ["glood", "genlook"] == list(DESTINATIONS)
    assert pipeline().destinations == DEFAULT_DESTINATIONS


def test_glood_cannot_go_without_a_visit_id():
    """Glood needs a visit id, even when init keeps failing."""
    assert GLOOD.visit is VisitRule.REQUIRED
    assert (GLOOD.may_send(True, False), GLOOD.may_send(False, False), GLOOD.may_send(False, True)) == \
        (True, False, False)


def test_genlook_waits_for_a_visit_id_unless_init_keeps_failing():
    """Genlook waits for the visit id, and goes without one once init keeps failing."""
    assert GENLOOK.visit is VisitRule.PREFERRED
    assert (GENLOOK.may_send(True, False), GENLOOK.may_send(False, False), GENLOOK.may_send(False, True)) == \
        (True, False, True)


def test_urls_come_from_the_config():
    """Glood's events URL hangs off glood_url; Genlook's is genlook_url as given."""
    c = config(glood_url="https://api.example/", genlook_url="https://g.example/events")
    assert GLOOD.url(c) == "https://api.example/api/storefront/v3/headless/events"
    assert GENLOOK.url(c) == "https://g.example/events"
    assert GLOOD.target(c).url == c.glood_events_url and GENLOOK.target(c).url == c.genlook_url


def test_beacon_bodies_carry_no_headers_and_fetch_bodies_a_json_type():
    """By default no destination sets headers (a beacon); with transport "fetch" both send a JSON content type."""
    assert GLOOD.headers(config(), "t") == GENLOOK.headers(config(), "t") == ()
    fetch = config(transport="fetch")
    assert GLOOD.headers(fetch, None) == GENLOOK.headers(fetch, None) == fetch_headers(fetch) == \
        (("Content-Type", "application/json"),)


def test_glood_with_a_public_token_sends_the_visit_token_and_the_shop():
    """With a public token Glood's requests carry the visit's bearer token (when init gave one) and x-shop."""
    c = config(glood_public_token="public-1")
    assert GLOOD.headers(c, "visit-token") == (("Authorization", "Bearer visit-token"), ("x-shop", SHOP),
                                              ("Content-Type", "application/json"))
    assert GLOOD.headers(c, None) == (("x-shop", SHOP), ("Content-Type", "application/json"))
    assert GENLOOK.headers(c, "visit-token") == ()


def test_glood_bodies_are_one_event_each_in_glood_format():
    """Glood gets one HeadlessEventsRequest per event, with the visit id (or "" for none) as session_id."""
    events = stamped(3) + stamped(1, session_id=None)
    bodies = list(GLOOD.bodies(events, config()))
    assert [b.event_ids for b in bodies] == [(e.id,) for e, _, _ in events]
    assert {b.destination for b in bodies} == {"glood"} and {b.url for b in bodies} == {config().glood_events_url}
    for body, (event, session_id, identity) in zip(bodies, events, strict=True):
        assert body.payload == json_bytes(glood_body(event, session_id=session_id or "", identity=identity,
                                                     config=config()))
    assert [json.loads(b.payload)["session_id"] for b in bodies] == ["visit-1"] * 3 + [""]


def test_genlook_bodies_share_a_context_within_the_batch_limit():
    """Genlook batches the events of one page view under one context, at most genlook_max_events a body."""
    events = stamped(5) + stamped(1, page=OTHER_PAGE)
    bodies = list(GENLOOK.bodies(events, config(genlook_max_events=2)))
    assert [len(b.event_ids) for b in bodies] == [2, 2, 1, 1]
    assert {b.destination for b in bodies} == {"genlook"}
    first = json.loads(bodies[0].payload)
    assert [e["$insert_id"] for e in first["events"]] == [events[0][0].id, events[1][0].id]
    assert first["context"]["$session_id"] == "visit-1"
    assert GENLOOK.target(config(genlook_max_events=2)).max_events == 2 and GLOOD.target(config()).max_events == 1


def test_genlook_without_a_visit_has_no_session_in_its_context():
    """A Genlook body sent without a visit id (init failing) leaves `$session_id` out."""
    (body,) = GENLOOK.bodies(stamped(1, session_id=None), config())
    assert "$session_id" not in json.loads(body.payload)["context"]


def test_genlook_bodies_stay_within_max_body_bytes():
    """No Genlook body is larger than max_body_bytes when its events fit one by one."""
    events = stamped(40)
    limit = 2 * GENLOOK.size(events[0][0], "visit-1", IDENTITY, config())
    bodies = list(GENLOOK.bodies(events, config(max_body_bytes=limit)))
    assert len(bodies) > 1 and all(b.size <= limit for b in bodies)
    assert [i for b in bodies for i in b.event_ids] == [e.id for e, _, _ in events]


def test_size_is_the_request_that_carries_the_event_alone():
    """size() is the bytes of the one-event request in each wire format (what the pipeline checks on track)."""
    (event, _, _), c = stamped(1)[0], config()
    assert GLOOD.size(event, "s-1", IDENTITY, c) == len(json_bytes(glood_body(event, session_id="s-1",
                                                                              identity=IDENTITY, config=c)))
    assert GENLOOK.size(event, "s-1", IDENTITY, c) == len(json_bytes(
        {"events": [genlook_item(event)], "context": genlook_context(event, session_id="s-1", identity=IDENTITY)}))


def _lines(stamped: Sequence[Stamped], config: Config, target: Target) -> Iterator[Body]:
    for event, session_id, _identity in stamped:
        yield Body(target.destination, target.url, f"{event.id} {session_id}".encode(), (event.id,), target.headers)


AUDIT = Destination("audit", url=lambda c: "/audit", visit=VisitRule.PREFERRED, headers=lambda c, t: (),
                    encode=_lines, max_events=lambda c: 1)


def test_a_third_destination_is_one_object():
    """A pipeline given another destination queues every event for it and sends it there, counted by name."""
    p = pipeline((*DEFAULT_DESTINATIONS, AUDIT))
    event = p.track("page_viewed", {}, page=PAGE)
    assert event is not None and p.pending("audit") == 1
    p.flush("timer")
    assert p.transport.sent == []  # it waits for a visit id like Genlook
    p.start_session("visit-1")
    p.flush("session")
    assert [s.body for s in p.transport.sent if s.url == "/audit"] == [f"{event.id} visit-1".encode()]
    assert (p.stats["sent_audit"], p.stats["sent_glood"], p.stats["sent_genlook"]) == (1, 1, 1)
    assert p.pending("audit") == 0


def test_a_third_destination_goes_without_a_visit_when_init_keeps_failing():
    """A destination that prefers a visit id goes without one once init keeps failing; Glood still waits."""
    p = pipeline((*DEFAULT_DESTINATIONS, AUDIT))
    event = p.track("page_viewed", {}, page=PAGE)
    assert event is not None
    p.session_unavailable = True
    p.flush("timer")
    assert [s.body for s in p.transport.sent if s.url == "/audit"] == [f"{event.id} None".encode()]
    assert p.pending("glood") == 1


@pytest.mark.parametrize("name", ["", "glood"])
def test_destination_names_must_be_unique_and_non_empty(name: str):
    """A pipeline refuses a destination without a name or with one already taken."""
    with pytest.raises(ValueError):
        pipeline((*DEFAULT_DESTINATIONS, Destination(name, url=AUDIT.url, visit=AUDIT.visit, headers=AUDIT.headers,
                                                     encode=_lines, max_events=AUDIT.max_events)))

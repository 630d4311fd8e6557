"""Unit and property tests for tracker.core.batching (cutting events into bodies)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.core.batching import Body, Budget, genlook_bodies, glood_bodies
from tracker.core.encoders import json_bytes

URL = "/apps/proxy_genlook-x/public/tracking/events"
CTX_A = {"$current_url": "https://s/a", "$pageview_id": "pv-a"}
CTX_B = {"$current_url": "https://s/b", "$pageview_id": "pv-b"}


def item(event_id: str, pad: int = 0) -> dict:
    return {"event": "section:view", "timestamp": "2026-04-16T10:29:58.123Z", "$insert_id": event_id,
            "properties": {"pad": "x" * pad}}


def test_single_context_fits_in_one_body():
    """Three small events of one page view make one body, in order."""
    triples = [(f"e{i}", item(f"e{i}"), CTX_A) for i in range(3)]
    [body] = list(genlook_bodies(triples, url=URL, max_events=50, max_bytes=65536))
    assert body.destination == "genlook" and body.url == URL
    assert body.event_ids == ("e0", "e1", "e2")
    assert json.loads(body.payload) == {"events": [t[1] for t in triples], "context": CTX_A}


def test_at_most_max_events_per_body():
    """120 events split 50/50/20."""
    triples = [(f"e{i}", item(f"e{i}"), CTX_A) for i in range(120)]
    bodies = list(genlook_bodies(triples, url=URL, max_events=50, max_bytes=10**7))
    assert [len(b.event_ids) for b in bodies] == [50, 50, 20]
    assert [i for b in bodies for i in b.event_ids] == [t[0] for t in triples]


def test_split_by_bytes():
    """Bodies stay within max_bytes and are filled greedily."""
    triples = [(f"e{i}", item(f"e{i}", pad=300), CTX_A) for i in range(10)]
    one = len(json_bytes({"events": [triples[0][1]], "context": CTX_A}))
    two = len(json_bytes({"events": [triples[0][1], triples[1][1]], "context": CTX_A}))
    bodies = list(genlook_bodies(triples, url=URL, max_events=50, max_bytes=two))
    assert [len(b.event_ids) for b in bodies] == [2] * 5
    assert all(b.size == two for b in bodies)
    assert [len(b.event_ids) for b in genlook_bodies(triples, url=URL, max_events=50, max_bytes=two - 1)] == [1] * 10
    assert one < two


def test_oversized_item_goes_alone():
    """An item bigger than max_bytes is yielded in a body of its own, neighbours unaffected."""
    triples = [("a", item("a"), CTX_A), ("big", item("big", pad=5000), CTX_A), ("c", item("c"), CTX_A)]
    bodies = list(genlook_bodies(triples, url=URL, max_events=50, max_bytes=1024))
    assert [b.event_ids for b in bodies] == [("a",), ("big",), ("c",)]
    assert bodies[1].size > 1024 and bodies[0].size <= 1024 and bodies[2].size <= 1024


def test_different_contexts_never_share_a_body():
    """Events of two page views go in separate bodies, grouped by context in first-seen order."""
    triples = [("a1", item("a1"), CTX_A), ("b1", item("b1"), CTX_B), ("a2", item("a2"), CTX_A),
               ("b2", item("b2"), CTX_B)]
    bodies = list(genlook_bodies(triples, url=URL, max_events=50, max_bytes=65536))
    assert [b.event_ids for b in bodies] == [("a1", "a2"), ("b1", "b2")]
    assert [json.loads(b.payload)["context"] for b in bodies] == [CTX_A, CTX_B]


def test_equal_contexts_as_distinct_dicts_share_a_body():
    """Contexts are compared by value, not identity."""
    triples = [("a", item("a"), dict(CTX_A)), ("b", item("b"), dict(CTX_A))]
    assert [b.event_ids for b in genlook_bodies(triples, url=URL, max_events=50, max_bytes=65536)] == [("a", "b")]


def test_no_events_no_bodies():
    """An empty queue yields nothing."""
    assert list(genlook_bodies([], url=URL, max_events=50, max_bytes=65536)) == []
    assert list(glood_bodies([], url="/g")) == []


def test_glood_bodies_one_per_event_with_headers():
    """glood_bodies makes one body per event carrying the given headers."""
    headers = (("Authorization", "Bearer t"), ("x-shop", "s.myshopify.com"))
    bodies = list(glood_bodies([("e1", {"event": {"id": "e1"}}), ("e2", {"event": {"id": "e2"}})],
                               url="/glood", headers=headers))
    assert [(b.destination, b.url, b.event_ids, b.headers) for b in bodies] == \
        [("glood", "/glood", ("e1",), headers), ("glood", "/glood", ("e2",), headers)]
    assert bodies[0].payload == b'{"event":{"id":"e1"}}'
    assert bodies[0].size == 21


def test_budget_fits_and_spends():
    """Budget.fits is inclusive and spend reduces what is left."""
    budget = Budget(100)
    assert budget.fits(100) and not budget.fits(101)
    budget.spend(60)
    assert budget.left == 40 and budget.fits(40) and not budget.fits(41)


def test_body_size_is_payload_length():
    """Body.size is the number of payload bytes."""
    assert Body("genlook", "/u", "\u00e9".encode("utf-8"), ("x",)).size == 2


# -- properties -----------------------------------------------------------------------

contexts = st.lists(
    st.fixed_dictionaries({"$current_url": st.text(max_size=30), "$pageview_id": st.text(max_size=10),
                           "$viewport_width": st.integers(0, 4000)}),
    min_size=1, max_size=4)


@st.composite
def queues(draw):
    pool = draw(contexts)
    ids = draw(st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=80, unique=True))
    out = []
    for event_id in ids:
        pad = draw(st.integers(0, 700))
        ctx = draw(st.sampled_from(pool))
        out.append((event_id, {"event": "section:view", "$insert_id": event_id, "properties": {"p": "\u00e9" * pad}},
                    ctx))
    return out


@settings(max_examples=120, deadline=None, database=None)
@given(queues(), st.integers(1, 50), st.integers(200, 6000))
def test_genlook_bodies_properties(triples, max_events, max_bytes):
    """Bodies are canonical JSON with 1..max_events events, within max_bytes unless single, one context each,
    order-preserving per context, covering every id exactly once, and greedily filled."""
    by_id = {t[0]: t for t in triples}
    bodies = list(genlook_bodies(triples, url=URL, max_events=max_events, max_bytes=max_bytes))
    seen: list[str] = []
    for body in bodies:
        decoded = json.loads(body.payload.decode("utf-8"))
        assert set(decoded) == {"events", "context"}
        assert json_bytes(decoded) == body.payload  # exactly what json_bytes would produce
        assert 1 <= len(decoded["events"]) <= max_events
        assert body.size <= max_bytes or len(decoded["events"]) == 1
        assert [e["$insert_id"] for e in decoded["events"]] == list(body.event_ids)
        assert decoded["events"] == [by_id[i][1] for i in body.event_ids]
        assert all(by_id[i][2] == decoded["context"] for i in body.event_ids)
        seen.extend(body.event_ids)
    assert sorted(seen) == sorted(by_id) and len(seen) == len(by_id)
    # order within each context is the queue order
    for ctx in {json_bytes(t[2]) for t in triples}:
        queue_order = [t[0] for t in triples if json_bytes(t[2]) == ctx]
        assert [i for i in seen if json_bytes(by_id[i][2]) == ctx] == queue_order
    # greedy: a body followed by another of the same context could not take that one's first event
    for body, nxt in zip(bodies, bodies[1:], strict=False):
        if json_bytes(by_id[body.event_ids[0]][2]) != json_bytes(by_id[nxt.event_ids[0]][2]):
            continue
        grown = json_bytes({"events": [by_id[i][1] for i in body.event_ids + nxt.event_ids[:1]],
                            "context": by_id[body.event_ids[0]][2]})
        assert len(body.event_ids) == max_events or len(grown) > max_bytes

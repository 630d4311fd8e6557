"""Property tests: what the tracker core encodes passes the demo store's schemas, and broken bodies never do."""

from __future__ import annotations

import calendar
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import json_objects, json_scalars, pages

from demo_store.api import MAX_BODY_BYTES
from demo_store.schemas import GENLOOK_EVENTS, GLOOD_EVENTS, json_path
from tracker.core.batching import genlook_bodies, glood_bodies
from tracker.core.config import Config
from tracker.core.encoders import genlook_context, genlook_item, glood_body
from tracker.core.events import EVENT_NAMES, PAGE_TYPES, Event, PageContext
from tracker.core.session import Identity

CONFIG = Config.from_mapping({"shop_domain": "demo-store.myshopify.com"})
IDENTITY = Identity(user_id="user-1", client_id="client-1")
GENLOOK_MAX_EVENTS = 50
FAST = settings(max_examples=20, deadline=None, database=None)
FEW = settings(max_examples=10, deadline=None, database=None)

# -- what the tracker builds (mirrors tests/unit/test_core_encoders.py) -----------------



def events_on(page_strategy: st.SearchStrategy[PageContext],
              data: st.SearchStrategy[dict[str, Any]] = json_objects) -> st.SearchStrategy[Event]:
    return st.builds(Event, id=st.uuids().map(str), name=st.sampled_from(sorted(EVENT_NAMES)),
                     timestamp_ms=st.integers(0, 4_102_444_800_000), page=page_strategy, data=data,
                     custom_data=data)


events = events_on(pages)
#: Cheaper events for the many-event and mutation properties (their data matters less than their number).
small_objects = st.dictionaries(st.sampled_from(["a", "b", "track"]), json_scalars, max_size=2)
sessions = st.text(min_size=1, max_size=40)
channels = st.sampled_from(["web", "mobile", "headless", "hydrogen"])

# Padding in 1-, 2- and 3-byte characters, so that bodies get cut by bytes, not characters.
paddings = st.builds(lambda char, n: {"pad": char * n}, st.sampled_from(["x", "\u00e9", "\u20ac"]),
                     st.integers(0, 6000))


@st.composite
def batches(draw: st.DrawFn) -> list[Event]:
    """1..110 events over a few page views (so contexts are shared), some padded to kilobytes."""
    views = draw(st.lists(pages, min_size=1, max_size=2))
    count = draw(st.integers(1, 110))
    return draw(st.lists(events_on(st.sampled_from(views), small_objects | paddings), min_size=count,
                         max_size=count, unique_by=lambda e: e.id))


def a_glood_body(event: Event, session_id: str = "visit-1", config: Config = CONFIG) -> dict[str, Any]:
    return glood_body(event, session_id=session_id, identity=IDENTITY, config=config)


def a_genlook_body(batch: list[Event]) -> dict[str, Any]:
    """Every event's item with the first event's context: one body as the tracker would send it."""
    return {"events": [genlook_item(e) for e in batch],
            "context": genlook_context(batch[0], session_id="visit-1", identity=IDENTITY)}


@FAST
@given(events, sessions, channels)
def test_glood_bodies_from_the_tracker_pass_the_schema(event: Event, session_id: str, channel: str) -> None:
    """Every Glood body the tracker puts on the wire is accepted by the Glood events schema."""
    config = Config.from_mapping({"shop_domain": "demo-store.myshopify.com", "channel": channel})
    body = a_glood_body(event, session_id, config)
    [wire] = glood_bodies([(event.id, body)], url=config.glood_events_url)
    assert GLOOD_EVENTS.problem(json.loads(wire.payload)) is None


@FEW
@given(batches(), st.none() | sessions)
def test_genlook_bodies_from_the_tracker_pass_the_schema_and_limits(batch: list[Event],
                                                                    session_id: str | None) -> None:
    """Every Genlook body cut by the tracker passes the schema, has 1..50 events and at most 64 KiB."""
    triples = [(e.id, genlook_item(e), genlook_context(e, session_id=session_id, identity=IDENTITY))
               for e in batch]
    bodies = list(genlook_bodies(triples, url=CONFIG.genlook_url, max_events=CONFIG.genlook_max_events,
                                 max_bytes=CONFIG.max_body_bytes))
    for wire in bodies:
        decoded = json.loads(wire.payload)
        assert GENLOOK_EVENTS.problem(decoded) is None
        assert 1 <= len(decoded["events"]) <= GENLOOK_MAX_EVENTS
        assert wire.size <= MAX_BODY_BYTES
        assert [item["$insert_id"] for item in decoded["events"]] == list(wire.event_ids)
    assert sorted(i for wire in bodies for i in wire.event_ids) == sorted(e.id for e in batch)


# -- what must be refused -----------------------------------------------------------------

DESTINATIONS = ("glood", "genlook")
SCHEMAS = {"glood": GLOOD_EVENTS, "genlook": GENLOOK_EVENTS}
JsonPath = tuple[str | int, ...]


def json_type(value: Any) -> str:
    """The JSON Schema type of a JSON value (an integral float counts as an integer, as in JSON Schema)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


values_by_type: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(-(2**53), 2**53),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    "string": st.text(max_size=10),
    "array": st.lists(json_scalars, max_size=3),
    "object": st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
}


def get(body: Any, path: JsonPath) -> Any:
    for key in path:
        body = body[key]
    return body


def with_value(body: dict[str, Any], path: JsonPath, value: Any = ...) -> dict[str, Any]:
    """A deep copy of `body` with the value at `path` replaced, or removed when `value` is `...`."""
    out = copy.deepcopy(body)
    parent = get(out, path[:-1])
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


GLOOD_REQUIRED: list[JsonPath] = [("event",), ("session_id",), ("event", "id"), ("event", "name")]
GLOOD_TYPED: list[JsonPath] = [
    ("event",), ("event", "id"), ("event", "name"), ("event", "type"), ("event", "timestamp"), ("event", "data"),
    ("event", "customData"), ("session_id",), ("user_id",), ("client_id",), ("customer_id",), ("shop_domain",),
    ("channel",), ("page_type",), ("page_url",)]
GENLOOK_CONTEXT_KEYS = ("$current_url", "$host", "$session_id", "$pageview_id", "$user_agent", "genlook_client_id",
                        "genlook_product_id", "genlook_variant_id", "genlook_lib_version", "$viewport_width",
                        "$viewport_height")


#: Pages with every optional field known, so that bodies carry every optional key to break.
full_pages = st.builds(
    PageContext,
    url=st.text(max_size=20).map(lambda s: "https://shop.example/" + s),
    page_type=st.sampled_from(PAGE_TYPES),
    pageview_id=st.text(min_size=1, max_size=12),
    product_id=st.text(min_size=1, max_size=12),
    variant_id=st.text(min_size=1, max_size=12),
    viewport_width=st.integers(0, 5000),
    viewport_height=st.integers(0, 5000),
    user_agent=st.text(min_size=1, max_size=30),
    customer_id=st.text(min_size=1, max_size=10),
)


def valid_bodies(destination: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid bodies built by the tracker: one Glood event, or 1..3 Genlook events of one page view."""
    if destination == "glood":
        return events_on(full_pages, small_objects).map(a_glood_body)
    return full_pages.flatmap(lambda page: st.lists(events_on(st.just(page), small_objects), min_size=1, max_size=3,
                                               unique_by=lambda e: e.id)).map(a_genlook_body)


def required_paths(destination: str, body: dict[str, Any]) -> list[JsonPath]:
    if destination == "glood":
        return GLOOD_REQUIRED
    per_event = [("events", i, key) for i in range(len(body["events"])) for key in ("event", "timestamp", "$insert_id")]
    return [("events",), ("context",), *per_event]


def typed_paths(destination: str, body: dict[str, Any]) -> list[JsonPath]:
    """Paths to the typed fields present in `body`."""
    if destination == "glood":
        return GLOOD_TYPED
    per_event = [path for i in range(len(body["events"]))
                 for path in [("events", i), *(("events", i, key) for key in body["events"][i])]]
    context = [("context", key) for key in GENLOOK_CONTEXT_KEYS]
    return [("events",), ("context",), *per_event, *context]


@pytest.mark.parametrize("destination", DESTINATIONS)
@FAST
@given(data=st.data())
def test_dropping_any_required_field_is_refused_naming_its_parent(destination: str, data: st.DataObject) -> None:
    """A valid body without any one of its required fields is refused at the parent's path, naming the field."""
    schema, body = SCHEMAS[destination], data.draw(valid_bodies(destination))
    assert schema.problem(body) is None
    for path in required_paths(destination, body):
        message = schema.problem(with_value(body, path))
        assert message == f"{json_path(path[:-1])}: {path[-1]!r} is a required property", path


@pytest.mark.parametrize("destination", DESTINATIONS)
@FEW
@given(data=st.data())
def test_a_value_of_another_json_type_is_refused_naming_its_path(destination: str, data: st.DataObject) -> None:
    """Replacing any typed field with a value of another JSON type is refused at that field's path."""
    schema, body = SCHEMAS[destination], data.draw(valid_bodies(destination))
    for path in typed_paths(destination, body):
        other = data.draw(st.sampled_from([t for t in values_by_type if t != json_type(get(body, path))]))
        value = data.draw(values_by_type[other])
        message = schema.problem(with_value(body, path, value))
        assert message is not None, f"{json_path(path)} = {value!r} was accepted"
        assert message.startswith(f"{json_path(path)}: "), message
        assert "is not of type" in message or "is not one of" in message, message


@FAST
@given(events_on(pages, st.just({})), st.integers(GENLOOK_MAX_EVENTS + 1, 120))
def test_more_than_50_events_are_refused(event: Event, count: int) -> None:
    """A Genlook body of 51 or more (otherwise valid) events is refused at `events` with the count."""
    item = genlook_item(event)
    body = {"events": [{**item, "$insert_id": f"{item['$insert_id']}-{n}"} for n in range(count)],
            "context": genlook_context(event, session_id="visit-1", identity=IDENTITY)}
    assert GENLOOK_EVENTS.problem({**body, "events": body["events"][:GENLOOK_MAX_EVENTS]}) is None
    assert GENLOOK_EVENTS.problem(body) == f"events: has {count} items, at most {GENLOOK_MAX_EVENTS} allowed"


def _stamp(year: int, month: int, day: int, hour: int, minute: int, second: int, zone: str = "Z") -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.123{zone}"


BREAKAGES = ("month", "day", "hour", "minute", "second", "offset", "no zone", "space", "date only", "words", "empty")


@st.composite
def bad_date_times(draw: st.DrawFn, broken: str) -> str:
    """A string that is not an RFC 3339 date-time, broken the `broken` way."""
    year, month = draw(st.integers(1970, 2100)), draw(st.integers(1, 12))
    last_day = calendar.monthrange(year, month)[1]
    day = draw(st.integers(1, last_day))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    good = _stamp(year, month, day, hour, minute, second)
    if broken == "month":
        return _stamp(year, draw(st.sampled_from([0, *range(13, 100)])), day, hour, minute, second)
    if broken == "day":
        return _stamp(year, month, draw(st.sampled_from([0, *range(last_day + 1, 100)])), hour, minute, second)
    if broken == "hour":
        return _stamp(year, month, day, draw(st.integers(24, 99)), minute, second)
    if broken == "minute":
        return _stamp(year, month, day, hour, draw(st.integers(60, 99)), second)
    if broken == "second":  # 60 is a leap second, allowed
        return _stamp(year, month, day, hour, minute, draw(st.integers(61, 99)))
    if broken == "offset":
        zone = draw(st.sampled_from(["+24:00", "-25:30", "+05:60", "+0530", "+5:30", "UTC"]))
        return _stamp(year, month, day, hour, minute, second, zone)
    if broken == "no zone":
        return good[:-1]
    if broken == "space":
        return good.replace("T", " ")
    if broken == "date only":
        return good[:10]
    if broken == "words":
        return draw(st.text(st.characters(exclude_categories=["Nd"]), max_size=30))
    return ""


@pytest.mark.parametrize("destination", DESTINATIONS)
@FEW
@given(data=st.data())
def test_bad_date_time_strings_are_refused_naming_the_path(destination: str, data: st.DataObject) -> None:
    """Every kind of broken timestamp is refused at its JSON path as not a valid date-time."""
    schema, body = SCHEMAS[destination], data.draw(valid_bodies(destination))
    stamps: list[JsonPath] = [("event", "timestamp")] if destination == "glood" else \
        [("events", i, "timestamp") for i in range(len(body["events"]))]
    for broken in BREAKAGES:
        bad = data.draw(bad_date_times(broken))
        path = data.draw(st.sampled_from(stamps))
        message = schema.problem(with_value(body, path, bad))
        assert message is not None, f"{broken}: {bad!r} was accepted"
        assert message.startswith(f"{json_path(path)}: "), message
        assert message.endswith(" is not a valid date-time"), message

"""Unit tests for tracker.core.events and Pipeline.make_event validation."""

from __future__ import annotations

import ast
import functools
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.core.config import Config
from tracker.core.events import (
    CUSTOM_EVENTS,
    EVENT_NAMES,
    PAGE_TYPES,
    STANDARD_EVENTS,
    Event,
    PageContext,
    ProductRef,
    SectionTrack,
    TrackError,
    check_json_object,
    event_type,
    iso_timestamp,
)
from tracker.core.pipeline import Pipeline
from tracker.core.storage import MemoryStorage
from tracker.testing import FakeClock, MockTransport, sequential_ids

#: The `event.name` enum of Glood's HeadlessEventsRequest, verbatim from the OpenAPI seed.
OPENAPI_NAMES = [
    "page_viewed", "product_viewed", "product_added_to_cart", "product_removed_from_cart",
    "cart_viewed", "checkout_started", "checkout_completed", "checkout_shipping_info_submitted",
    "checkout_contact_info_submitted", "checkout_address_info_submitted", "payment_info_submitted",
    "collection_viewed", "search_submitted", "glood:section:view", "glood:section:click",
    "glood:section:add_to_cart", "glood:section:render", "glood:bundle:view", "glood:bundle:click",
    "glood:bundle:add_to_cart", "glood:bundle:render", "glood:checkout:render",
    "glood:checkout:add_to_cart", "glood:checkout:offer_accept", "glood:checkout:offer_reject",
    "glood:checkout:click", "glood:init", "glood:customer_preference",
]
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PAGE = PageContext(url="https://demo-store.myshopify.com/products/shirt", page_type="product",
                   pageview_id="pv-1", product_id="111", variant_id="222")
CORE_DIR = Path(__file__).resolve().parents[2] / "tracker" / "core"


def make_pipeline(**overrides) -> Pipeline:
    config = Config.from_mapping({"shop_domain": "demo-store.myshopify.com", "max_batch": 1000, **overrides})
    return Pipeline(config, MockTransport(), clock=FakeClock(now_ms=1_776_335_398_123),
                    storage=MemoryStorage(), new_id=sequential_ids("id"))


# -- names and types ------------------------------------------------------------------


def test_event_names_match_openapi_enum_exactly():
    """EVENT_NAMES is exactly the OpenAPI enum of Glood event names."""
    assert EVENT_NAMES == frozenset(OPENAPI_NAMES)
    assert len(STANDARD_EVENTS) + len(CUSTOM_EVENTS) == len(OPENAPI_NAMES)


@pytest.mark.parametrize("name", OPENAPI_NAMES)
def test_every_glood_event_name_is_accepted(name):
    """make_event accepts every Glood event name and keeps it verbatim."""
    event = make_pipeline().make_event(name, {}, {}, page=PAGE)
    assert event.name == name
    assert event.type == ("custom" if name.startswith("glood:") else "standard")


@pytest.mark.parametrize("name", STANDARD_EVENTS)
def test_standard_events_have_type_standard(name):
    """Shopify-style events are Glood type "standard"."""
    assert event_type(name) == "standard"


@pytest.mark.parametrize("name", CUSTOM_EVENTS)
def test_glood_events_have_type_custom(name):
    """glood:* events are Glood type "custom"."""
    assert event_type(name) == "custom"


@pytest.mark.parametrize("name", ["page_view", "glood:section:hover", "PAGE_VIEWED", "", "glood:section:view "])
def test_unknown_event_names_are_rejected_with_the_name_in_the_message(name):
    """An unknown name raises TrackError quoting the name."""
    with pytest.raises(TrackError, match="unknown event name") as info:
        make_pipeline().make_event(name, page=PAGE)
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", [None, 42, b"page_viewed", ["page_viewed"]])
def test_non_string_event_names_are_rejected(name):
    """A name that is not a str raises TrackError naming its type."""
    with pytest.raises(TrackError, match=f"event name must be a string, not {type(name).__name__}"):
        make_pipeline().make_event(name, page=PAGE)


def test_page_types_cover_openapi_enum():
    """PAGE_TYPES is the OpenAPI page_type enum."""
    assert set(PAGE_TYPES) == {"home", "product", "collection", "cart", "checkout", "order_status", "search", "other"}


# -- data validation ------------------------------------------------------------------


@pytest.mark.parametrize("data, kind", [([1, 2], "list"), ("text", "str"), (7, "int"), ((1,), "tuple"),
                                        ({1, 2}, "set")])
def test_non_object_data_is_rejected(data, kind):
    """data that is not a mapping raises TrackError naming the field and type."""
    with pytest.raises(TrackError, match=f"^data must be an object, not {kind}$"):
        make_pipeline().make_event("page_viewed", data, page=PAGE)


def test_non_object_custom_data_is_rejected():
    """customData that is not a mapping raises TrackError naming customData."""
    with pytest.raises(TrackError, match="^customData must be an object, not list$"):
        make_pipeline().make_event("glood:section:view", {}, ["track"], page=PAGE)


@pytest.mark.parametrize("bad", [
    {"s": {1, 2}},
    {"n": math.nan},
    {"i": math.inf},
    {"neg": -math.inf},
    {"o": object()},
    {"deep": [{"x": [frozenset()]}]},
    {(1, 2): "tuple key"},
    {"b": b"bytes"},
])
def test_non_json_data_is_rejected(bad):
    """Sets, NaN, infinities, objects, bytes and tuple keys raise TrackError 'not JSON-serialisable'."""
    with pytest.raises(TrackError, match="^data is not JSON-serialisable: "):
        make_pipeline().make_event("page_viewed", bad, page=PAGE)
    with pytest.raises(TrackError, match="^customData is not JSON-serialisable: "):
        make_pipeline().make_event("page_viewed", {}, bad, page=PAGE)


def test_self_referencing_data_is_rejected():
    """A circular structure raises TrackError rather than looping."""
    data: dict = {}
    data["me"] = data
    with pytest.raises(TrackError, match="refers to itself"):
        make_pipeline().make_event("page_viewed", data, page=PAGE)


def test_deeply_nested_data_is_rejected_with_track_error():
    """Data nested deeper than the recursion limit raises TrackError (checked without recursion: in Pyodide
    serialising it would overflow the stack)."""
    data: dict = {}
    inner = data
    for _ in range(2_000):  # past CPython's recursion limit; far deeper kills Pyodide merely by being freed
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(TrackError, match="nested more than 32"):
        check_json_object(data, "data")


def test_none_data_becomes_empty_objects():
    """None for data and customData becomes {}."""
    event = make_pipeline().make_event("page_viewed", None, None, page=PAGE)
    assert event.data == {} and event.custom_data == {}


def test_data_is_a_detached_json_copy():
    """The event keeps a JSON copy: later mutation of the caller's dict does not leak in."""
    data = {"list": [1, 2], "nested": {"a": 1}}
    event = make_pipeline().make_event("page_viewed", data, page=PAGE)
    data["list"].append(3)
    data["nested"]["a"] = 99
    assert event.data == {"list": [1, 2], "nested": {"a": 1}}


def test_check_json_object_normalises_tuples_and_int_keys():
    """Tuples become lists and int keys become strings, as JSON would."""
    assert check_json_object({"t": (1, 2), 3: "x"}, "data") == {"t": [1, 2], "3": "x"}


def test_oversized_event_is_rejected_and_counted():
    """An event bigger than max_body_bytes encoded raises TrackError, is counted and not queued."""
    pipeline = make_pipeline()
    with pytest.raises(TrackError, match=r"is \d+ bytes encoded; one request may carry at most 65536"):
        pipeline.track("page_viewed", {"blob": "x" * 70_000}, page=PAGE)
    assert pipeline.stats["rejected"] == 1
    assert pipeline.pending() == 0


def test_size_limit_counts_utf8_bytes_not_characters():
    """The size check uses UTF-8 bytes: 700 three-byte characters do not fit in 2048 bytes."""
    pipeline = make_pipeline(max_body_bytes=2048, keepalive_quota_bytes=2048)
    pipeline.make_event("page_viewed", {"t": "a" * 700}, page=PAGE)
    with pytest.raises(TrackError, match="bytes encoded"):
        pipeline.make_event("page_viewed", {"t": "\u20ac" * 700}, page=PAGE)


def test_size_limit_boundary_is_inclusive():
    """An event whose largest encoding is exactly max_body_bytes is accepted; one byte more is not."""
    pipeline = make_pipeline(max_body_bytes=2048, keepalive_quota_bytes=2048)
    with pytest.raises(TrackError) as info:
        pipeline.make_event("page_viewed", {"t": "x" * 5000}, page=PAGE)
    fill = 2048 - (int(re.search(r"is (\d+) bytes", str(info.value)).group(1)) - 5000)
    assert 0 < fill < 2048
    assert pipeline.make_event("page_viewed", {"t": "x" * fill}, page=PAGE).data["t"] == "x" * fill
    with pytest.raises(TrackError, match="is 2049 bytes"):
        pipeline.make_event("page_viewed", {"t": "x" * (fill + 1)}, page=PAGE)


# -- ids and timestamps ---------------------------------------------------------------


def test_event_ids_come_from_the_id_factory_and_are_unique():
    """Each event gets the next id of the injected factory."""
    pipeline = make_pipeline()
    ids = [pipeline.make_event("page_viewed", page=PAGE).id for _ in range(3)]
    assert ids == ["id-3", "id-4", "id-5"]  # id-1/id-2 went to the visitor identity


def test_timestamp_defaults_to_clock_and_can_be_given():
    """timestamp_ms defaults to the clock's now; an explicit one (even a float) is kept as int."""
    pipeline = make_pipeline()
    assert pipeline.make_event("page_viewed", page=PAGE).timestamp_ms == 1_776_335_398_123
    event = pipeline.make_event("page_viewed", page=PAGE, timestamp_ms=1_700_000_000_456.9)
    assert event.timestamp_ms == 1_700_000_000_456
    assert event.timestamp == "2023-11-14T22:13:20.456Z"


@pytest.mark.parametrize("bad", [math.nan, math.inf, 10**20, "soon"])
def test_unusable_timestamps_are_rejected_with_track_error(bad):
    """A timestamp that is not usable epoch milliseconds raises TrackError."""
    with pytest.raises(TrackError, match="timestamp_ms"):
        make_pipeline().make_event("page_viewed", page=PAGE, timestamp_ms=bad)


@pytest.mark.parametrize("epoch_ms, expected", [
    (0, "1970-01-01T00:00:00.000Z"),
    (1, "1970-01-01T00:00:00.001Z"),
    (999, "1970-01-01T00:00:00.999Z"),
    (1_776_335_398_123, "2026-04-16T10:29:58.123Z"),
    (1_776_335_398_999, "2026-04-16T10:29:58.999Z"),
    (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
])
def test_iso_timestamp_examples(epoch_ms, expected):
    """iso_timestamp renders UTC with milliseconds and a Z."""
    assert iso_timestamp(epoch_ms) == expected


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_iso_timestamp_is_rfc3339_z_and_exact(epoch_ms):
    """For any epoch ms, iso_timestamp matches RFC 3339 with Z and denotes exactly that instant."""
    text = iso_timestamp(epoch_ms)
    assert RFC3339_Z.match(text), text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)


# -- records --------------------------------------------------------------------------


def test_event_properties_derive_type_and_timestamp():
    """Event.type and Event.timestamp are derived from name and timestamp_ms."""
    event = Event("e1", "glood:section:view", 1_776_335_398_123, PAGE)
    assert (event.type, event.timestamp) == ("custom", "2026-04-16T10:29:58.123Z")


def test_section_track_to_json_full():
    """SectionTrack.to_json emits Glood's camelCase track with parent and products."""
    track = SectionTrack(section="221939", section_serve_id="2ec3ae42", request_id="1776322091-05bd",
                         recommendation_type="similar_products", page="46334",
                         parent=ProductRef("15441118822774", None),
                         products=(ProductRef("15441118953846", "56640794886518"), ProductRef("2", None, 3)))
    assert track.to_json() == {
        "section": "221939", "page": "46334",
        "parent": {"productId": "15441118822774", "variantId": None},
        "products": [{"productId": "15441118953846", "variantId": "56640794886518", "quantity": 1},
                     {"productId": "2", "variantId": None, "quantity": 3}],
        "requestId": "1776322091-05bd", "sectionServeId": "2ec3ae42", "recommendationType": "similar_products",
    }


def test_section_track_to_json_minimal_omits_absent_fields():
    """Optional fields that are None are left out; products is always present."""
    assert SectionTrack(section="1").to_json() == {"section": "1", "products": []}


def test_section_track_with_products_replaces_only_products():
    """with_products keeps every other field and swaps the products."""
    track = SectionTrack("1", "serve", "req", "rt", "p", ProductRef("9"), (ProductRef("a"), ProductRef("b")))
    one = track.with_products((ProductRef("b", "v"),))
    assert one.products == (ProductRef("b", "v"),)
    assert (one.section, one.section_serve_id, one.request_id, one.recommendation_type, one.page, one.parent) == \
        ("1", "serve", "req", "rt", "p", ProductRef("9"))


@pytest.mark.parametrize("url, host", [
    ("https://demo-store.myshopify.com/products/x", "demo-store.myshopify.com"),
    ("http://127.0.0.1:8000/cart?x=1", "127.0.0.1:8000"),
    ("http://example.com?q=1", "example.com"),
    ("https://example.com", "example.com"),
    ("", ""),
])
def test_page_context_host(url, host):
    """PageContext.host is the authority of the URL."""
    assert PageContext(url=url).host == host


def test_core_has_no_browser_imports():
    """No module of tracker/core imports js, pyodide or pyscript (it must run in CPython)."""
    offenders = []
    for path in sorted(CORE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}:{n}" for n in names if n.split(".")[0] in {"js", "pyodide", "pyscript"}]
    assert len(list(CORE_DIR.glob("*.py"))) >= 10
    assert offenders == []


def test_event_json_data_survives_round_trip():
    """Accepted data round-trips through JSON unchanged."""
    data = {"a": [1, 2.5, None, True, "\u00e9"], "b": {"c": {}}}
    event = make_pipeline().make_event("page_viewed", data, page=PAGE)
    assert json.loads(json.dumps(event.data)) == data == event.data


@pytest.mark.parametrize("data, message", [
    ({"q": "\ud800"}, "lone surrogate"),
    ({"\udfff": 1}, "lone surrogate"),
    (functools.reduce(lambda inner, _: {"d": inner}, range(40), {}), "nested more than 32"),
])
def test_data_that_no_collector_would_take_is_refused(data, message):
    """Lone surrogates and nesting past 32 levels are a TrackError, as the collectors would refuse them."""
    with pytest.raises(TrackError, match=message):
        check_json_object(data, "data")


def test_nesting_up_to_the_limit_is_accepted():
    """32 levels of nesting are fine."""
    data = functools.reduce(lambda inner, _: {"d": inner}, range(31), {"x": 1})
    assert check_json_object(data, "data") == data

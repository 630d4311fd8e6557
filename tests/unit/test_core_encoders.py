"""Unit and property tests for tracker.core.encoders (Glood and Genlook wire formats)."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import json_objects, pages

from tracker.core.batching import glood_bodies
from tracker.core.config import Config
from tracker.core.encoders import LIB_VERSION, genlook_body, genlook_context, genlook_item, glood_body, json_bytes
from tracker.core.events import EVENT_NAMES, Event, PageContext, ProductRef, SectionTrack
from tracker.core.naming import genlook_name
from tracker.core.session import Identity

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CONFIG = Config.from_mapping({"shop_domain": "demo-store.myshopify.com"})
IDENTITY = Identity(user_id="user-1", client_id="client-1")
PAGE = PageContext(url="https://demo-store.myshopify.com/products/classic-shirt", page_type="product",
                   pageview_id="pv-1", product_id="15441118822774", variant_id="56640794886518",
                   viewport_width=1280, viewport_height=720, user_agent="Mozilla/5.0 Test")
TRACK = SectionTrack(section="221939", section_serve_id="2ec3ae42-40f4-44ec-9aa8-dd907474b51c",
                     request_id="1776322091-05bd288e", recommendation_type="similar_products", page="46334",
                     parent=ProductRef("15441118822774", None),
                     products=(ProductRef("15441118953846", "56640794886518"),))
EVENT = Event("evt-1", "glood:section:add_to_cart", 1_776_335_398_123, PAGE, {}, {"track": TRACK.to_json()})


def test_glood_body_has_every_field():
    """glood_body is the HeadlessEventsRequest with session, ids, shop, channel and page."""
    body = glood_body(EVENT, session_id="visit-9", identity=IDENTITY, config=CONFIG)
    assert body == {
        "event": {"id": "evt-1", "name": "glood:section:add_to_cart", "type": "custom",
                  "timestamp": "2026-04-16T10:29:58.123Z", "data": {}, "customData": {"track": TRACK.to_json()}},
        "session_id": "visit-9", "user_id": "user-1", "client_id": "client-1",
        "shop_domain": "demo-store.myshopify.com", "channel": "web",
        "page_type": "product", "page_url": "https://demo-store.myshopify.com/products/classic-shirt",
    }


def test_glood_body_standard_event_and_channel():
    """A standard event has type standard; the configured channel is used."""
    config = Config.from_mapping({"shop_domain": "s.myshopify.com", "channel": "headless"})
    event = Event("e", "page_viewed", 0, PageContext(url="http://x/", page_type="home"), {"a": 1})
    body = glood_body(event, session_id="v", identity=IDENTITY, config=config)
    assert (body["event"]["type"], body["channel"], body["shop_domain"]) == ("standard", "headless", "s.myshopify.com")
    assert (body["event"]["data"], body["page_type"], body["event"]["timestamp"]) == \
        ({"a": 1}, "home", "1970-01-01T00:00:00.000Z")


def test_glood_body_customer_id_only_when_known():
    """customer_id is added for a logged-in customer and absent otherwise."""
    known = Event("e", "page_viewed", 0, PageContext(url="http://x/", customer_id="cust-7"))
    assert glood_body(known, session_id="v", identity=IDENTITY, config=CONFIG)["customer_id"] == "cust-7"
    assert "customer_id" not in glood_body(EVENT, session_id="v", identity=IDENTITY, config=CONFIG)


def test_genlook_item_fields_and_snake_cased_track():
    """genlook_item has the Genlook name, timestamp, $insert_id = event.id and flattened snake_case track
    properties with Shopify global ids; the one product acted on is also at the top level."""
    product = {"product_id": "gid://shopify/Product/15441118953846",
               "variant_id": "gid://shopify/ProductVariant/56640794886518", "quantity": 1}
    assert genlook_item(EVENT) == {
        "event": "section:add_to_cart",
        "properties": {
            "glood_event": "glood:section:add_to_cart", "page_type": "product",
            "section_id": "221939", "section_serve_id": "2ec3ae42-40f4-44ec-9aa8-dd907474b51c",
            "request_id": "1776322091-05bd288e", "recommendation_type": "similar_products",
            "section_page": "46334", "parent_product_id": "gid://shopify/Product/15441118822774",
            "products": [product], **product,
        },
        "timestamp": "2026-04-16T10:29:58.123Z",
        "$insert_id": "evt-1",
    }


def test_genlook_item_standard_event_merges_data():
    """A cart event's Shopify cartLine becomes top-level product_id, variant_id (global ids) and quantity."""
    event = Event("e2", "product_added_to_cart", 5, PAGE,
                  {"cartLine": {"merchandise": {"id": "56", "product": {"id": "15"}}, "quantity": 2}})
    item = genlook_item(event)
    assert item["event"] == "product_page:cart_add"
    assert item["$insert_id"] == "e2"
    assert item["properties"] == {"glood_event": "product_added_to_cart", "page_type": "product",
                                  "product_id": "gid://shopify/Product/15",
                                  "variant_id": "gid://shopify/ProductVariant/56", "quantity": 2}


@pytest.mark.parametrize("name, data, expected", [
    ("product_viewed", {"product": {"id": "15", "variant_id": "56", "title": "Shirt", "compareAtPrice": "9"}},
     {"product_id": "gid://shopify/Product/15", "variant_id": "gid://shopify/ProductVariant/56", "title": "Shirt",
      "compare_at_price": "9"}),
    ("collection_viewed", {"collection": {"id": "7", "handle": "all", "title": "All"}},
     {"collection_id": "gid://shopify/Collection/7", "collection_handle": "all", "collection_title": "All"}),
    ("cart_viewed", {"cart": {"token": "t", "itemCount": 2, "lines": [{}, {}]}},
     {"cart_token": "t", "cart_item_count": 2, "line_count": 2}),
    ("search_submitted", {"searchResult": {"query": "red", "productVariants": []}},
     {"search_result": {"query": "red", "product_variants": []}}),
    ("product_viewed", {"product": {"id": "gid://shopify/Product/15"}}, {"product_id": "gid://shopify/Product/15"}),
])
def test_genlook_properties_follow_genlook_conventions(name, data, expected):
    """One mapping table: product and cart payloads give global ids at the top level; other keys snake_case."""
    properties = genlook_item(Event("e", name, 0, PAGE, data))["properties"]
    assert properties == {"glood_event": name, "page_type": "product", **expected}


def test_genlook_item_ignores_non_dict_track_and_bad_products():
    """A track that is not an object adds nothing; non-object products are skipped; quantity defaults to 1."""
    assert genlook_item(Event("e", "glood:section:view", 0, PAGE, {}, {"track": "x"}))["properties"] == \
        {"glood_event": "glood:section:view", "page_type": "product"}
    item = genlook_item(Event("e", "glood:section:view", 0, PAGE, {},
                              {"track": {"products": [{"productId": "1"}, "junk", 3]}}))
    assert item["properties"]["products"] == [{"product_id": "gid://shopify/Product/1", "variant_id": None,
                                               "quantity": 1}]


def test_genlook_context_full():
    """genlook_context carries URL, host, session, pageview, viewport, UA, client, product, variant, version."""
    assert genlook_context(EVENT, session_id="visit-9", identity=IDENTITY) == {
        "$current_url": "https://demo-store.myshopify.com/products/classic-shirt",
        "$host": "demo-store.myshopify.com",
        "$session_id": "visit-9",
        "$pageview_id": "pv-1",
        "$viewport_width": 1280, "$viewport_height": 720,
        "$user_agent": "Mozilla/5.0 Test",
        "genlook_client_id": "client-1",
        "genlook_product_id": "gid://shopify/Product/15441118822774",
        "genlook_variant_id": "gid://shopify/ProductVariant/56640794886518",
        "genlook_lib_version": LIB_VERSION,
    }


def test_genlook_context_omits_unknowns():
    """Without session, viewport (either side), UA, product or variant those keys are absent."""
    page = PageContext(url="http://127.0.0.1:8000/", page_type="home", pageview_id="pv", viewport_width=800)
    context = genlook_context(Event("e", "page_viewed", 0, page), session_id=None, identity=IDENTITY)
    assert context == {"$current_url": "http://127.0.0.1:8000/", "$host": "127.0.0.1:8000", "$pageview_id": "pv",
                       "genlook_client_id": "client-1", "genlook_lib_version": LIB_VERSION}
    assert "$session_id" not in genlook_context(Event("e", "page_viewed", 0, page), session_id="", identity=IDENTITY)


def test_genlook_body_shape():
    """genlook_body is {events: [...], context: {...}}."""
    item = genlook_item(EVENT)
    context = genlook_context(EVENT, session_id="v", identity=IDENTITY)
    assert genlook_body(iter([item]), context) == {"events": [item], "context": context}


def test_insert_id_equals_glood_event_id():
    """The same event carries one id to both destinations."""
    glood = glood_body(EVENT, session_id="v", identity=IDENTITY, config=CONFIG)
    assert glood["event"]["id"] == genlook_item(EVENT)["$insert_id"] == EVENT.id


def test_json_bytes_is_compact_utf8():
    """json_bytes has no spaces and keeps non-ASCII as UTF-8 bytes."""
    assert json_bytes({"a": [1, 2], "b": "\u00e9"}) == '{"a":[1,2],"b":"\u00e9"}'.encode("utf-8")
    assert len(json_bytes({"b": "\u00e9"})) == len('{"b":""}') + 2


def test_json_bytes_rejects_nan():
    """json_bytes never emits NaN (invalid JSON)."""
    with pytest.raises(ValueError):
        json_bytes({"x": math.nan})


# -- properties -------------------------------------------------------------------------

events = st.builds(
    Event,
    id=st.uuids().map(str),
    name=st.sampled_from(sorted(EVENT_NAMES)),
    timestamp_ms=st.integers(0, 4_102_444_800_000),
    page=pages,
    data=json_objects,
    custom_data=json_objects,
)


@settings(max_examples=60, deadline=None, database=None)
@given(events, st.text(min_size=1, max_size=40))
def test_glood_bodies_round_trip(event, session_id):
    """Every Glood body decodes back to exactly the body built, with the required fields."""
    body = glood_body(event, session_id=session_id, identity=IDENTITY, config=CONFIG)
    [wire] = list(glood_bodies([(event.id, body)], url="/api/storefront/v3/headless/events"))
    decoded = json.loads(wire.payload.decode("utf-8"))
    assert decoded == body
    assert wire.event_ids == (event.id,) and wire.size == len(wire.payload)
    assert decoded["event"]["id"] == event.id and decoded["event"]["name"] == event.name
    assert decoded["session_id"] == session_id
    assert decoded["event"]["type"] == ("custom" if event.name.startswith("glood:") else "standard")
    assert RFC3339_Z.match(decoded["event"]["timestamp"])


@settings(max_examples=60, deadline=None, database=None)
@given(events)
def test_genlook_item_and_context_round_trip(event):
    """Genlook items and contexts are valid JSON, name-mapped, and keep $insert_id = event.id."""
    item = genlook_item(event)
    context = genlook_context(event, session_id="visit", identity=IDENTITY)
    decoded = json.loads(json_bytes(genlook_body([item], context)))
    assert decoded == {"events": [item], "context": context}
    assert decoded["events"][0]["$insert_id"] == event.id
    assert decoded["events"][0]["event"] == genlook_name(event.name, event.page.page_type)
    assert RFC3339_Z.match(decoded["events"][0]["timestamp"])

"""Unit tests for tracker.core.naming (Genlook `category:action` names)."""

from __future__ import annotations

import re

import pytest

from tracker.core.events import CUSTOM_EVENTS, PAGE_TYPES, STANDARD_EVENTS
from tracker.core.naming import STANDARD_ACTIONS, genlook_name

CATEGORY_ACTION = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


@pytest.mark.parametrize("name, expected", [
    ("glood:section:view", "section:view"),
    ("glood:section:click", "section:click"),
    ("glood:section:add_to_cart", "section:add_to_cart"),
    ("glood:section:render", "section:render"),
    ("glood:bundle:view", "bundle:view"),
    ("glood:bundle:add_to_cart", "bundle:add_to_cart"),
    ("glood:checkout:offer_accept", "checkout:offer_accept"),
    ("glood:checkout:offer_reject", "checkout:offer_reject"),
    ("glood:init", "glood:init"),
    ("glood:customer_preference", "glood:customer_preference"),
])
def test_glood_names_drop_the_prefix(name, expected):
    """glood:<cat>:<action> -> <cat>:<action>; one-part names keep the glood category."""
    assert genlook_name(name, "product") == expected
    assert genlook_name(name, "home") == expected  # page type does not matter for custom events


@pytest.mark.parametrize("name, page_type, expected", [
    ("page_viewed", "product", "product_page:page_view"),
    ("page_viewed", "home", "home_page:page_view"),
    ("product_viewed", "product", "product_page:product_view"),
    ("product_added_to_cart", "product", "product_page:cart_add"),
    ("product_added_to_cart", "collection", "collection_page:cart_add"),
    ("product_removed_from_cart", "cart", "cart_page:cart_remove"),
    ("cart_viewed", "cart", "cart_page:cart_view"),
    ("collection_viewed", "collection", "collection_page:collection_view"),
    ("search_submitted", "search", "search_page:search_submit"),
    ("checkout_started", "cart", "cart_page:checkout_start"),
    ("checkout_completed", "order_status", "order_status_page:checkout_complete"),
    ("checkout_shipping_info_submitted", "checkout", "checkout_page:shipping_info_submit"),
    ("checkout_contact_info_submitted", "checkout", "checkout_page:contact_info_submit"),
    ("checkout_address_info_submitted", "checkout", "checkout_page:address_info_submit"),
    ("payment_info_submitted", "checkout", "checkout_page:payment_info_submit"),
    ("page_viewed", "other", "other_page:page_view"),
])
def test_standard_names_use_the_page_type(name, page_type, expected):
    """A standard event becomes <page_type>_page:<action>."""
    assert genlook_name(name, page_type) == expected


def test_seed_examples_match():
    """The Genlook seed's product_page:page_view and product_page:cart_add come out as documented."""
    assert genlook_name("page_viewed", "product") == "product_page:page_view"
    assert genlook_name("product_added_to_cart", "product") == "product_page:cart_add"


def test_every_standard_event_has_an_action():
    """STANDARD_ACTIONS covers exactly the standard events."""
    assert set(STANDARD_ACTIONS) == set(STANDARD_EVENTS)
    assert len(set(STANDARD_ACTIONS.values())) == len(STANDARD_ACTIONS)


@pytest.mark.parametrize("page_type", PAGE_TYPES)
def test_every_name_is_snake_case_category_action(page_type):
    """Every Glood name on every page type maps to snake_case category:action."""
    names = [genlook_name(n, page_type) for n in STANDARD_EVENTS + CUSTOM_EVENTS]
    bad = [n for n in names if not CATEGORY_ACTION.match(n)]
    assert bad == []
    assert len(names) == 28


def test_unknown_standard_name_raises_key_error():
    """A name with no Genlook mapping raises KeyError naming it."""
    with pytest.raises(KeyError, match="page_view"):
        genlook_name("page_view", "product")

"""Unit tests for tracker.core.cart: which cart line a /cart/change form removes."""

from __future__ import annotations

import pytest

from tracker.core.cart import CartChange, removed_line

CART = {"lines": [{"variant_id": "v1", "product_id": "p1", "quantity": 2},
                  {"variant_id": "v2", "product_id": "p2", "quantity": 1}]}


def test_line_number_set_to_zero_is_a_removal():
    """line=2, quantity=0 removes the second line, with its product, variant and quantity."""
    assert removed_line(CART, CartChange("2", None, "0")) == {
        "cartLine": {"merchandise": {"id": "v2", "product": {"id": "p2"}}, "quantity": 1}}


def test_variant_id_finds_the_line():
    """Without a line number the variant id picks the line."""
    data = removed_line(CART, CartChange(None, "v1", "0"))
    assert data is not None and data["cartLine"]["merchandise"]["product"]["id"] == "p1"


@pytest.mark.parametrize("change", [CartChange("1", None, "3"), CartChange("1", None, None),
                                    CartChange("9", None, "0"), CartChange("x", None, "0"),
                                    CartChange(None, "v9", "0"), CartChange(None, None, "0")])
def test_not_a_removal_or_unknown_line(change):
    """A quantity other than 0, or a line the page's cart does not have, is no removal."""
    assert removed_line(CART, change) is None


def test_page_without_cart_lines():
    """A page that does not describe its cart never reports a removal."""
    assert removed_line({}, CartChange("1", None, "0")) is None
    assert removed_line({"lines": "nope"}, CartChange("1", None, "0")) is None

"""Cart changes read from a storefront's forms, resolved against the cart the page describes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CartChange", "removed_line"]


@dataclass(frozen=True)
class CartChange:
    """A submitted `/cart/change` form (Shopify's convention): a 1-based `line` or a variant `id`, and the new
    quantity."""

    line: str | None
    variant_id: str | None
    quantity: str | None


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def removed_line(cart: Mapping[str, Any], change: CartChange) -> dict[str, Any] | None:
    """`product_removed_from_cart` data when `change` sets a line of `cart` to 0, else None.

    `cart` is the page context's cart (`lines: [{variant_id, product_id, quantity, ...}]`).
    """
    if _number(change.quantity) != 0:
        return None
    lines = cart.get("lines")
    if not isinstance(lines, list):
        return None
    index = _number(change.line)
    line: Any = None
    if index is not None and 1 <= index <= len(lines):
        line = lines[index - 1]
    elif change.variant_id:
        line = next((item for item in lines if isinstance(item, dict)
                     and str(item.get("variant_id")) == change.variant_id), None)
    if not isinstance(line, dict):
        return None
    merchandise = {"id": _text(line.get("variant_id")), "product": {"id": _text(line.get("product_id"))}}
    quantity = line.get("quantity") if isinstance(line.get("quantity"), int) else None
    return {"cartLine": {"merchandise": merchandise, "quantity": quantity}}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)

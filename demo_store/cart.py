"""The cart: kept server-side in SQLite under a `cart` cookie; add, change, add.js, change.js and cart.js like
Shopify's.

Every action changes state, so each requires a same-origin request (`same_origin_only`: 403 in the
Error shape otherwise). A line holds at most MAX_QUANTITY: an add that would take it past is refused
with 422 and changes nothing (no clamping: the shopper sees what did not happen)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .api import Rejection, content_type, read_body, read_json, same_origin_only, whole_number
from .catalog import Product, Variant, format_price
from .settings import AppState, app_state
from .store_db import LineLimit

__all__ = ["CART_COOKIE", "MAX_QUANTITY", "CartLine", "Cart", "cart_token", "remember_cart", "load_cart",
           "cart_routes"]

CART_COOKIE = "cart"
COOKIE_MAX_AGE = 14 * 24 * 3600
MAX_QUANTITY = 99
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class CartLine:
    product: Product
    variant: Variant
    quantity: int

    @property
    def line_price_cents(self) -> int:
        return self.variant.price_cents * self.quantity

    def to_json(self) -> dict[str, Any]:
        return {"variant_id": self.variant.id, "product_id": self.product.id, "handle": self.product.handle,
                "title": self.product.title, "variant_title": self.variant.title, "quantity": self.quantity,
                "price": format_price(self.variant.price_cents), "line_price": format_price(self.line_price_cents)}


@dataclass(frozen=True)
class Cart:
    token: str
    lines: tuple[CartLine, ...]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total_cents(self) -> int:
        return sum(line.line_price_cents for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        """The cart as the page context (`#glood-page`) describes it."""
        return {"token": self.token, "item_count": self.item_count, "total_price": format_price(self.total_cents),
                "currency": "USD", "lines": [line.to_json() for line in self.lines]}


def cart_token(request: Request) -> tuple[str, bool]:
    """The visitor's cart token from the cookie, or a fresh one (then `True`: set the cookie)."""
    value = request.cookies.get(CART_COOKIE, "")
    try:
        return str(uuid.UUID(value)), False
    except ValueError:
        return str(uuid.uuid4()), True


def remember_cart(response: Response, token: str, is_new: bool) -> Response:
    if is_new:
        response.set_cookie(CART_COOKIE, token, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
    return response


def load_cart(state: AppState, token: str) -> Cart:
    lines = []
    for variant_id, quantity in state.db.cart_lines(token):
        found = state.catalog.variant(variant_id)
        if found is not None:
            lines.append(CartLine(found[0], found[1], quantity))
    return Cart(token, tuple(lines))


def _quantity(value: Any, *, minimum: int) -> int:
    text = str(value).strip()
    number = None if isinstance(value, bool) else whole_number(text)
    if number is None or not minimum <= number <= MAX_QUANTITY:
        raise Rejection(422, f"quantity: must be a whole number from {minimum} to {MAX_QUANTITY}, not {text[:40]!r}")
    return number


def _add(state: AppState, token: str, variant: Variant, quantity: int) -> int:
    """Add to the variant's line: its quantity after; 422 (nothing changed) past MAX_QUANTITY a line."""
    try:
        return state.db.add_to_cart(token, variant.id, quantity, MAX_QUANTITY)
    except LineLimit as exc:
        raise Rejection(422, f"quantity: the cart holds {exc.current} of this item and a line holds at most "
                             f"{exc.maximum}; {quantity} more would make {exc.current + quantity}") from None


def _variant(state: AppState, value: Any) -> Variant:
    found = state.catalog.variant(str(value).strip())
    if found is None:
        raise Rejection(422, f"id: no variant {str(value)!r} in this store")
    return found[1]


async def _form(request: Request) -> dict[str, str]:
    if content_type(request) != FORM_TYPE:
        raise Rejection(415, f"content type must be {FORM_TYPE}")
    fields = parse_qs((await read_body(request)).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def add(request: Request) -> Response:
    """`POST /cart/add` (form: id, quantity) adds the variant, then 303 to the cart."""
    state = app_state(request)
    token, is_new = cart_token(request)
    form = await _form(request)
    variant = _variant(state, form.get("id", ""))
    _add(state, token, variant, _quantity(form.get("quantity", "1"), minimum=1))
    return remember_cart(RedirectResponse("/cart", status_code=303), token, is_new)


async def add_js(request: Request) -> Response:
    """`POST /cart/add.js` with JSON `{id, quantity}` (application/json only): answers the cart line as JSON."""
    state = app_state(request)
    token, is_new = cart_token(request)
    body = (await read_json(request, types=(JSON_TYPE,))).data
    if not isinstance(body, dict):
        raise Rejection(422, "body: must be an object with id and quantity")
    variant = _variant(state, body.get("id", ""))
    _add(state, token, variant, _quantity(body.get("quantity", 1), minimum=1))
    line = next(line for line in load_cart(state, token).lines if line.variant.id == variant.id)
    return remember_cart(JSONResponse(line.to_json()), token, is_new)


async def change(request: Request) -> Response:
    """`POST /cart/change` (form: line = 1-based index, quantity; 0 removes), then 303 to the cart."""
    state = app_state(request)
    token, is_new = cart_token(request)
    form = await _form(request)
    lines = load_cart(state, token).lines
    line_text = form.get("line", "").strip()
    line = whole_number(line_text)
    if line is None or not 1 <= line <= len(lines):
        raise Rejection(422, f"line: must be from 1 to {len(lines)}, not {line_text[:40]!r}")
    state.db.set_cart_quantity(token, lines[line - 1].variant.id, _quantity(form.get("quantity", "0"), minimum=0))
    return remember_cart(RedirectResponse("/cart", status_code=303), token, is_new)


async def cart_js(request: Request) -> Response:
    """`GET /cart.js`: the visitor's cart as JSON (the page context's `cart`)."""
    state = app_state(request)
    token, is_new = cart_token(request)
    return remember_cart(JSONResponse(load_cart(state, token).to_json(), headers={"Cache-Control": "no-store"}),
                         token, is_new)


async def change_js(request: Request) -> Response:
    """`POST /cart/change.js` with JSON `{line (1-based) | id (variant), quantity}` (application/json only; 0
    removes the line): answers the cart as JSON."""
    state = app_state(request)
    token, is_new = cart_token(request)
    body = (await read_json(request, types=(JSON_TYPE,))).data
    if not isinstance(body, dict):
        raise Rejection(422, "body: must be an object with line (or id) and quantity")
    lines = load_cart(state, token).lines
    if "line" in body:
        line = body["line"]
        number = None if isinstance(line, bool) else whole_number(str(line).strip())
        if number is None or not 1 <= number <= len(lines):
            raise Rejection(422, f"line: must be from 1 to {len(lines)}, not {str(line)[:40]!r}")
        variant_id = lines[number - 1].variant.id
    else:
        variant_id = str(body.get("id", "")).strip()
        if not any(line.variant.id == variant_id for line in lines):
            raise Rejection(422, f"id: no line of variant {variant_id[:40]!r} in the cart")
    state.db.set_cart_quantity(token, variant_id, _quantity(body.get("quantity", 0), minimum=0))
    return remember_cart(JSONResponse(load_cart(state, token).to_json()), token, is_new)


def cart_routes() -> list[Route]:
    return [
        Route("/cart.js", cart_js, methods=["GET"]),
        Route("/cart/add", same_origin_only(add), methods=["POST"]),
        Route("/cart/add.js", same_origin_only(add_js), methods=["POST"]),
        Route("/cart/change.js", same_origin_only(change_js), methods=["POST"]),
        Route("/cart/change", same_origin_only(change), methods=["POST"]),
    ]

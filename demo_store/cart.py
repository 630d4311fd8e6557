"""The cart: kept server-side in SQLite under a `cart` cookie, with Shopify's AJAX Cart API.

Endpoints (each also under a locale prefix, `/fr/cart/add.js`, as Shopify's locale-aware URLs):

- `POST /cart/add`, `/cart/add.js`: `id` + `quantity`, or `items: [{id, quantity}, ...]`;
- `POST /cart/change`, `/cart/change.js`: `line` (1-based) or `id` (a variant, or a line's `key`) + `quantity`
  (0 removes the line);
- `POST /cart/update.js`: `updates` as `{variant id: quantity}` or `[quantity by line]`;
- `POST /cart/clear.js`; `GET /cart.js`.

Bodies may be JSON, urlencoded or multipart form data (`new FormData(form)`), as Shopify takes them; form fields
name arrays and maps as Shopify's do (`items[][id]`, `items[0][quantity]`, `updates[]`, `updates[<id>]`). Any of
them may ask for `sections` (a comma-separated list or an array of section ids, at most 5) rendered in the answer
(Shopify's bundled section rendering: `"sections": {id: html | null}`); `sections_url` names the page they are
rendered for.

`.js` endpoints answer JSON; `/cart/add` and `/cart/change` answer JSON to a script (`X-Requested-With:
XMLHttpRequest`, or an `Accept` of JSON/JavaScript: what Dawn sends) and otherwise, for a form post without
JavaScript, 303 to the cart (an error: a store page). Errors in JSON have Shopify's shape: `{"status": 422,
"message": "Cart Error", "description": "..."}` (unknown or sold-out variant, a quantity past the line limit,
a bad line), 400 for a malformed body ("Parameter Missing or Invalid"), 415 for another content type. An
add of several items adds all or none.

Every action changes state, so each requires a same-origin request (`same_origin_only`: 403 in the Error shape
otherwise). A line holds at most MAX_QUANTITY: an add that would take it past is refused with 422 and changes
nothing (no clamping: the shopper sees what did not happen)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .api import Rejection, content_type, read_body, same_origin_only, whole_number
from .catalog import Product, Variant, format_price
from .settings import AppState, app_state
from .templating import render

__all__ = ["CART_COOKIE", "MAX_QUANTITY", "CART_SECTIONS", "CartLine", "Cart", "CartError", "cart_token",
           "remember_cart", "load_cart", "cart_routes", "cart_error", "parse_cart_body", "render_sections"]

CART_COOKIE = "cart"
COOKIE_MAX_AGE = 14 * 24 * 3600
MAX_QUANTITY = 99
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
JSON_TYPE = "application/json"
BODY_TYPES = (JSON_TYPE, FORM_TYPE, MULTIPART_TYPE)
#: The sections an answer can render (Dawn's names): the drawer's content and the header's cart count.
CART_SECTIONS = ("cart-drawer", "cart-icon-bubble")
MAX_SECTIONS = 5
#: A locale prefix of a locale-aware URL: `fr`, `en-ca`, `pt-BR`.
LOCALE = re.compile(r"[a-z]{2}(?:-[A-Za-z]{2})?")
_ITEM_FIELD = re.compile(r"items\[(\d*)\]\[(\w+)\]")
_UPDATE_FIELD = re.compile(r"updates\[([^\]]*)\]")


@dataclass(frozen=True)
class CartLine:
    product: Product
    variant: Variant
    quantity: int

    @property
    def line_price_cents(self) -> int:
        return self.variant.price_cents * self.quantity

    @property
    def key(self) -> str:
        """Shopify's line key: `<variant id>:<hash>`."""
        return f"{self.variant.id}:{hashlib.sha256(self.variant.id.encode()).hexdigest()[:32]}"

    def to_json(self) -> dict[str, Any]:
        """The line as the page context (`#glood-page`) describes it."""
        return {"variant_id": self.variant.id, "product_id": self.product.id, "handle": self.product.handle,
                "title": self.product.title, "variant_title": self.variant.title, "quantity": self.quantity,
                "price": format_price(self.variant.price_cents), "line_price": format_price(self.line_price_cents)}

    def item_json(self) -> dict[str, Any]:
        """The line as Shopify's AJAX API answers it (ids as numbers, prices in cents)."""
        title = self.product.title if self.variant.title == "Default Title" \
            else f"{self.product.title} - {self.variant.title}"
        return {"id": int(self.variant.id), "key": self.key, "variant_id": int(self.variant.id),
                "product_id": int(self.product.id), "quantity": self.quantity, "title": title,
                "product_title": self.product.title, "variant_title": None if self.variant.title == "Default Title"
                else self.variant.title, "handle": self.product.handle, "url": f"{self.product.url}?variant="
                f"{self.variant.id}", "price": self.variant.price_cents, "final_price": self.variant.price_cents,
                "line_price": self.line_price_cents, "final_line_price": self.line_price_cents,
                "properties": {}, "requires_shipping": True}


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

    def answer_json(self) -> dict[str, Any]:
        """The cart as change.js, update.js and clear.js answer it: the page context's cart and Shopify's `items`."""
        return {**self.to_json(), "items": [line.item_json() for line in self.lines]}


class CartError(Exception):
    """A cart request refused, answered in Shopify's shape."""

    def __init__(self, status: int, description: str, message: str = "Cart Error") -> None:
        super().__init__(description)
        self.status = status
        self.message = message
        self.description = description


def cart_error(error: CartError) -> JSONResponse:
    text = error.description.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"status": error.status, "message": error.message, "description": text},
                        status_code=error.status)


def _invalid(description: str) -> CartError:
    return CartError(400, description, "Parameter Missing or Invalid")


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


# -- bodies -----------------------------------------------------------------------------------

def _multipart(body: bytes, header: str) -> list[tuple[str, str]]:
    """The text fields of a multipart/form-data body (files are left out)."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + header.encode("latin-1", "replace")
                                                  + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise _invalid("multipart body without parts (or without a boundary)")
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_param("filename", header="content-disposition"):
            continue
        payload = part.get_payload(decode=True)
        fields.append((name, payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""))
    return fields


def _form_fields(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as the JSON body they stand for: `items[][id]` / `items[0][id]` make `items`, `updates[]` a
    list and `updates[<id>]` a map, `sections[]` a list; other names keep their first value."""
    out: dict[str, Any] = {}
    items: dict[str, dict[str, str]] = {}
    updates_list: list[str] = []
    updates_map: dict[str, str] = {}
    sections: list[str] = []
    for name, value in fields:
        item = _ITEM_FIELD.fullmatch(name)
        update = _UPDATE_FIELD.fullmatch(name)
        if item:
            index, key = item.groups()
            if not index:  # items[][id] starts a new item at each repeated key
                last = str(len(items) - 1)
                index = last if items and key not in items[last] else str(len(items))
            items.setdefault(index, {})[key] = value
        elif update:
            if update.group(1):
                updates_map[update.group(1)] = value
            else:
                updates_list.append(value)
        elif name == "sections[]":
            sections.append(value)
        else:
            out.setdefault(name, value)
    if items:
        out["items"] = [items[k] for k in sorted(items, key=lambda k: int(k))]
    if updates_map or updates_list:
        out["updates"] = updates_map or updates_list
    if sections:
        out["sections"] = sections
    return out


def parse_cart_body(kind: str, header: str, body: bytes) -> dict[str, Any]:
    """A cart request's fields from a JSON, urlencoded or multipart body (`kind`: its media type; `header`: the
    whole Content-Type). CartError 400 for a malformed one, 415 for another type."""
    if kind == JSON_TYPE:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _invalid(f"body is not JSON: {exc}"[:200]) from None
        if not isinstance(data, dict):
            raise _invalid("body must be a JSON object")
        return data
    if kind == FORM_TYPE:
        return _form_fields(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if kind == MULTIPART_TYPE:
        return _form_fields(_multipart(body, header))
    if not body.strip():
        return {}
    raise CartError(415, f"content type must be one of {', '.join(BODY_TYPES)}", "Unsupported Media Type")


async def _fields(request: Request) -> dict[str, Any]:
    try:
        body = await read_body(request)
    except Rejection as exc:
        raise CartError(exc.status, exc.message, "Request Error") from None
    return parse_cart_body(content_type(request), request.headers.get("content-type", ""), body)


# -- actions ------------------------------------------------------------------------------------

def _quantity(value: Any, *, minimum: int) -> int:
    text = str(value).strip()
    number = None if isinstance(value, bool) else whole_number(text)
    if number is None or not minimum <= number <= MAX_QUANTITY:
        raise CartError(422, f"quantity: must be a whole number from {minimum} to {MAX_QUANTITY}, not {text[:40]!r}")
    return number


def _variant(state: AppState, value: Any) -> tuple[Product, Variant]:
    text = "" if isinstance(value, (bool, dict, list)) else str(value).strip()
    found = state.catalog.variant(text)
    if found is None:
        raise CartError(422, f"id: no variant {text[:40]!r} in this store")
    if not found[1].available:
        raise CartError(422, f"The product '{found[0].title}' is already sold out.")
    return found


def _items(body: dict[str, Any]) -> tuple[list[tuple[Any, Any]], bool]:
    """[(id, quantity)] of an add, and whether they came as `items` (the answer is then `{"items": [...]}`)."""
    items = body.get("items")
    if items is None:
        if "id" not in body:
            raise _invalid("Required parameter missing or invalid: id or items")
        return [(body.get("id"), body.get("quantity", 1))], False
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise _invalid("Required parameter missing or invalid: items")
    return [(item.get("id"), item.get("quantity", 1)) for item in items], True


def _add(state: AppState, token: str, body: dict[str, Any]) -> tuple[list[str], bool]:
    """Add every item or none: the variant ids added, and whether the request listed `items`."""
    wanted, listed = _items(body)
    current = dict(state.db.cart_lines(token))
    adds: dict[str, int] = {}
    for raw_id, raw_quantity in wanted:
        product, variant = _variant(state, raw_id)
        quantity = _quantity(raw_quantity, minimum=1)
        after = current.get(variant.id, 0) + adds.get(variant.id, 0) + quantity
        if after > MAX_QUANTITY:
            raise CartError(422, f"You can't add more {product.title} to the cart: a line holds at most "
                                 f"{MAX_QUANTITY} and the cart holds {current.get(variant.id, 0)}")
        adds[variant.id] = adds.get(variant.id, 0) + quantity
    for variant_id, quantity in adds.items():
        state.db.add_to_cart(token, variant_id, quantity, MAX_QUANTITY)
    return list(adds), listed


def _line_variant(cart: Cart, body: dict[str, Any]) -> str:
    """The variant of the line a change names: `line` (1-based), or `id` (a variant in the cart, or a line key)."""
    lines = cart.lines
    if "line" in body:
        line = body["line"]
        number = None if isinstance(line, bool) else whole_number(str(line).strip())
        if number is None or not 1 <= number <= len(lines):
            raise CartError(422, f"line: must be from 1 to {len(lines)}, not {str(line)[:40]!r}")
        return lines[number - 1].variant.id
    raw = body.get("id")
    text = "" if raw is None or isinstance(raw, (bool, dict, list)) else str(raw).strip()
    for line in lines:
        if text in (line.variant.id, line.key):
            return line.variant.id
    raise CartError(422, f"id: no line of variant {text[:40]!r} in the cart")


def _change(state: AppState, token: str, body: dict[str, Any]) -> None:
    variant_id = _line_variant(load_cart(state, token), body)
    state.db.set_cart_quantity(token, variant_id, _quantity(body.get("quantity", 0), minimum=0))


def _update(state: AppState, token: str, body: dict[str, Any]) -> None:
    """`updates`: {variant id: quantity} (a variant not in the cart is added) or [quantity of each line]."""
    updates = body.get("updates")
    cart = load_cart(state, token)
    changes: list[tuple[str, int]] = []
    if isinstance(updates, dict):
        for raw_id, raw_quantity in updates.items():
            quantity = _quantity(raw_quantity, minimum=0)
            in_cart = next((line.variant.id for line in cart.lines if str(raw_id) in (line.variant.id, line.key)),
                           None)
            changes.append((in_cart or _variant(state, raw_id)[1].id, quantity))
    elif isinstance(updates, list):
        if len(updates) > len(cart.lines):
            raise CartError(422, f"updates: {len(updates)} quantities for {len(cart.lines)} lines")
        changes = [(line.variant.id, _quantity(q, minimum=0)) for line, q in zip(cart.lines, updates, strict=False)]
    elif updates is not None:
        raise _invalid("Required parameter missing or invalid: updates")
    for variant_id, quantity in changes:
        if quantity and not any(line.variant.id == variant_id for line in cart.lines):
            state.db.add_to_cart(token, variant_id, quantity, MAX_QUANTITY)
        else:
            state.db.set_cart_quantity(token, variant_id, quantity)


def _clear(state: AppState, token: str, body: dict[str, Any]) -> None:
    for variant_id, _quantity_held in state.db.cart_lines(token):
        state.db.set_cart_quantity(token, variant_id, 0)


# -- sections -----------------------------------------------------------------------------------

def _section_ids(body: dict[str, Any]) -> list[str]:
    raw = body.get("sections")
    if raw is None or raw == "":
        return []
    ids = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
        raise _invalid("sections: a comma-separated list or an array of section ids")
    if len(ids) > MAX_SECTIONS:
        raise _invalid(f"sections: at most {MAX_SECTIONS}")
    return [s for s in ids if s]


def render_sections(cart: Cart, ids: list[str]) -> dict[str, str | None]:
    """Shopify's bundled section rendering: each asked section's HTML for the cart after the change (null for a
    section this store does not have)."""
    return {section: render(f"sections/{section}.html", cart=cart) if section in CART_SECTIONS else None
            for section in ids}


# -- endpoints ----------------------------------------------------------------------------------

def _wants_json(request: Request) -> bool:
    """A script's request to /cart/add or /cart/change (JSON answer) rather than a form post."""
    accept = request.headers.get("accept", "")
    return request.headers.get("x-requested-with", "").lower() == "xmlhttprequest" or any(
        kind in accept for kind in ("application/json", "application/javascript", "text/javascript"))


def _locale_ok(request: Request) -> bool:
    locale = request.path_params.get("locale")
    return locale is None or LOCALE.fullmatch(str(locale)) is not None


Action = Callable[[AppState, str, dict[str, Any]], Any]


def _endpoint(action: Action, answer: str, *, form_path: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint doing `action`; `answer`: "line" (what an add answers) or "cart". `form_path`: the endpoint
    without `.js`, which answers a form post by 303 to the cart."""

    async def endpoint(request: Request) -> Response:
        if not _locale_ok(request):
            raise Rejection(404, f"no page {request.url.path[:80]!r}")
        state = app_state(request)
        token, is_new = cart_token(request)
        as_json = not form_path or _wants_json(request)
        try:
            body = await _fields(request)
            sections = _section_ids(body)
            done = action(state, token, body)
        except CartError as error:
            if as_json:
                return remember_cart(cart_error(error), token, is_new)
            raise Rejection(error.status, error.description) from None
        if not as_json:
            return remember_cart(RedirectResponse("/cart", status_code=303), token, is_new)
        cart = load_cart(state, token)
        data: dict[str, Any]
        if answer == "line":
            added, listed = done
            items = [line.item_json() for line in cart.lines if line.variant.id in added]
            data = {"items": items} if listed else items[0]
        else:
            data = cart.answer_json()
        if sections:
            data = {**data, "sections": render_sections(cart, sections)}
        return remember_cart(JSONResponse(data, headers={"Cache-Control": "no-store"}), token, is_new)

    return endpoint


async def cart_js(request: Request) -> Response:
    """`GET /cart.js`: the visitor's cart as JSON (the page context's `cart`)."""
    if not _locale_ok(request):
        raise Rejection(404, f"no page {request.url.path[:80]!r}")
    state = app_state(request)
    token, is_new = cart_token(request)
    return remember_cart(JSONResponse(load_cart(state, token).to_json(), headers={"Cache-Control": "no-store"}),
                         token, is_new)


def cart_routes() -> list[Route]:
    actions: list[tuple[str, Action, str, bool]] = [
        ("/cart/add", _add, "line", True), ("/cart/add.js", _add, "line", False),
        ("/cart/change", _change, "cart", True), ("/cart/change.js", _change, "cart", False),
        ("/cart/update.js", _update, "cart", False), ("/cart/clear.js", _clear, "cart", False)]
    routes = []
    for prefix in ("", "/{locale}"):
        routes.append(Route(prefix + "/cart.js", cart_js, methods=["GET"]))
        for path, action, answer, form_path in actions:
            routes.append(Route(prefix + path, same_origin_only(_endpoint(action, answer, form_path=form_path)),
                                methods=["POST"]))
    return routes

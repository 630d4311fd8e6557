"""Cart changes, judged from what the sensor saw of Shopify's AJAX Cart API and of cart form posts.

The sensor records raw facts (docs/design.md §6): for a `fetch` or `XMLHttpRequest` to `/cart/add`, `/cart/change`,
`/cart/update` or `/cart/clear` (`.js` or not, under any locale prefix) its URL, the request body (text, or a
FormData's entries) and the answer (status and text); for a form post that left the page, the form's entries, and
the next page's cart. Everything is parsed and decided here:

- only a 2xx answer changes the cart; a refused one (422 sold out, unknown variant) is nothing;
- an add's lines come from the answer (variant, product, price), the quantity added from the request (the answer's
  quantity is the line's new total), else from the line's growth;
- a change, update or clear answers the whole cart: each line that grew is an add and each that shrank (or went)
  a removal, of the difference, against the cart known before (the page context's, then each answer's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["CartChange", "removed_line", "Line", "CartMove", "CartState", "cart_action", "parse_body",
           "requested_quantities", "lines_of", "answer_lines", "judge_answer", "judge_post", "cart_line_data"]

#: The AJAX Cart API's state-changing paths, under any locale prefix: the action.
_CART_PATH = re.compile(r"/cart/(add|change|update|clear)(?:\.js)?/?$")
_ITEM_FIELD = re.compile(r"items\[(\d*)\]\[(\w+)\]")


# -- requests -----------------------------------------------------------------------------------

def cart_action(url: str) -> str | None:
    """"add", "change", "update" or "clear" for an AJAX Cart API URL (absolute or a path), else None."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    match = _CART_PATH.search(path)
    return match.group(1) if match else None


def _form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as the JSON body they stand for (Shopify's names): `items[][id]` / `items[0][id]` make `items`,
    `updates[<id>]` a map and `updates[]` a list; other names keep their first value."""
    out: dict[str, Any] = {}
    items: dict[str, dict[str, str]] = {}
    updates_map: dict[str, str] = {}
    updates_list: list[str] = []
    for name, value in pairs:
        item = _ITEM_FIELD.fullmatch(name)
        if item:
            index, key = item.groups()
            if not index:  # items[][id]: a repeated key starts the next item
                last = str(len(items) - 1)
                index = last if items and key not in items[last] else str(len(items))
            items.setdefault(index, {})[key] = value
        elif name.startswith("updates[") and name.endswith("]"):
            key = name[len("updates["):-1]
            if key:
                updates_map[key] = value
            else:
                updates_list.append(value)
        else:
            out.setdefault(name, value)
    if items:
        out["items"] = [items[k] for k in sorted(items, key=int)]
    if updates_map or updates_list:
        out["updates"] = updates_map or updates_list
    return out


def parse_body(raw: Any) -> dict[str, Any]:
    """A request body as the sensor recorded it: JSON or urlencoded text, or a FormData's `[name, value]` entries
    (a file's value is not text: left out). `{}` for anything else."""
    if isinstance(raw, list):
        return _form((str(pair[0]), pair[1]) for pair in raw
                     if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str))
    if not isinstance(raw, str) or not raw.strip():
        return {}
    text = raw.strip()
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return _form(parse_qsl(text, keep_blank_values=True))


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    text = str(value).strip() if isinstance(value, (str, float)) else ""
    return int(text) if text.isascii() and text.isdigit() else None


def _id(value: Any) -> str | None:
    """A variant id as text: `123`, `"123"`, or a line key `"123:abc..."` (its variant)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip().split(":", 1)[0]
    return text or None


def requested_quantities(body: Mapping[str, Any]) -> dict[str, int]:
    """{variant id: quantity} an add asks for (`id` + `quantity`, or `items`; a missing quantity is 1)."""
    items = body.get("items")
    wanted = items if isinstance(items, list) else [body]
    out: dict[str, int] = {}
    for item in wanted:
        if not isinstance(item, Mapping):
            continue
        variant = _id(item.get("id"))
        quantity = _whole(item.get("quantity", 1))
        if variant is not None and quantity:
            out[variant] = out.get(variant, 0) + quantity
    return out


# -- carts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """A cart line: variant, product, quantity and unit price (a decimal string, e.g. "49.00"; None unknown)."""

    variant_id: str
    product_id: str | None
    quantity: int
    price: str | None = None

    def to_json(self) -> list[Any]:
        return [self.variant_id, self.product_id, self.quantity, self.price]

    @classmethod
    def from_json(cls, raw: Any) -> Line | None:
        if not (isinstance(raw, list) and len(raw) == 4 and isinstance(raw[0], str) and isinstance(raw[2], int)):
            return None
        return cls(raw[0], _text(raw[1]), raw[2], _text(raw[3]))


def _price(value: Any) -> str | None:
    """A unit price: Shopify's AJAX cents (4900) or the page context's decimal text ("49.00")."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value // 100}.{value % 100:02d}"
    text = str(value).strip()
    return text if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else None


def _line(raw: Any) -> Line | None:
    if not isinstance(raw, Mapping):
        return None
    variant = _id(raw.get("variant_id", raw.get("id")))
    quantity = _whole(raw.get("quantity"))
    if variant is None or quantity is None:
        return None
    return Line(variant, _text(raw.get("product_id")), quantity, _price(raw.get("price")))


def lines_of(cart: Any) -> list[Line] | None:
    """The lines of a cart: the page context's (`lines`) or Shopify's (`items`); None when it is no cart."""
    if not isinstance(cart, Mapping):
        return None
    raw = cart.get("items", cart.get("lines"))
    if not isinstance(raw, list):
        return None
    return [line for line in (_line(item) for item in raw) if line is not None]


def answer_lines(action: str, text: Any) -> list[Line] | None:
    """What a 2xx answer says: an add's lines (one line item, or `{"items": [...]}`); a change's, update's or
    clear's whole cart. None when the answer cannot be read."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if action == "add" and isinstance(data, Mapping) and "items" not in data:
        line = _line(data)
        return None if line is None else [line]
    return lines_of(data)


@dataclass(frozen=True)
class CartMove:
    """One line's change: "add" (product_added_to_cart) or "remove" (product_removed_from_cart), by `quantity`."""

    kind: str
    line: Line
    quantity: int


@dataclass
class CartState:
    """The cart as last known on the page: the page context's, then each cart answer's. `known` is False when no
    cart was described yet (a removal then cannot be told from the answer alone)."""

    lines: dict[str, Line]
    known: bool = False

    @classmethod
    def from_context(cls, cart: Any) -> CartState:
        lines = lines_of(cart)
        return cls({} if lines is None else {line.variant_id: line for line in lines}, lines is not None)

    def snapshot(self) -> dict[str, Any]:
        return {"known": self.known, "lines": [line.to_json() for line in self.lines.values()]}

    @classmethod
    def restore(cls, raw: Any) -> CartState | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("lines"), list):
            return None
        lines = [line for line in (Line.from_json(item) for item in raw["lines"]) if line is not None]
        return cls({line.variant_id: line for line in lines}, raw.get("known") is True)


def _diff(before: Mapping[str, Line], after: Mapping[str, Line]) -> list[CartMove]:
    moves = []
    for variant, line in after.items():
        held = before[variant].quantity if variant in before else 0
        if line.quantity > held:
            moves.append(CartMove("add", line, line.quantity - held))
    for variant, line in before.items():
        now = after[variant].quantity if variant in after else 0
        if now < line.quantity:
            moves.append(CartMove("remove", after.get(variant, line), line.quantity - now))
    return moves


def _known(line: Line, before: Line | None) -> Line:
    """A line with the product and price an earlier description of it had, where this one lacks them."""
    if before is None:
        return line
    return Line(line.variant_id, line.product_id or before.product_id, line.quantity, line.price or before.price)


def judge_answer(state: CartState, action: str, body: Mapping[str, Any], status: Any, text: Any) -> list[CartMove]:
    """The cart moves of one AJAX Cart API call (`state` is updated); nothing unless the answer is 2xx and
    readable."""
    if not (isinstance(status, int) and 200 <= status < 300):
        return []
    lines = answer_lines(action, text)
    if lines is None:
        return []
    if action == "add":
        wanted = requested_quantities(body)
        moves = []
        for line in lines:
            before = state.lines.get(line.variant_id)
            line = _known(line, before)
            grew = line.quantity - before.quantity if before is not None and state.known else None
            quantity = wanted.get(line.variant_id) or grew or line.quantity
            moves.append(CartMove("add", line, quantity))
            state.lines[line.variant_id] = line
        return moves
    after = {line.variant_id: _known(line, state.lines.get(line.variant_id)) for line in lines}
    moves = _diff(state.lines, after) if state.known else []
    state.lines, state.known = after, True
    return moves


def judge_post(action: str, body: Mapping[str, Any], before: Any, after: Any) -> list[CartMove]:
    """A cart form post that left the page, judged by the next page: `before` the posting page's cart, `after` the
    next page's. The variant the form names changed (the store took it), or nothing did (it refused: a 422 page,
    which does not describe a cart, or a cart without the change)."""
    old, new = lines_of(before), lines_of(after)
    if old is None or new is None:
        return []
    old_map = {line.variant_id: line for line in old}
    new_map = {line.variant_id: _known(line, old_map.get(line.variant_id)) for line in new}
    if action == "add":
        named = set(requested_quantities(body))
    elif action == "change":
        index = _whole(body.get("line"))
        named = {old[index - 1].variant_id} if index and index <= len(old) else {v for v in [_id(body.get("id"))] if v}
    else:
        named = set(old_map) | set(new_map)
    moves = [move for move in _diff(old_map, new_map) if move.line.variant_id in named]
    wanted = requested_quantities(body) if action == "add" else {}
    return [CartMove(m.kind, m.line, min(m.quantity, wanted.get(m.line.variant_id, m.quantity))) for m in moves]


def cart_line_data(line: Line, quantity: int) -> dict[str, Any]:
    """Shopify's `cartLine` of a standard cart event."""
    merchandise: dict[str, Any] = {"id": line.variant_id, "product": {"id": line.product_id}}
    if line.price is not None:
        merchandise["price"] = {"amount": line.price}
    return {"cartLine": {"merchandise": merchandise, "quantity": quantity}}


# -- the form facts of earlier sensors ----------------------------------------------------------

@dataclass(frozen=True)
class CartChange:
    """A submitted `/cart/change` form (Shopify's convention): a 1-based `line` or a variant `id`, and the new
    quantity (the `chg` fact of earlier sensors)."""

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

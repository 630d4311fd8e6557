"""Wire formats: Glood's one-event body and Genlook's batched body with a shared context."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from .config import Config
from .events import Event
from .naming import genlook_name
from .session import Identity

__all__ = ["LIB_VERSION", "json_bytes", "glood_body", "genlook_item", "genlook_context", "genlook_body",
           "genlook_properties", "GENLOOK_PROPERTIES", "shopify_gid", "snake_case"]

from .. import __version__ as LIB_VERSION


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes that go on the wire."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def glood_body(event: Event, *, session_id: str, identity: Identity, config: Config) -> dict[str, Any]:
    """`HeadlessEventsRequest` for one event; `shop_domain` travels in the body."""
    body: dict[str, Any] = {
        "event": {
            "id": event.id,
            "name": event.name,
            "type": event.type,
            "timestamp": event.timestamp,
            "data": event.data,
            "customData": event.custom_data,
        },
        "session_id": session_id,
        "user_id": identity.user_id,
        "client_id": identity.client_id,
        "shop_domain": config.shop_domain,
        "channel": config.channel,
        "page_type": event.page.page_type,
        "page_url": event.page.url,
    }
    if event.page.customer_id:
        body["customer_id"] = event.page.customer_id
    return body


def genlook_item(event: Event) -> dict[str, Any]:
    """One element of Genlook's `events`: name, timestamp, `$insert_id` (= Glood id), properties in Genlook's
    conventions (`genlook_properties`)."""
    return {
        "event": genlook_name(event.name, event.page.page_type),
        "properties": genlook_properties(event),
        "timestamp": event.timestamp,
        "$insert_id": event.id,
    }


def shopify_gid(kind: str, value: Any) -> str | None:
    """A Shopify global id (`gid://shopify/Product/456`) for a plain id; a gid stays as it is; None stays None."""
    if value is None or value == "":
        return None
    text = str(value)
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def snake_case(name: str) -> str:
    """`cartLine` -> `cart_line`, `sectionServeId` -> `section_serve_id`; snake_case stays."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake_case(str(k)): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def _product_properties(product: Any) -> dict[str, Any]:
    """A page context's product (`{id, variant_id, title, price, handle}`) as product properties."""
    if not isinstance(product, dict):
        return {}
    out = {k: v for k, v in _snake_keys(product).items() if k not in ("id", "variant_id")}
    out["product_id"] = shopify_gid("Product", product.get("id"))
    out["variant_id"] = shopify_gid("ProductVariant", product.get("variant_id"))
    return out


def _object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {}."""
    return value if isinstance(value, dict) else {}


def _cart_line_properties(data: dict[str, Any]) -> dict[str, Any]:
    """Shopify's `cartLine` (`{merchandise: {id, product: {id}}, quantity}`) as product_id, variant_id, quantity."""
    line = _object(data.get("cartLine"))
    merchandise = _object(line.get("merchandise"))
    product = _object(merchandise.get("product"))
    rest = {k: v for k, v in _snake_keys(data).items() if k != "cart_line"}
    return {**rest, "product_id": shopify_gid("Product", product.get("id")),
            "variant_id": shopify_gid("ProductVariant", merchandise.get("id")), "quantity": line.get("quantity")}


def _collection_properties(data: dict[str, Any]) -> dict[str, Any]:
    collection = _object(data.get("collection"))
    out = {f"collection_{k}": v for k, v in _snake_keys(collection).items() if k != "id"}
    out["collection_id"] = shopify_gid("Collection", collection.get("id"))
    return out


def _cart_properties(data: dict[str, Any]) -> dict[str, Any]:
    cart = _object(data.get("cart"))
    return {("cart_" + k if not k.startswith("cart_") else k): v for k, v in _snake_keys(cart).items()
            if k != "lines"} | {"line_count": len(cart["lines"]) if isinstance(cart.get("lines"), list) else None}


def _track_properties(track: dict[str, Any]) -> dict[str, Any]:
    """Glood's `customData.track` of a section event as flat snake_case properties with global ids."""
    out: dict[str, Any] = {}
    keys = {"section": "section_id", "sectionServeId": "section_serve_id", "requestId": "request_id",
            "recommendationType": "recommendation_type", "page": "section_page"}
    for src, dst in keys.items():
        if src in track:
            out[dst] = track[src]
    parent = track.get("parent")
    if isinstance(parent, dict):
        out["parent_product_id"] = shopify_gid("Product", parent.get("productId"))
        out["parent_variant_id"] = shopify_gid("ProductVariant", parent.get("variantId"))
    products = track.get("products")
    if isinstance(products, list):
        out["products"] = [
            {"product_id": shopify_gid("Product", p.get("productId")),
             "variant_id": shopify_gid("ProductVariant", p.get("variantId")), "quantity": p.get("quantity", 1)}
            for p in products if isinstance(p, dict)
        ]
        if len(out["products"]) == 1:  # a click or an add to cart: the product acted on, at the top level
            out.update(out["products"][0])
    return out


#: How each event's Glood payload becomes Genlook properties. Standard events with product or cart data get
#: top-level `product_id` / `variant_id` (Shopify global ids) and `quantity`; every other payload is kept with
#: its keys in snake_case. (docs/design.md §4)
GENLOOK_PROPERTIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "product_viewed": lambda data: _product_properties(data.get("product")),
    "product_added_to_cart": _cart_line_properties,
    "product_removed_from_cart": _cart_line_properties,
    "collection_viewed": _collection_properties,
    "cart_viewed": _cart_properties,
}


def genlook_properties(event: Event) -> dict[str, Any]:
    """`glood_event` and `page_type`, then the event's payload mapped by GENLOOK_PROPERTIES (or snake-cased),
    then a section event's track (`_track_properties`)."""
    properties: dict[str, Any] = {"glood_event": event.name, "page_type": event.page.page_type}
    mapping = GENLOOK_PROPERTIES.get(event.name)
    properties.update(mapping(event.data) if mapping else _snake_keys(event.data))
    track = event.custom_data.get("track")
    if isinstance(track, dict):
        properties.update(_track_properties(track))
    extra = {k: v for k, v in event.custom_data.items() if k != "track"}
    if extra:
        properties["custom_data"] = _snake_keys(extra)
    return {k: v for k, v in properties.items() if v is not None}


def genlook_context(event: Event, *, session_id: str | None, identity: Identity) -> dict[str, Any]:
    """The shared `context` of a Genlook batch, from the page an event happened on."""
    page = event.page
    context: dict[str, Any] = {
        "$current_url": page.url,
        "$host": page.host,
        "$pageview_id": page.pageview_id,
        "genlook_client_id": identity.client_id,
        "genlook_lib_version": LIB_VERSION,
    }
    if session_id:
        context["$session_id"] = session_id
    if page.viewport_width is not None and page.viewport_height is not None:
        context["$viewport_width"] = page.viewport_width
        context["$viewport_height"] = page.viewport_height
    if page.user_agent:
        context["$user_agent"] = page.user_agent
    if page.product_id:
        context["genlook_product_id"] = shopify_gid("Product", page.product_id)
    if page.variant_id:
        context["genlook_variant_id"] = shopify_gid("ProductVariant", page.variant_id)
    return context


def genlook_body(items: Iterable[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(items), "context": context}

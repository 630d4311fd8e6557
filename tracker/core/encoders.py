"""Wire formats: Glood's one-event body and Genlook's batched body with a shared context."""

from __future__ import annotations

import json
from typing import Any, Iterable

from .config import Config
from .events import Event
from .naming import genlook_name
from .session import Identity

__all__ = ["LIB_VERSION", "json_bytes", "glood_body", "genlook_item", "genlook_context", "genlook_body"]

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
    """One element of Genlook's `events`: name, timestamp, `$insert_id` (= Glood id), properties."""
    properties: dict[str, Any] = {"glood_event": event.name, "page_type": event.page.page_type}
    properties.update(event.data)
    track = event.custom_data.get("track")
    if isinstance(track, dict):
        properties.update(_snake_track(track))
    return {
        "event": genlook_name(event.name, event.page.page_type),
        "properties": properties,
        "timestamp": event.timestamp,
        "$insert_id": event.id,
    }


def _snake_track(track: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = {"section": "section_id", "sectionServeId": "section_serve_id", "requestId": "request_id",
            "recommendationType": "recommendation_type", "page": "section_page"}
    for src, dst in keys.items():
        if src in track:
            out[dst] = track[src]
    parent = track.get("parent")
    if isinstance(parent, dict):
        out["parent_product_id"] = parent.get("productId")
        out["parent_variant_id"] = parent.get("variantId")
    products = track.get("products")
    if isinstance(products, list):
        out["products"] = [
            {"product_id": p.get("productId"), "variant_id": p.get("variantId"), "quantity": p.get("quantity", 1)}
            for p in products if isinstance(p, dict)
        ]
    return out


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
        context["genlook_product_id"] = page.product_id
    if page.variant_id:
        context["genlook_variant_id"] = page.variant_id
    return context


def genlook_body(items: Iterable[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(items), "context": context}

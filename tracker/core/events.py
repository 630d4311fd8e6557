"""The event model: names Glood accepts, section tracking data, and the Event record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "STANDARD_EVENTS",
    "CUSTOM_EVENTS",
    "EVENT_NAMES",
    "PAGE_TYPES",
    "TrackError",
    "ProductRef",
    "SectionTrack",
    "PageContext",
    "Event",
    "Owner",
    "event_type",
    "iso_timestamp",
    "check_json_object",
    "MAX_DEPTH",
]

#: Shopify-style standard storefront events (Glood `event.type` "standard").
STANDARD_EVENTS: tuple[str, ...] = (
    "page_viewed",
    "product_viewed",
    "product_added_to_cart",
    "product_removed_from_cart",
    "cart_viewed",
    "checkout_started",
    "checkout_completed",
    "checkout_shipping_info_submitted",
    "checkout_contact_info_submitted",
    "checkout_address_info_submitted",
    "payment_info_submitted",
    "collection_viewed",
    "search_submitted",
)

#: Glood's own events (Glood `event.type` "custom").
CUSTOM_EVENTS: tuple[str, ...] = (
    "glood:section:view",
    "glood:section:click",
    "glood:section:add_to_cart",
    "glood:section:render",
    "glood:bundle:view",
    "glood:bundle:click",
    "glood:bundle:add_to_cart",
    "glood:bundle:render",
    "glood:checkout:render",
    "glood:checkout:add_to_cart",
    "glood:checkout:offer_accept",
    "glood:checkout:offer_reject",
    "glood:checkout:click",
    "glood:init",
    "glood:customer_preference",
)

EVENT_NAMES: frozenset[str] = frozenset(STANDARD_EVENTS + CUSTOM_EVENTS)

PAGE_TYPES: tuple[str, ...] = (
    "home", "product", "collection", "cart", "checkout", "order_status", "search", "other",
)


class TrackError(ValueError):
    """An event that cannot be tracked (unknown name, data that is not JSON, too big)."""


def event_type(name: str) -> str:
    """Glood's `event.type` for a name: "standard" or "custom"."""
    if name in STANDARD_EVENTS:
        return "standard"
    if name in CUSTOM_EVENTS:
        return "custom"
    raise TrackError(f"unknown event name {name!r}; expected one of Glood's event names")


def iso_timestamp(epoch_ms: int) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-04-16T10:29:58.123Z."""
    dt = datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


#: Deepest nesting accepted in event data (the collectors refuse bodies nested deeper than 64 levels).
MAX_DEPTH = 32


def _depth(value: Any) -> int:
    """Nesting depth of plain JSON data, without recursion (a burst of deep data must not overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_json_object(value: Any, what: str) -> dict[str, Any]:
    """Return `value` as a JSON-safe plain dict, or raise TrackError saying why not (not an object, not
    JSON, not UTF-8 — a lone surrogate —, or nested deeper than MAX_DEPTH)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TrackError(f"{what} must be an object, not {type(value).__name__}")
    # Depth first, without recursion: serialising thousands of levels overflows Pyodide's stack (a fatal
    # error there, not a RecursionError).
    if _depth(value) > MAX_DEPTH:
        raise TrackError(f"{what} is nested more than {MAX_DEPTH} levels deep (or refers to itself)")
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TrackError(f"{what} holds text that is not valid Unicode (a lone surrogate)") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise TrackError(f"{what} is not JSON-serialisable: {exc}") from None
    return json.loads(text)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ProductRef:
    """A product as a recommendation widget shows it."""

    product_id: str
    variant_id: str | None = None
    quantity: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"productId": self.product_id, "variantId": self.variant_id, "quantity": self.quantity}


@dataclass(frozen=True)
class SectionTrack:
    """What a recommendation section tells about itself (Glood's `customData.track`)."""

    section: str
    section_serve_id: str | None = None
    request_id: str | None = None
    recommendation_type: str | None = None
    page: str | None = None
    parent: ProductRef | None = None
    products: tuple[ProductRef, ...] = ()

    def with_products(self, products: tuple[ProductRef, ...]) -> SectionTrack:
        return SectionTrack(self.section, self.section_serve_id, self.request_id,
                            self.recommendation_type, self.page, self.parent, products)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section}
        if self.page is not None:
            out["page"] = self.page
        if self.parent is not None:
            out["parent"] = {"productId": self.parent.product_id, "variantId": self.parent.variant_id}
        out["products"] = [p.to_json() for p in self.products]
        if self.request_id is not None:
            out["requestId"] = self.request_id
        if self.section_serve_id is not None:
            out["sectionServeId"] = self.section_serve_id
        if self.recommendation_type is not None:
            out["recommendationType"] = self.recommendation_type
        return out


@dataclass(frozen=True)
class PageContext:
    """The page an event happened on, captured when the event is made."""

    url: str = ""
    page_type: str = "other"
    pageview_id: str = ""
    product_id: str | None = None
    variant_id: str | None = None
    viewport_width: int | None = None
    viewport_height: int | None = None
    user_agent: str | None = None
    customer_id: str | None = None

    @property
    def host(self) -> str:
        rest = self.url.split("://", 1)[-1]
        return rest.split("/", 1)[0].split("?", 1)[0]


@dataclass(frozen=True)
class Owner:
    """The identity an event was made under, kept when the visitor's identity is reset before it is sent."""

    user_id: str
    client_id: str
    session_id: str | None = None
    #: The visit's token from init (Glood events carry it when the shop uses a public token).
    token: str | None = None


@dataclass(frozen=True)
class Event:
    """One tracked occurrence. `id` is Glood's `event.id` and Genlook's `$insert_id`."""

    id: str
    name: str
    timestamp_ms: int
    page: PageContext
    data: dict[str, Any] = field(default_factory=dict)
    custom_data: dict[str, Any] = field(default_factory=dict)
    #: Set by a reset: the ids (and visit) this event goes out under instead of the current ones.
    owner: Owner | None = None

    @property
    def type(self) -> str:
        return event_type(self.name)

    @property
    def timestamp(self) -> str:
        return iso_timestamp(self.timestamp_ms)

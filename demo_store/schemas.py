"""JSON Schemas of the request bodies the stand-ins accept (written from the APIs' documentation),
and a validator whose messages name the JSON path and the problem."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

__all__ = ["GLOOD_EVENT_NAMES", "GENLOOK_NAME_PATTERN", "Schema", "GLOOD_EVENTS", "GLOOD_INIT", "GLOOD_SECTIONS",
           "GENLOOK_EVENTS", "COLLECTOR_FAULT", "FAULT_ENDPOINTS", "PAGE_TYPES", "is_date_time", "json_path"]

GLOOD_EVENT_NAMES: tuple[str, ...] = (
    "page_viewed", "product_viewed", "product_added_to_cart", "product_removed_from_cart", "cart_viewed",
    "checkout_started", "checkout_completed", "checkout_shipping_info_submitted",
    "checkout_contact_info_submitted", "checkout_address_info_submitted", "payment_info_submitted",
    "collection_viewed", "search_submitted",
    "glood:section:view", "glood:section:click", "glood:section:add_to_cart", "glood:section:render",
    "glood:bundle:view", "glood:bundle:click", "glood:bundle:add_to_cart", "glood:bundle:render",
    "glood:checkout:render", "glood:checkout:add_to_cart", "glood:checkout:offer_accept",
    "glood:checkout:offer_reject", "glood:checkout:click", "glood:init", "glood:customer_preference",
)
CHANNELS = ("web", "mobile", "headless", "hydrogen")
PAGE_TYPES = ("home", "product", "collection", "cart", "checkout", "order_status", "search", "other")

_STRING = {"type": "string"}
_OBJECT = {"type": "object"}

#: `HeadlessEventsRequest`; `shop_domain` is also required when there is no `x-shop` header (checked apart).
_GLOOD_EVENTS: dict[str, Any] = {
    "type": "object",
    "required": ["event", "session_id"],
    "properties": {
        "event": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "name": {"type": "string", "enum": list(GLOOD_EVENT_NAMES)},
                "type": {"type": "string", "enum": ["standard", "custom"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": _OBJECT,
                "customData": _OBJECT,
            },
        },
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "user_id": _STRING,
        "client_id": _STRING,
        "customer_id": _STRING,
        "session_id": _STRING,
        "shop_domain": _STRING,
        "device": {
            "type": "object",
            "properties": {"type": _STRING, "os": _STRING, "os_version": _STRING, "app_version": _STRING},
        },
        "page_type": {"type": "string", "enum": list(PAGE_TYPES)},
        "page_url": _STRING,
        "cart": _OBJECT,
        "customer": _OBJECT,
        "customer_privacy": _OBJECT,
    },
}

#: Init's request (shared/notes/glood-headless-flow.md §1): every field optional; the shop comes from the
#: required `x-shop` header (checked apart). As in the events schema (OpenAPI objects allow more properties
#: unless they say otherwise), fields the notes do not list are accepted and ignored.
_GLOOD_INIT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": _STRING,
        "client_id": _STRING,
        "customer_id": _STRING,
        "page_type": {"type": "string", "enum": list(PAGE_TYPES)},
        "page_url": _STRING,
    },
}

_INTEGERS = {"type": "array", "items": {"type": "integer"}}
_STRINGS = {"type": "array", "items": _STRING}

#: The sections request (notes §2): `page_url`, `page_type` and `locale` required, the rest optional; `x-shop`
#: is checked apart; fields the notes do not list are accepted and ignored.
_GLOOD_SECTIONS: dict[str, Any] = {
    "type": "object",
    "required": ["page_url", "page_type", "locale"],
    "properties": {
        "page_url": _STRING,
        "page_type": {"type": "string", "enum": list(PAGE_TYPES)},
        "locale": {"type": "string", "minLength": 1},
        "client_id": _STRING,
        "user_id": _STRING,
        "customer_id": _STRING,
        "product_id": {"type": "integer"},
        "cart_product_ids": _INTEGERS,
        "market": _STRING,
        "sections": _STRINGS,
        "placed_sections": _STRINGS,
        "preview": {"type": "boolean"},
        "tags": _STRINGS,
        "collection": _STRING,
        "currency": _STRING,
        "zipcode": _STRING,
        "cart_value": {"type": "number"},
    },
}

#: Genlook's `category:action` snake_case names. `\Z`, not `$`: Python's `$` also matches before a final
#: newline, and jsonschema applies patterns with `re.search`.
GENLOOK_NAME_PATTERN = r"^[a-z0-9_]+:[a-z0-9_]+\Z"

#: Genlook's tracking batch: 1..50 events sharing one context.
_GENLOOK_EVENTS: dict[str, Any] = {
    "type": "object",
    "required": ["events", "context"],
    "properties": {
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["event", "timestamp", "$insert_id"],
                "properties": {
                    "event": {"type": "string", "pattern": GENLOOK_NAME_PATTERN},
                    "properties": _OBJECT,
                    "timestamp": {"type": "string", "format": "date-time"},
                    "$insert_id": {"type": "string", "minLength": 1},
                },
            },
        },
        "context": {
            "type": "object",
            "properties": {
                **{key: _STRING for key in ("$current_url", "$host", "$session_id", "$pageview_id", "$user_agent",
                                            "genlook_client_id", "genlook_product_id", "genlook_variant_id",
                                            "genlook_lib_version")},
                "$viewport_width": {"type": "integer"},
                "$viewport_height": {"type": "integer"},
            },
        },
    },
}

#: The endpoints of each collector that faults can be armed on.
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {"glood": ("events", "init"), "genlook": ("events",)}
_INT32_MAX = 2**31 - 1

#: `POST /_collector/faults`; that genlook has no "init" is checked apart (a clearer message than `if`/`then`).
_COLLECTOR_FAULT: dict[str, Any] = {
    "type": "object",
    "required": ["destination", "fail_next"],
    "additionalProperties": False,
    "properties": {
        "destination": {"type": "string", "enum": list(FAULT_ENDPOINTS)},
        "endpoint": {"type": "string", "enum": ["events", "init"]},
        "fail_next": {"type": "integer", "minimum": 0, "maximum": _INT32_MAX},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "retry_after": {"type": ["integer", "null"], "minimum": 0, "maximum": _INT32_MAX},
    },
}

#: Applied with `fullmatch`; ASCII digits only (`\d` would take any script's digits).
_DATE_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                        r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))")


def is_date_time(value: object) -> bool:
    """RFC 3339 `date-time` (JSON Schema's format): full date, time, fraction and offset, all in range."""
    if not isinstance(value, str):
        return True  # formats only constrain strings; "type" catches the rest
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    off_hour, off_minute = (int(g or 0) for g in match.groups()[6:])
    try:
        date(year, month, day)
    except ValueError:
        return False
    return hour <= 23 and minute <= 59 and second <= 60 and off_hour <= 23 and off_minute <= 59


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(is_date_time)


def json_path(path: Iterable[str | int]) -> str:
    """`["events", 3, "timestamp"]` -> `events[3].timestamp`; the root is `body`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _position(error: ValidationError) -> tuple[int, tuple[tuple[bool, Any], ...]]:
    """Shallowest first (a missing field before a bad value inside it), then document order."""
    return len(error.absolute_path), tuple((isinstance(p, str), p) for p in error.absolute_path)


def _message(error: ValidationError) -> str:
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "type":
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{_short(instance)} is not of type {expected_text}"
    if kind == "enum":
        return f"{_short(instance)} is not one of {', '.join(map(str, expected))}"
    if kind == "format":
        return f"{_short(instance)} is not a valid {expected}"
    if kind == "pattern":
        return f"{_short(instance)} does not match {expected}"
    if kind == "minItems":
        return f"has {len(instance)} items, at least {expected} required"
    if kind == "maxItems":
        return f"has {len(instance)} items, at most {expected} allowed"
    if kind == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    return str(error.message)


class Schema:
    """A JSON Schema (Draft 2020-12, with our own `date-time` check) and its validator."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self.schema = schema
        self._validator = Draft202012Validator(schema, format_checker=_FORMATS)

    def problem(self, instance: Any) -> str | None:
        """None if `instance` is valid, else one message: `<json path>: <problem>` (+ how many more)."""
        errors = list(self._validator.iter_errors(instance))
        if not errors:
            return None
        error = min(errors, key=_position)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        return f"{json_path(error.absolute_path)}: {_message(error)}{more}"


GLOOD_EVENTS = Schema(_GLOOD_EVENTS)
GLOOD_INIT = Schema(_GLOOD_INIT)
GLOOD_SECTIONS = Schema(_GLOOD_SECTIONS)
GENLOOK_EVENTS = Schema(_GENLOOK_EVENTS)
COLLECTOR_FAULT = Schema(_COLLECTOR_FAULT)

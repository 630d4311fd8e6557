"""Stand-ins for the two ingestion APIs (and Glood's session init), plus routes to inspect what arrived
and to make them fail on purpose."""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import visits
from .api import Payload, Rejection, json_api_route, json_error, read_json, same_origin_only, whole_number
from .schemas import COLLECTOR_FAULT, FAULT_ENDPOINTS, GENLOOK_EVENTS, GLOOD_EVENTS, GLOOD_INIT
from .settings import GENLOOK_EVENTS_PATH, AppState, Settings, app_state
from .store_db import DESTINATIONS, Fault, StoredEvent, Visit, token_digest
from .visits import authorize_visit, check_visit, new_token, require_public_token, require_shop

__all__ = ["GLOOD_INIT_PATH", "GLOOD_EVENTS_PATH", "GENLOOK_EVENTS_PATH", "COLLECTOR_PATHS", "MONEY_FORMAT",
           "CURRENCY", "MAX_LIMIT", "EVENTS_MAX_BYTES", "EVENTS_MAX_BYTES_CEILING", "shop_config", "listing_json",
           "collector_routes"]

GLOOD_INIT_PATH = "/api/storefront/v3/headless/init"
GLOOD_EVENTS_PATH = "/api/storefront/v3/headless/events"
#: The ingestion endpoints and the destination whose stats count their refusals.
COLLECTOR_PATHS = {GLOOD_INIT_PATH: "glood", GLOOD_EVENTS_PATH: "glood", GENLOOK_EVENTS_PATH: "genlook"}
#: The demo shop's money: Shopify's money format and the currency of its prices.
MONEY_FORMAT = "${{amount}}"
CURRENCY = "USD"
MAX_LIMIT = 1000
#: Default bound of one `events.json` answer, in bytes of JSON, and the most `max_bytes` may ask for.
EVENTS_MAX_BYTES = 2 * 1024 * 1024
EVENTS_MAX_BYTES_CEILING = 8 * 1024 * 1024
EVENTS_MIN_BYTES = 1024
#: The fields of a listed event, in order; the last three are cut (body first) when an event does not fit.
_META_FIELDS = ("destination", "event_id", "name", "session_id", "client_id", "page_url", "received_at", "deliveries")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _shop_domain(request: Request, body: dict[str, Any]) -> str:
    """The shop: the body's `shop_domain`, else the `x-shop` header; one of them is required."""
    shop = body.get("shop_domain") or request.headers.get("x-shop")
    if not shop:
        raise Rejection(400, "shop_domain: is required when the x-shop header is not set")
    return str(shop)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _init_authorize(request: Request, state: AppState) -> None:
    """Init: `x-shop` must name this shop (400), then the public token, when the store has one (401)."""
    require_shop(request, state)
    require_public_token(request, state)


def shop_config(settings: Settings) -> dict[str, Any]:
    """Init's `config`: the shop's money format and currency, and what the shop has turned on."""
    return {"shop": {"money_format": MONEY_FORMAT, "currency": CURRENCY}, "integrations_enabled": False,
            "product_review_app": "", "analytics_enabled": settings.analytics_enabled, "skip_parent_product": False}


def _glood_init(_request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    """A new visit with its token (valid `visit_token_ttl` seconds); the request's user and client ids are kept,
    missing ones assigned."""
    body = payload.data
    token = new_token()
    visit = Visit(visit_id=str(uuid.uuid4()), shop_domain=state.settings.shop_domain,
                  client_id=_optional_str(body.get("client_id")) or str(uuid.uuid4()),
                  user_id=_optional_str(body.get("user_id")) or str(uuid.uuid4()),
                  customer_id=_optional_str(body.get("customer_id")), page_type=body.get("page_type"),
                  page_url=body.get("page_url"), token_sha256=token_digest(token),
                  expires_at=visits.now() + state.settings.visit_token_ttl)
    state.db.add_visit(visit)
    return {"visit_id": visit.visit_id, "user_id": visit.user_id, "client_id": visit.client_id,
            "customer_id": visit.customer_id,
            "visitor": {"browsed_products": [], "cart_products": [], "purchased_products": []},
            "config": shop_config(state.settings), "token": token}


def _glood_events(request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    body = payload.data
    check_visit(request, body["session_id"], _shop_domain(request, body))
    event = body["event"]
    state.db.store_events("glood", payload.raw, [StoredEvent(
        event_id=event["id"], name=event["name"], session_id=body["session_id"],
        client_id=_optional_str(body.get("client_id")), page_url=_optional_str(body.get("page_url")), event=event)])
    return {"ok": True}


def _genlook_events(_request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    context = payload.data["context"]
    state.db.store_events("genlook", payload.raw, [StoredEvent(
        event_id=item["$insert_id"], name=item["event"], session_id=_optional_str(context.get("$session_id")),
        client_id=_optional_str(context.get("genlook_client_id")),
        page_url=_optional_str(context.get("$current_url")), event=item, context=context)
        for item in payload.data["events"]])
    return {"success": True}


def _sanitized(value: Any) -> Any:
    """`value` made serialisable: non-finite numbers as the strings "Infinity", "-Infinity", "NaN" and lone
    surrogates as U+FFFD (what an older store may hold)."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_sanitized(str(k)): _sanitized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitized(v) for v in value]
    return value


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of anything read from the database: never fails (what cannot be shown says so)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        pass
    try:
        return json.dumps(_sanitized(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
        return json.dumps({"$unreadable": type(exc).__name__}).encode("utf-8")


def _item_bytes(fields: list[tuple[str, bytes]]) -> bytes:
    return b"{" + b",".join(json.dumps(name).encode() + b":" + value for name, value in fields) + b"}"


def listing_json(items: list[dict[str, Any]], max_bytes: int) -> tuple[bytes, int, int]:
    """The JSON array of `items` in at most `max_bytes` bytes, and how many items were cut and left out.

    Items go in order, each as whole as fits what is left: whole; else with `body` replaced by
    `{"$truncated": <its size in bytes>}`; else with `event` and `context` replaced too. The listing
    ends at the first item that does not fit even so (it and the rest are left out)."""
    parts: list[bytes] = []
    used, truncated = 2, 0
    for index, item in enumerate(items):
        meta = [(name, _json_bytes(item.get(name))) for name in _META_FIELDS]
        big = [(name, _json_bytes(item.get(name))) for name in ("body", "event", "context")]
        marked = [(name, value if value == b"null" else _json_bytes({"$truncated": len(value)})) for name, value in big]
        separator = 1 if parts else 0
        for level, chosen in enumerate((big, [marked[0], *big[1:]], marked)):
            encoded = _item_bytes(meta + chosen)
            if used + separator + len(encoded) <= max_bytes:
                parts.append(encoded)
                used += separator + len(encoded)
                truncated += level > 0
                break
        else:
            return b"[" + b",".join(parts) + b"]", truncated, len(items) - index
    return b"[" + b",".join(parts) + b"]", truncated, 0


def _bounded(query: Any, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter `name` (`default` when absent or empty), Rejection(400) outside low..high."""
    text = query.get(name) or str(default)
    number = whole_number(text)
    if number is None or not low <= number <= high:
        raise Rejection(400, f"{name}: must be an integer from {low} to {high}")
    return number


async def events_json(request: Request) -> Response:
    """`GET /_collector/events.json?destination=&name=&session_id=&client_id=&limit=&max_bytes=`, newest first,
    at most `max_bytes` bytes (see `listing_json`); headers say how many events were cut or left out."""
    query = request.query_params
    destination = query.get("destination") or None
    if destination is not None and destination not in DESTINATIONS:
        return json_error(400, f"destination: must be one of {', '.join(DESTINATIONS)}")
    try:
        limit = _bounded(query, "limit", 200, 1, MAX_LIMIT)
        max_bytes = _bounded(query, "max_bytes", EVENTS_MAX_BYTES, EVENTS_MIN_BYTES, EVENTS_MAX_BYTES_CEILING)
    except Rejection as exc:
        return json_error(exc.status, exc.message)
    events = app_state(request).db.events(destination, name=query.get("name") or None,
                                          session_id=query.get("session_id") or None,
                                          client_id=query.get("client_id") or None, limit=limit)
    body, truncated, omitted = listing_json(events, max_bytes)
    return Response(body, media_type="application/json", headers={
        "Cache-Control": "no-store", "X-Collector-Truncated": str(truncated), "X-Collector-Omitted": str(omitted)})


async def stats_json(request: Request) -> Response:
    """Per destination what arrived and what was refused; `server`: overload answers (any path) and the requests
    running and waiting now (see `demo_store.admission`)."""
    state = app_state(request)
    return JSONResponse({**state.db.stats(), "server": state.limiter.snapshot()}, headers={"Cache-Control": "no-store"})


async def reset(request: Request) -> Response:
    """Forget every received event and rejection (overload answers included) and disarm every fault (carts and
    visits stay)."""
    state = app_state(request)
    state.db.reset_events()
    state.db.disarm_faults()
    state.limiter.reset_counts()
    return JSONResponse({"ok": True})


def _fault(data: Any) -> Fault:
    """The Fault a `POST /_collector/faults` body arms; Rejection(400) naming the problem otherwise."""
    message = COLLECTOR_FAULT.problem(data)
    if message is not None:
        raise Rejection(400, message)
    destination, endpoint = data["destination"], data.get("endpoint", "events")
    if endpoint not in FAULT_ENDPOINTS[destination]:
        raise Rejection(400, f"endpoint: {destination} has only {', '.join(FAULT_ENDPOINTS[destination])}")
    retry_after = data.get("retry_after")
    return Fault(destination, endpoint, int(data["fail_next"]), int(data.get("status", 503)),
                 None if retry_after is None else int(retry_after))


async def faults(request: Request) -> Response:
    """`GET /_collector/faults` lists the armed faults; `POST` (application/json) arms (or replaces, or with 0
    disarms) one."""
    db = app_state(request).db
    if request.method == "POST":
        try:
            db.arm_fault(_fault((await read_json(request, types=("application/json",))).data))
        except Rejection as exc:
            return json_error(exc.status, exc.message, exc.headers)
        return JSONResponse({"ok": True, "faults": [f.to_json() for f in db.faults()]},
                            headers={"Cache-Control": "no-store"})
    return JSONResponse({"faults": [f.to_json() for f in db.faults()]}, headers={"Cache-Control": "no-store"})


def collector_routes() -> list[Route]:
    return [
        json_api_route(GLOOD_INIT_PATH, GLOOD_INIT, _glood_init, destination="glood", fault_endpoint="init",
                       authorize=_init_authorize),
        json_api_route(GLOOD_EVENTS_PATH, GLOOD_EVENTS, _glood_events, destination="glood", fault_endpoint="events",
                       authorize=authorize_visit),
        json_api_route(GENLOOK_EVENTS_PATH, GENLOOK_EVENTS, _genlook_events, destination="genlook",
                       fault_endpoint="events"),
        Route("/_collector/events.json", events_json),
        Route("/_collector/stats.json", stats_json),
        Route("/_collector/reset", same_origin_only(reset), methods=["POST"]),
        Route("/_collector/faults", same_origin_only(faults), methods=["GET", "POST"]),
    ]

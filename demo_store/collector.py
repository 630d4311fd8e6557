"""Stand-ins for the two ingestion APIs (and Glood's session init), plus routes to inspect what arrived
and to make them fail on purpose."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api import Payload, Rejection, json_api_route, json_error, read_json
from .schemas import COLLECTOR_FAULT, FAULT_ENDPOINTS, GENLOOK_EVENTS, GLOOD_EVENTS, GLOOD_INIT
from .settings import GENLOOK_EVENTS_PATH, AppState, app_state
from .store_db import DESTINATIONS, Fault, StoredEvent, Visit

__all__ = ["GLOOD_INIT_PATH", "GLOOD_EVENTS_PATH", "GENLOOK_EVENTS_PATH", "VISIT_TTL_SECONDS", "collector_routes"]

GLOOD_INIT_PATH = "/api/storefront/v3/headless/init"
GLOOD_EVENTS_PATH = "/api/storefront/v3/headless/events"
VISIT_TTL_SECONDS = 1800
MAX_LIMIT = 1000


def _shop_domain(request: Request, body: dict[str, Any]) -> str:
    """The shop: the body's `shop_domain`, else the `x-shop` header; one of them is required."""
    shop = body.get("shop_domain") or request.headers.get("x-shop")
    if not shop:
        raise Rejection(400, "shop_domain: is required when the x-shop header is not set")
    return str(shop)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _glood_init(request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    body = payload.data
    visit = Visit(str(uuid.uuid4()), _shop_domain(request, body), body.get("client_id"), body.get("user_id"),
                  body.get("channel"), body.get("page_url"))
    state.db.add_visit(visit)
    return {"visit_id": visit.visit_id, "expires_in": VISIT_TTL_SECONDS}


def _glood_events(request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    body = payload.data
    _shop_domain(request, body)
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


async def events_json(request: Request) -> Response:
    """`GET /_collector/events.json?destination=&name=&session_id=&client_id=&limit=`, newest first."""
    query = request.query_params
    destination = query.get("destination") or None
    if destination is not None and destination not in DESTINATIONS:
        return json_error(400, f"destination: must be one of {', '.join(DESTINATIONS)}")
    limit_text = query.get("limit") or "200"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        return json_error(400, f"limit: must be an integer from 1 to {MAX_LIMIT}")
    events = app_state(request).db.events(destination, name=query.get("name") or None,
                                          session_id=query.get("session_id") or None,
                                          client_id=query.get("client_id") or None, limit=int(limit_text))
    return JSONResponse(events, headers={"Cache-Control": "no-store"})


async def stats_json(request: Request) -> Response:
    return JSONResponse(app_state(request).db.stats(), headers={"Cache-Control": "no-store"})


async def reset(request: Request) -> Response:
    """Forget every received event and rejection and disarm every fault (carts and visits stay)."""
    db = app_state(request).db
    db.reset_events()
    db.disarm_faults()
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
    """`GET /_collector/faults` lists the armed faults; `POST` arms (or replaces, or with 0 disarms) one."""
    db = app_state(request).db
    if request.method == "POST":
        try:
            db.arm_fault(_fault((await read_json(request)).data))
        except Rejection as exc:
            return json_error(exc.status, exc.message, exc.headers)
        return JSONResponse({"ok": True, "faults": [f.to_json() for f in db.faults()]},
                            headers={"Cache-Control": "no-store"})
    return JSONResponse({"faults": [f.to_json() for f in db.faults()]}, headers={"Cache-Control": "no-store"})


def collector_routes() -> list[Route]:
    return [
        json_api_route(GLOOD_INIT_PATH, GLOOD_INIT, _glood_init, destination="glood", fault_endpoint="init"),
        json_api_route(GLOOD_EVENTS_PATH, GLOOD_EVENTS, _glood_events, destination="glood", fault_endpoint="events",
                       authenticated=True),
        json_api_route(GENLOOK_EVENTS_PATH, GENLOOK_EVENTS, _genlook_events, destination="genlook",
                       fault_endpoint="events"),
        Route("/_collector/events.json", events_json),
        Route("/_collector/stats.json", stats_json),
        Route("/_collector/reset", reset, methods=["POST"]),
        Route("/_collector/faults", faults, methods=["GET", "POST"]),
    ]

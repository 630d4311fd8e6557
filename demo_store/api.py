"""JSON API plumbing shared by the stand-ins: errors, CORS, bounded JSON bodies, injected faults, one endpoint
wrapper."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .schemas import Schema
from .settings import AppState, app_state

__all__ = ["MAX_BODY_BYTES", "EXPOSED_HEADERS", "Rejection", "Payload", "Handler", "json_error", "cors_headers",
           "content_type", "read_body", "read_json", "json_api_route"]

MAX_BODY_BYTES = 65536
JSON_TYPES = ("application/json", "text/plain")
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_ALLOWED_HEADERS = "content-type, authorization, x-shop"
#: Response headers a cross-origin `fetch` may read (Retry-After tells the tracker when to try again).
EXPOSED_HEADERS = "Retry-After"


class Rejection(Exception):
    """A request refused with an HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Payload:
    """A request body: the raw text as received and the JSON it holds."""

    raw: str
    data: Any


Handler = Callable[[Request, AppState, Payload], Any]


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The APIs' `Error` shape: `{"error": <status>, "message": "..."}`."""
    return JSONResponse({"error": status, "message": message}, status_code=status, headers=dict(headers or {}))


def cors_headers(request: Request) -> dict[str, str]:
    """Echo the Origin with credentials allowed: what cross-origin JSON beacons need."""
    headers = {"Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin:
        headers.update({"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"})
    return headers


def _preflight(request: Request) -> Response:
    requested = request.headers.get("access-control-request-headers") or DEFAULT_ALLOWED_HEADERS
    return Response(status_code=204, headers={
        **cors_headers(request),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": requested,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Headers",
    })


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def content_type(request: Request) -> str:
    """The media type of the body, without parameters, lower case ("" when missing)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 past `limit` bytes (by Content-Length, or while reading: never buffered beyond)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Rejection(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise Rejection(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejection(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _discard_body(request: Request, limit: int = MAX_BODY_BYTES) -> None:
    """Read and drop up to `limit` bytes of the body (unparsed), so the connection stays usable."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return


async def _injected_failure(request: Request, state: AppState, destination: str, endpoint: str) -> None:
    """Raise the Rejection of the endpoint's armed fault, using up one of its failures; nothing when unarmed."""
    fault = state.db.take_fault(destination, endpoint)
    if fault is None:
        return
    await _discard_body(request)
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    raise Rejection(fault.status, f"injected failure ({fault.remaining} left)", headers)


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Payload:
    """The body as JSON; 415 for content types other than JSON or text (beacons), 413 past `limit` bytes."""
    kind = content_type(request)
    if kind not in JSON_TYPES:
        raise Rejection(415, f"content type must be application/json or text/plain, not {kind or 'none'}")
    body = await read_body(request, limit)
    try:
        raw = body.decode("utf-8")
        return Payload(raw, json.loads(raw, parse_constant=_reject_constant))
    except UnicodeDecodeError as exc:
        raise Rejection(400, f"invalid JSON: body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise Rejection(400, f"invalid JSON: {exc}") from None


def _check_bearer(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Rejection(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})


def json_api_route(path: str, schema: Schema, handle: Handler, *, destination: str | None = None,
                   fault_endpoint: str | None = None, authenticated: bool = False) -> Route:
    """A CORS-enabled `POST` JSON endpoint: checks method, token, type, size, JSON and schema, then `handle`s.

    `handle` returns the JSON answer or raises Rejection. Every rejection of a collector
    (`destination` set) is counted in the stats with its status. A collector endpoint with a
    `fault_endpoint` name first answers the failures armed for (destination, fault_endpoint), before
    any other check (preflights are never failed). `authenticated` endpoints require the settings'
    `glood_token`, when one is set. Every answer but the preflight exposes Retry-After to scripts.
    """

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return _preflight(request)
        state = app_state(request)
        cors = {**cors_headers(request), "Access-Control-Expose-Headers": EXPOSED_HEADERS}
        try:
            if request.method == "POST" and destination is not None and fault_endpoint is not None:
                await _injected_failure(request, state, destination, fault_endpoint)
            if request.method != "POST":
                raise Rejection(405, f"method {request.method} not allowed; use POST", {"Allow": "POST, OPTIONS"})
            if authenticated and state.settings.glood_token:
                _check_bearer(request, state.settings.glood_token)
            payload = await read_json(request)
            message = schema.problem(payload.data)
            if message is not None:
                raise Rejection(400, message)
            answer = handle(request, state, payload)
        except Rejection as exc:
            if destination is not None:
                state.db.count_rejection(destination, exc.status)
            return json_error(exc.status, exc.message, {**exc.headers, **cors})
        return JSONResponse(answer, headers=cors)

    return Route(path, endpoint, methods=list(ANY_METHOD))

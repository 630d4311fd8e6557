"""JSON API plumbing shared by the stand-ins: errors, CORS, bounded JSON bodies, injected faults, one endpoint
wrapper."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from .schemas import Schema, json_path
from .settings import AppState, app_state

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "BODY_DEADLINE", "EXPOSED_HEADERS", "JSON_TYPES", "Rejection",
           "Payload", "Handler", "Authorizer", "Endpoint", "json_error", "cors_headers", "content_type", "whole_number",
           "same_origin_problem", "same_origin_only", "read_body", "parse_json", "read_json", "json_api_route"]

MAX_BODY_BYTES = 65536
#: Deepest nesting of arrays and objects a JSON body may have (the APIs' bodies need 6).
MAX_JSON_DEPTH = 64
#: Scope key of the event-loop time by which a request's body must have arrived (set by `admission.Admission`,
#: which receives bodies before requests run; without it, `Settings.body_timeout` counts from the first read).
BODY_DEADLINE = "demo_store.body_deadline"
#: Content types of JSON bodies the collectors take: beacons send text/plain.
JSON_TYPES = ("application/json", "text/plain")
#: `Sec-Fetch-Site` values of requests a page of this store (or the user, by hand) started.
SAME_ORIGIN_FETCH_SITES = ("same-origin", "none")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
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
#: Checks a request's headers before its body is read; raises Rejection.
Authorizer = Callable[[Request, AppState], None]
Endpoint = Callable[[Request], Awaitable[Response]]


_LOG = logging.getLogger("demo_store")
_DIGITS = re.compile(r"[0-9]{1,18}")


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The APIs' `Error` shape: `{"error": <status>, "message": "..."}` (a lone surrogate quoted from the request
    is written as its escape, `\\udc00`: the answer is always UTF-8)."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": status, "message": text}, status_code=status, headers=dict(headers or {}))


def cors_headers(request: Request) -> dict[str, str]:
    """Echo the Origin with credentials allowed: what cross-origin JSON beacons need.

    `Origin: null` (sandboxed frames, files, some redirects) names no origin: it gets no grant."""
    headers = {"Vary": "Origin"}
    origin = request.headers.get("origin", "").strip()
    if origin and origin.lower() != "null":
        headers.update({"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"})
    return headers


def whole_number(text: str) -> int | None:
    """The value of a plain decimal number ("007" -> 7; up to 18 ASCII digits), else None ("²", "-1", "1e3")."""
    return int(text) if _DIGITS.fullmatch(text) else None


def _origin_key(scheme: str, netloc: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; None when `netloc` is no host[:port]."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return scheme.lower(), parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme.lower())


def same_origin_problem(request: Request) -> str | None:
    """Why a state-changing request must be refused as coming from another origin, or None.

    Browsers send `Sec-Fetch-Site` and (on POST) `Origin`; a present one must say "this origin" (or,
    for `Sec-Fetch-Site`, "none": typed by the user). Requests with neither (curl, scripts) pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in SAME_ORIGIN_FETCH_SITES:
        return f"cross-origin request refused (Sec-Fetch-Site: {site.strip()[:40]})"
    origin = request.headers.get("origin")
    if origin is not None:
        scheme, _, netloc = origin.strip().partition("://")
        # This store's origin as the request reached it: the scheme and the Host header.
        own = _origin_key(request.url.scheme, request.headers.get("host", ""))
        if own is None or _origin_key(scheme, netloc) != own:
            return f"cross-origin request refused (Origin: {origin.strip()[:80]})"
    return None


def same_origin_only(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, with state-changing methods (all but GET, HEAD, OPTIONS) from another origin refused: 403 in
    the Error shape (see `same_origin_problem`), before the endpoint reads anything."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if request.method not in SAFE_METHODS:
            problem = same_origin_problem(request)
            if problem is not None:
                return json_error(403, problem)
        return await endpoint(request)

    return guarded


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


def _body_deadline(request: Request) -> asyncio.Timeout:
    """The bound on receiving this request's body: its `BODY_DEADLINE`, else `body_timeout` from now."""
    deadline = request.scope.get(BODY_DEADLINE)
    if isinstance(deadline, float):
        return asyncio.timeout_at(deadline)
    return asyncio.timeout(app_state(request).settings.body_timeout)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 past `limit` bytes (by Content-Length, or while reading: never buffered beyond),
    with 408 (and the connection closed) when it takes longer than the settings' `body_timeout`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        size = whole_number(declared.strip())
        if size is None:
            raise Rejection(400, f"invalid Content-Length {declared[:40]!r}")
        if size > limit:
            raise Rejection(413, f"body of {size} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    timeout = app_state(request).settings.body_timeout
    try:
        async with _body_deadline(request):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Rejection(413, f"body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Rejection(408, f"body not received within {timeout:g} s", {"Connection": "close"}) from None
    except ClientDisconnect:
        raise Rejection(400, "client disconnected before the body was complete") from None
    return b"".join(chunks)


async def _discard_body(request: Request, limit: int = MAX_BODY_BYTES) -> None:
    """Read and drop up to `limit` bytes of the body (unparsed, within `body_timeout`), so the connection stays
    usable."""
    size = 0
    try:
        async with _body_deadline(request):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return
    except (TimeoutError, ClientDisconnect):
        return


async def _injected_failure(request: Request, state: AppState, destination: str, endpoint: str) -> None:
    """Raise the Rejection of the endpoint's armed fault, using up one of its failures; nothing when unarmed."""
    fault = state.db.take_fault(destination, endpoint)
    if fault is None:
        return
    await _discard_body(request)
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    raise Rejection(fault.status, f"injected failure ({fault.remaining} left)", headers)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range (not a finite double)")
    return value


#: A whole string (possibly unterminated: it then runs to the end) or a bracket; linear, never backtracks.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]+|\\[\s\S])*"?|[\[\]{}]')


def _nesting_problem(text: str, limit: int) -> str | None:
    """A message if arrays/objects nest deeper than `limit` (brackets inside strings do not count)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return f"nesting deeper than {limit} levels at character {match.start()}"
        elif token in "]}":
            depth -= 1
    return None


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _lone_surrogate_path(data: Any) -> str | None:
    """The JSON path of the first string (value or key) holding a lone UTF-16 surrogate, else None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return json_path(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if not key.isascii() and _SURROGATE.search(key):
                    return json_path((*path, key)) + " (key)"
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
    return None


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Payload:
    """Strict JSON from UTF-8 bytes: no NaN/Infinity, no non-finite numbers (`1e999`), no lone surrogates
    (`"\\ud800"`, not Unicode text), at most `max_depth` levels deep; Rejection(400) naming the problem."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(400, f"invalid JSON: body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    problem = _nesting_problem(raw, max_depth)
    if problem is not None:
        raise Rejection(400, f"invalid JSON: {problem}")
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise Rejection(400, "invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise Rejection(400, f"invalid JSON: {exc}") from None
    where = _lone_surrogate_path(data)
    if where is not None:
        raise Rejection(400, f"invalid JSON: {where}: string holds a lone UTF-16 surrogate (not Unicode text)")
    return Payload(raw, data)


async def read_json(request: Request, limit: int = MAX_BODY_BYTES, types: tuple[str, ...] = JSON_TYPES) -> Payload:
    """The body as strict JSON (see `parse_json`); 415 for content types not in `types` (by default JSON or
    text, which beacons send), 413 past `limit` bytes."""
    kind = content_type(request)
    if kind not in types:
        raise Rejection(415, f"content type must be {' or '.join(types)}, not {kind or 'none'}")
    return parse_json(await read_body(request, limit))


def json_api_route(path: str, schema: Schema, handle: Handler, *, destination: str | None = None,
                   fault_endpoint: str | None = None, authorize: Authorizer | None = None) -> Route:
    """A CORS-enabled `POST` JSON endpoint: checks method, headers, type, size, JSON and schema, then `handle`s.

    `handle` returns the JSON answer or raises Rejection. Every rejection of a collector
    (`destination` set) is counted in the stats with its status. A collector endpoint with a
    `fault_endpoint` name first answers the failures armed for (destination, fault_endpoint), before
    any other check (preflights are never failed). `authorize` checks the request's headers (shop,
    tokens) before its body is read, raising Rejection (it may leave what it found on `request.state`).
    Every answer but the preflight exposes Retry-After to scripts.
    Whatever goes wrong inside (a bug, the database) is a 500 in the same shape, with CORS, counted.
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
            if authorize is not None:
                authorize(request, state)
            payload = await read_json(request)
            message = schema.problem(payload.data)
            if message is not None:
                raise Rejection(400, message)
            answer = handle(request, state, payload)
            body = JSONResponse(answer, headers=cors)
        except Rejection as exc:
            return _refused(state, destination, exc, cors)
        except Exception as exc:  # noqa: BLE001 - a collector answers every request in its documented shape
            _LOG.exception("%s %s failed", request.method, path)
            return _refused(state, destination, Rejection(500, f"internal error ({type(exc).__name__})"), cors)
        return body

    return Route(path, _AnyMethod(endpoint))


class _AnyMethod:
    """An endpoint as a plain ASGI app: a Route then passes it every method (not only the listed ones), so
    that its own 405 answers in the Error shape, with CORS, counted."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _refused(state: AppState, destination: str | None, exc: Rejection, cors: Mapping[str, str]) -> Response:
    """The Error answer of a refused request, counted for its collector (a failing count is only logged)."""
    if destination is not None:
        try:
            state.db.count_rejection(destination, exc.status)
        except Exception:  # noqa: BLE001
            _LOG.exception("could not count a %s rejection of %s", exc.status, destination)
    return json_error(exc.status, exc.message, {**exc.headers, **cors})

"""The demo store's stand-in for a CDN: the tracker's build (`dist/`) served on an origin of its own, with CORS.

A real app hosts `dist/` on a CDN (another origin than the shop's): the shop's pages import the relay from there,
and the tracker's worker imports its module, Pyodide and the wasm, and fetches the lockfile, the standard library
and the wheel from there. Every one of those requests is a CORS request from the page's origin (the worker is a
same-origin blob worker, so its requests carry the page's origin too), so each answer needs
`Access-Control-Allow-Origin`: here the request's `Origin` echoed when it is one of the allowed origins (the shop's),
with `Vary: Origin`; other origins get the file without the grant (the browser then refuses it to them).
`Cross-Origin-Resource-Policy: cross-origin` lets pages that isolate themselves (COEP) load the files too.

Files are served as the store serves `/dist/` (`assets.StaticAssets`: hashed names immutable, precompressed
variants by Accept-Encoding); anything but GET/HEAD (and the CORS preflight) is refused, errors in the Error
shape. `requests` keeps what was asked (path, Origin, status): tests check from it that the runtime came from here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from .api import json_error
from .assets import StaticAssets, dist_cache_control

__all__ = ["Served", "CdnOrigin", "create_cdn_app"]

#: What a preflight may ask for (the runtime's requests are simple GETs; a page's fetch() with a Range header or a
#: custom header would preflight).
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
PREFLIGHT_MAX_AGE = "86400"


@dataclass(frozen=True)
class Served:
    """One request the CDN answered: its method, path, the Origin header (None without one) and the status."""

    method: str
    path: str
    origin: str | None
    status: int


class CdnOrigin:
    """ASGI middleware: CORS for the allowed origins, GET/HEAD only, and a log of what was served."""

    def __init__(self, app: Starlette, origins: Iterable[str] = ()) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._origins = {origin.rstrip("/").lower() for origin in origins}
        self._served: list[Served] = []

    def allow(self, *origins: str) -> None:
        """Also grant these origins (`scheme://host[:port]`); callable from any thread."""
        with self._lock:
            self._origins.update(origin.rstrip("/").lower() for origin in origins)

    def allowed(self, origin: str | None) -> bool:
        with self._lock:
            return origin is not None and origin.lower() in self._origins

    @property
    def requests(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        origin = Headers(scope=scope).get("origin")
        grant = {"Access-Control-Allow-Origin": origin} if origin and self.allowed(origin) else {}
        status = 0

        async def send_with_cors(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers.update(grant)
                headers.add_vary_header("Origin")
                headers["Cross-Origin-Resource-Policy"] = "cross-origin"
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if grant:
                    headers["Timing-Allow-Origin"] = grant["Access-Control-Allow-Origin"]
            await send(message)

        try:
            if method == "OPTIONS":
                response: Response = (Response(status_code=204, headers={
                    "Access-Control-Allow-Methods": ALLOWED_METHODS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                    "Access-Control-Allow-Headers": Headers(scope=scope).get("access-control-request-headers", ""),
                }) if grant else json_error(403, f"origin {origin!r} may not read the tracker's files here"))
                await response(scope, receive, send_with_cors)
            elif method not in ("GET", "HEAD"):
                await json_error(405, f"{method} is not served here: the tracker's files are read-only",
                                 {"Allow": ALLOWED_METHODS})(scope, receive, send_with_cors)
            else:
                await self.app(scope, receive, send_with_cors)
        finally:
            with self._lock:
                self._served.append(Served(method, scope["path"], origin, status))


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_error(exc.status_code, f"{request.url.path}: {exc.detail}", dict(exc.headers or {}))


def create_cdn_app(dist_dir: Path, origins: Iterable[str] = ()) -> CdnOrigin:
    """`dist_dir` served at the root of its own origin, readable by pages of `origins` (more with `allow()`)."""
    files = StaticAssets(directory=dist_dir, check_dir=False, cache=dist_cache_control)
    app = Starlette(routes=[Mount("/", app=files, name="dist")], exception_handlers={HTTPException: _error})
    return CdnOrigin(app, origins)

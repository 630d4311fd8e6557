"""The demo store as an ASGI app: `create_app(Settings(...))`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.routing import Mount

from .admission import Admission, limiter_from
from .api import Rejection
from .assets import StaticAssets, Vendor, dist_cache_control
from .cart import cart_routes
from .catalog import CATALOG
from .collector import collector_routes
from .dist import DIST_PREFIX, TrackerDist
from .funnel import funnel_routes
from .headless import headless_routes
from .pages import error_response, page_routes, server_error
from .recommend import sections_route
from .security import HostGuard, SecurityHeaders
from .settings import AppState, Settings
from .store_db import Database

__all__ = ["Settings", "create_app"]

# Text compresses well; the wasm runtime and archives are left alone (no CPU spent per request on them):
# the vendored runtime has precompressed .zst/.gz variants (scripts/vendor.sh), served as they are.
GZIP_EXCLUDED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/wasm")


def create_app(settings: Settings) -> Starlette:
    """A demo store: pages, cart, the sections stand-in, the collectors, static files and the tracker's build
    (made now when `dist/` is missing or stale)."""
    tracker = TrackerDist(settings.tracker_dist_dir, settings.tracker_dir, settings.static_dir,
                          full_stdlib=settings.full_stdlib, base_url=settings.tracker_base_url)
    tracker.manifest()
    state = AppState(settings=settings, catalog=CATALOG, db=Database(settings.db_path), tracker=tracker,
                     limiter=limiter_from(settings))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        state.db.close()

    routes = [
        *page_routes(),
        *headless_routes(),
        *cart_routes(),
        sections_route(),
        *collector_routes(),
        *funnel_routes(),
        Mount("/static", app=StaticAssets(directory=settings.static_dir, check_dir=False,
                                          vendor=Vendor(settings.static_dir)), name="static"),
        Mount(DIST_PREFIX, app=StaticAssets(directory=settings.tracker_dist_dir, check_dir=False,
                                            cache=dist_cache_control), name="dist"),
    ]
    # Outermost first: unknown hosts are refused before anything runs; the security headers go inside
    # the compression, so that the CSP can hash the page's inline scripts as they are written; admission
    # (bodies received, then a bounded number of requests running) inside them, so that its overload
    # answers get the same headers.
    app = Starlette(
        routes=routes,
        middleware=[Middleware(HostGuard, state=state),
                    Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                               exclude_content_types=GZIP_EXCLUDED),
                    Middleware(SecurityHeaders, settings=settings),
                    Middleware(Admission, state=state)],
        exception_handlers={HTTPException: error_response, Rejection: error_response, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.demo = state
    return app

"""Settings of a demo store instance and the state its request handlers share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    from .admission import Limiter
    from .catalog import Catalog
    from .dist import TrackerDist
    from .store_db import Database

__all__ = ["REPO_ROOT", "GENLOOK_EVENTS_PATH", "Settings", "AppState", "app_state"]

REPO_ROOT = Path(__file__).resolve().parent.parent
GENLOOK_EVENTS_PATH = "/apps/proxy_genlook-x/public/tracking/events"


@dataclass(frozen=True)
class Settings:
    """How one demo store runs: its database, its shop, and where its tracker delivers.

    `glood_url` is the Glood API base ("" = this origin). `glood_public_token` is a credential that is public by
    definition: it is rendered into every page's tracker config, and when set Glood's init requires it as
    `Authorization: Bearer <public token>` and Glood's events require the per-visit token init issued for the
    body's `session_id` (valid `visit_token_ttl` seconds). No server secret is ever rendered into a page.
    `analytics_enabled` is what init answers as `config.analytics_enabled` (False: the tracker sends nothing).
    `tracker_overrides` is merged into the tracker config rendered in every page.
    `consent_banner` asks each visitor for analytics consent (Shopify's Customer Privacy API, stood in).
    `allowed_hosts` are the Host header names served besides 127.0.0.1, localhost and [::1] (any port
    unless an entry names one; "*" allows any host); other hosts get a 400 (against DNS rebinding).
    `body_timeout` bounds, in seconds, the reading of one request body (408 past it).
    `max_requests` requests run at once, at most `max_requests_per_client` of one client address; others wait up
    to `queue_timeout` seconds for a slot, then get a 503 (`demo_store.admission`).
    `dist_dir` is where the tracker's build goes and is served from, under `/dist/` (default: `dist/` next to
    `tracker_dir`); the store builds it on start when missing or stale. `full_stdlib` ships Pyodide's standard
    library untrimmed (`python -m tracker build --full-stdlib`). `dist_url` is where pages load that build from:
    "" = this store's `/dist/`; an absolute URL of another origin plays a CDN (`python -m demo_store --cdn-port`),
    and the build's URLs start with it (`python -m tracker build --base-url`).
    """

    db_path: str = "var/demo.sqlite3"
    shop_domain: str = "demo-store.myshopify.com"
    glood_url: str = ""
    genlook_url: str = GENLOOK_EVENTS_PATH
    glood_public_token: str | None = None
    analytics_enabled: bool = True
    visit_token_ttl: float = 24 * 3600.0
    tracker_overrides: Mapping[str, Any] = field(default_factory=dict)
    #: Show a consent banner backed by a stand-in of Shopify's Customer Privacy API; the tracker waits for it.
    consent_banner: bool = False
    static_dir: Path = REPO_ROOT / "static"
    tracker_dir: Path = REPO_ROOT / "tracker"
    allowed_hosts: tuple[str, ...] = ()
    body_timeout: float = 30.0
    max_requests: int = 256
    max_requests_per_client: int = 64
    queue_timeout: float = 5.0
    dist_dir: Path | None = None
    full_stdlib: bool = False
    dist_url: str = ""

    @property
    def tracker_base_url(self) -> str:
        """The build's `--base-url`: `dist_url` (ending in "/"), else `/dist/`."""
        if not self.dist_url:
            return "/dist/"
        return self.dist_url if self.dist_url.endswith("/") else self.dist_url + "/"

    @property
    def tracker_dist_dir(self) -> Path:
        return self.dist_dir if self.dist_dir is not None else self.tracker_dir.parent / "dist"

    def tracker_config(self) -> dict[str, Any]:
        """The JSON of the page's `#glood-tracker-config` tag."""
        return {"shop_domain": self.shop_domain, "glood_url": self.glood_url,
                "genlook_url": self.genlook_url, "glood_public_token": self.glood_public_token,
                **self.tracker_overrides}


@dataclass(frozen=True)
class AppState:
    """What every handler of one app needs: settings, catalogue, database, the tracker's build, and the limiter of
    running requests."""

    settings: Settings
    catalog: Catalog
    db: Database
    tracker: TrackerDist
    limiter: Limiter


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.demo
    return state

"""Tracker configuration: defaults, parsing from the page's JSON, validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Config", "ConfigError", "GLOOD_EVENTS_PATH", "GLOOD_INIT_PATH", "GENLOOK_EVENTS_PATH"]

GLOOD_EVENTS_PATH = "/api/storefront/v3/headless/events"
GLOOD_INIT_PATH = "/api/storefront/v3/headless/init"
GENLOOK_EVENTS_PATH = "/apps/proxy_genlook-x/public/tracking/events"


class ConfigError(ValueError):
    """A configuration value the tracker cannot work with."""


@dataclass(frozen=True)
class Config:
    """Everything a merchant can set. `glood_url` is an API base ("" = this origin)."""

    shop_domain: str = ""
    glood_url: str = ""
    genlook_url: str = GENLOOK_EVENTS_PATH
    #: A credential for Glood's init endpoint. It is in the page, so it is public by definition: never a
    #: server secret. With it, init is called with `Authorization: Bearer` and events carry the visit's token.
    glood_public_token: str | None = None
    transport: str = "beacon"
    require_consent: bool = False
    #: A visitor's Global Privacy Control (or Shopify's sale-of-data refusal) denies analytics.
    honor_gpc: bool = True
    #: Send nothing for automated browsers and crawlers (off: teams test their tracking with Playwright).
    filter_bots: bool = False
    #: URL of a JavaScript module whose default export `beforeSend(event)` returns the event (edited) or null;
    #: the tracker's worker imports it (it runs off the main thread).
    before_send: str | None = None
    channel: str = "web"
    flush_interval_ms: int = 2000
    max_batch: int = 20
    genlook_max_events: int = 50
    max_body_bytes: int = 64 * 1024
    keepalive_quota_bytes: int = 64 * 1024
    session_ttl_ms: int = 30 * 60 * 1000
    persist_max_bytes: int = 256 * 1024
    persist_max_age_ms: int = 24 * 60 * 60 * 1000
    view_ratio: float = 0.5
    view_duration_ms: int = 1000
    debug: bool = False

    @property
    def glood_events_url(self) -> str:
        return self.glood_url.rstrip("/") + GLOOD_EVENTS_PATH

    @property
    def glood_init_url(self) -> str:
        return self.glood_url.rstrip("/") + GLOOD_INIT_PATH

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> Config:
        """Build a Config from JSON-like data; unknown keys and bad values raise ConfigError."""
        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ConfigError(f"unknown tracker config key(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        defaults = cls()
        for name, value in raw.items():
            default = getattr(defaults, name)
            values[name] = _coerce(name, value, default)
        config = replace(defaults, **values)
        config.validate()
        return config

    def validate(self) -> None:
        if not self.shop_domain:
            raise ConfigError("shop_domain is required (e.g. shop.myshopify.com)")
        if self.channel not in ("web", "mobile", "headless", "hydrogen"):
            raise ConfigError(f"channel must be web, mobile, headless or hydrogen, not {self.channel!r}")
        if self.transport not in ("beacon", "fetch"):
            raise ConfigError(f"transport must be beacon or fetch, not {self.transport!r}")
        if self.persist_max_bytes < 0 or self.persist_max_age_ms < 0:
            raise ConfigError("persist_max_bytes and persist_max_age_ms must be >= 0")
        if not 1 <= self.genlook_max_events <= 50:
            raise ConfigError("genlook_max_events must be between 1 and 50")
        if not 1024 <= self.max_body_bytes <= self.keepalive_quota_bytes:
            raise ConfigError("max_body_bytes must be between 1024 and keepalive_quota_bytes")
        if self.flush_interval_ms < 50 or self.max_batch < 1:
            raise ConfigError("flush_interval_ms must be >= 50 and max_batch >= 1")
        if not 0 < self.view_ratio <= 1 or self.view_duration_ms < 0:
            raise ConfigError("view_ratio must be in (0, 1] and view_duration_ms >= 0")


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name == "before_send":
        if value is None or (isinstance(value, str) and value):
            return value or None
        raise ConfigError("before_send must be the URL of a JavaScript module, or null")
    if name == "glood_public_token":
        if value is None or (isinstance(value, str) and value):
            return value or None
        raise ConfigError("glood_public_token must be a non-empty string or null")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    raise ConfigError(f"{name} must be {type(default).__name__}, not {value!r}")

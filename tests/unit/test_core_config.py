"""Unit tests for tracker.core.config."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tracker.core.config import GENLOOK_EVENTS_PATH, GLOOD_EVENTS_PATH, GLOOD_INIT_PATH, Config, ConfigError

SHOP = {"shop_domain": "demo-store.myshopify.com"}


def test_defaults():
    """The defaults are the documented ones."""
    config = Config.from_mapping(SHOP)
    assert (config.glood_url, config.genlook_url, config.glood_public_token, config.channel) == \
        ("", GENLOOK_EVENTS_PATH, None, "web")
    assert (config.flush_interval_ms, config.max_batch, config.genlook_max_events) == (2000, 20, 50)
    assert (config.max_body_bytes, config.keepalive_quota_bytes) == (65536, 65536)
    assert (config.session_ttl_ms, config.view_ratio, config.view_duration_ms, config.debug) == \
        (1_800_000, 0.5, 1000, False)


def test_design_snippet_config_is_accepted():
    """The JSON config from docs/design.md parses as written."""
    config = Config.from_mapping({
        "shop_domain": "demo-store.myshopify.com", "glood_url": "",
        "genlook_url": "/apps/proxy_genlook-x/public/tracking/events", "glood_public_token": None,
        "flush_interval_ms": 2000, "max_batch": 20, "debug": False})
    assert config.shop_domain == "demo-store.myshopify.com"
    assert config.genlook_url == "/apps/proxy_genlook-x/public/tracking/events"


def test_every_field_can_be_set():
    """Every field round-trips through from_mapping."""
    raw = {"shop_domain": "s.myshopify.com", "glood_url": "https://api.example", "genlook_url": "https://g/x",
           "glood_public_token": "tok", "channel": "headless", "flush_interval_ms": 500, "max_batch": 5,
           "genlook_max_events": 10, "max_body_bytes": 2048, "keepalive_quota_bytes": 4096,
           "session_ttl_ms": 1000, "view_ratio": 0.75, "view_duration_ms": 2000, "debug": True,
           "transport": "fetch", "require_consent": True, "persist_max_bytes": 1000, "persist_max_age_ms": 60000,
           "honor_gpc": False, "filter_bots": True, "before_send": "/hooks.js"}
    assert {f.name for f in dataclasses.fields(Config)} == set(raw)
    assert dataclasses.asdict(Config.from_mapping(raw)) == raw


def test_urls_join_base_and_paths():
    """Glood URLs are the base without trailing slash plus the headless paths."""
    config = Config.from_mapping({**SHOP, "glood_url": "https://storefront.glood.ai/"})
    assert config.glood_events_url == "https://storefront.glood.ai/api/storefront/v3/headless/events"
    assert config.glood_init_url == "https://storefront.glood.ai/api/storefront/v3/headless/init"
    same_origin = Config.from_mapping(SHOP)
    assert (same_origin.glood_events_url, same_origin.glood_init_url) == (GLOOD_EVENTS_PATH, GLOOD_INIT_PATH)


def test_unknown_keys_are_rejected_by_name():
    """Unknown keys raise ConfigError listing them sorted."""
    with pytest.raises(ConfigError, match=r"^unknown tracker config key\(s\): flushInterval, zzz$"):
        Config.from_mapping({**SHOP, "zzz": 1, "flushInterval": 2000})


@pytest.mark.parametrize("key, value", [
    ("max_batch", "20"),
    ("max_batch", True),
    ("max_batch", 2.5),
    ("max_batch", None),
    ("flush_interval_ms", [2000]),
    ("session_ttl_ms", math.inf),
    ("max_body_bytes", math.nan),
    ("max_batch", -math.inf),
    ("view_ratio", "0.5"),
    ("view_ratio", True),
    ("debug", 1),
    ("debug", "true"),
    ("shop_domain", 42),
    ("glood_url", None),
    ("channel", ["web"]),
    ("glood_public_token", ""),
    ("glood_public_token", 123),
])
def test_wrong_types_are_rejected_naming_the_key(key, value):
    """A value of the wrong type raises ConfigError whose message starts with the key."""
    with pytest.raises(ConfigError, match=f"^{key} must be "):
        Config.from_mapping({**SHOP, key: value})


def test_integral_floats_are_accepted_as_ints():
    """2000.0 from JavaScript numbers becomes the int 2000."""
    config = Config.from_mapping({**SHOP, "flush_interval_ms": 2000.0, "max_batch": 7.0})
    assert (config.flush_interval_ms, config.max_batch) == (2000, 7)
    assert type(config.flush_interval_ms) is int and type(config.max_batch) is int


def test_ints_are_accepted_for_floats():
    """view_ratio 1 becomes the float 1.0."""
    config = Config.from_mapping({**SHOP, "view_ratio": 1})
    assert config.view_ratio == 1.0 and type(config.view_ratio) is float


def test_glood_public_token_string_or_null():
    """glood_public_token accepts a non-empty string or null."""
    assert Config.from_mapping({**SHOP, "glood_public_token": "secret"}).glood_public_token == "secret"
    assert Config.from_mapping({**SHOP, "glood_public_token": None}).glood_public_token is None


@pytest.mark.parametrize("raw, message", [
    ({}, "shop_domain is required"),
    (None, "shop_domain is required"),
    ({"shop_domain": ""}, "shop_domain is required"),
    ({**SHOP, "channel": "pos"}, "channel must be web, mobile, headless or hydrogen"),
    ({**SHOP, "genlook_max_events": 0}, "genlook_max_events must be between 1 and 50"),
    ({**SHOP, "genlook_max_events": 51}, "genlook_max_events must be between 1 and 50"),
    ({**SHOP, "max_body_bytes": 1023}, "max_body_bytes must be between 1024"),
    ({**SHOP, "max_body_bytes": 8192, "keepalive_quota_bytes": 4096}, "max_body_bytes must be between 1024"),
    ({**SHOP, "flush_interval_ms": 49}, "flush_interval_ms must be >= 50"),
    ({**SHOP, "max_batch": 0}, "max_batch >= 1"),
    ({**SHOP, "view_ratio": 0}, r"view_ratio must be in \(0, 1\]"),
    ({**SHOP, "view_ratio": 1.01}, r"view_ratio must be in \(0, 1\]"),
    ({**SHOP, "view_duration_ms": -1}, "view_duration_ms >= 0"),
])
def test_invalid_values_are_rejected(raw, message):
    """Values out of range raise ConfigError naming the setting."""
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping(raw)


@pytest.mark.parametrize("raw", [
    {**SHOP, "channel": "hydrogen"},
    {**SHOP, "genlook_max_events": 1},
    {**SHOP, "genlook_max_events": 50},
    {**SHOP, "max_body_bytes": 1024, "keepalive_quota_bytes": 1024},
    {**SHOP, "flush_interval_ms": 50, "max_batch": 1},
    {**SHOP, "view_ratio": 1.0, "view_duration_ms": 0},
])
def test_boundary_values_are_accepted(raw):
    """The inclusive ends of each range are valid."""
    config = Config.from_mapping(raw)
    assert all(getattr(config, k) == v for k, v in raw.items())


def test_config_error_is_a_value_error_and_config_is_frozen():
    """ConfigError subclasses ValueError; Config cannot be mutated."""
    assert issubclass(ConfigError, ValueError)
    config = Config.from_mapping(SHOP)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_batch = 3  # type: ignore[misc]


def test_from_mapping_does_not_mutate_input():
    """The caller's mapping is left as it was."""
    raw = {**SHOP, "max_batch": 5.0}
    Config.from_mapping(raw)
    assert raw == {**SHOP, "max_batch": 5.0}

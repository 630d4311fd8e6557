"""Who may be tracked and how a visit came: the initial consent rule, bot signals, and visit attribution."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .storage import Storage

__all__ = ["Consent", "BrowserSignals", "initial_consent", "is_bot", "BOT_AGENTS", "Attribution", "ATTRIBUTION_KEY",
           "CAMPAIGN_PARAMS"]

#: Crawler and headless user agents (a small list: the big crawlers, link unfurlers, headless browsers).
BOT_AGENTS = re.compile(
    r"bot\b|crawl|spider|slurp|bingpreview|facebookexternalhit|embedly|quora link preview|outbrain|pinterest"
    r"|vkshare|w3c_validator|whatsapp|lighthouse|headlesschrome|phantomjs|puppeteer|playwright|selenium",
    re.IGNORECASE)
ATTRIBUTION_KEY = "glood_tracker:attribution"
#: The query parameters that say where a visit came from: UTM tags and ad click ids.
CAMPAIGN_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                   "gclid", "fbclid", "ttclid", "msclkid")


class Consent(StrEnum):
    """The visitor's analytics consent: GRANTED sends and stores; PENDING keeps events in memory only; DENIED makes
    nothing and forgets what was stored. (A str: it compares and serialises as its value.)"""

    GRANTED = "granted"
    PENDING = "pending"
    DENIED = "denied"


@dataclass(frozen=True)
class BrowserSignals:
    """What the sensor reads of the browser and the shop's privacy API before the worker starts."""

    shopify: str | None = None          # "granted" | "denied" | "pending" from Customer Privacy, None: no API
    shopify_loading: bool = False        # the page has window.Shopify: the API is being loaded the Shopify way
    gpc: bool = False                    # navigator.globalPrivacyControl
    sale_of_data: bool | None = None     # Shopify's saleOfDataAllowed(), None: unknown
    webdriver: bool = False              # navigator.webdriver
    user_agent: str = ""

    @classmethod
    def from_message(cls, raw: Any) -> BrowserSignals:
        raw = raw if isinstance(raw, Mapping) else {}
        shopify = raw.get("shopify")
        sale = raw.get("sale")
        return cls(shopify if shopify in ("granted", "denied", "pending") else None, raw.get("loading") is True,
                   raw.get("gpc") is True, sale if isinstance(sale, bool) else None, raw.get("webdriver") is True,
                   raw.get("ua") if isinstance(raw.get("ua"), str) else "")


def initial_consent(signals: BrowserSignals, *, require_consent: bool, honor_gpc: bool) -> Consent:
    """The consent state a page starts in: a visitor's Global Privacy Control or refusal of the sale of data
    is a denial (unless the merchant turns `honor_gpc` off); else Shopify's Customer Privacy API decides, and
    while it is loading consent is pending; else `require_consent` makes it pending until the visitor says."""
    if honor_gpc and (signals.gpc or signals.sale_of_data is False):
        return Consent.DENIED
    if signals.shopify is not None:
        return Consent(signals.shopify)
    if signals.shopify_loading or require_consent:
        return Consent.PENDING
    return Consent.GRANTED


def is_bot(signals: BrowserSignals) -> bool:
    """An automated browser (`navigator.webdriver`) or a crawler / headless user agent."""
    return signals.webdriver or bool(BOT_AGENTS.search(signals.user_agent))


@dataclass(frozen=True)
class Attribution:
    """Where a visit came from: first touch (its landing page) and last touch (the latest page that carried
    campaign parameters or came from another site), each `{landing_page, referrer, utm_*, gclid, ...}`."""

    first: dict[str, str]
    last: dict[str, str]
    visit_id: str | None = None

    @staticmethod
    def touch(url: str, referrer: str) -> dict[str, str]:
        """The campaign parameters of `url`, with the page and its referrer."""
        params = {k: v for k, v in parse_qsl(urlsplit(url).query) if k in CAMPAIGN_PARAMS and v}
        out = {"landing_page": url}
        if referrer:
            out["referrer"] = referrer
        out.update(params)
        return out

    @classmethod
    def load(cls, storage: Storage) -> Attribution | None:
        try:
            raw = json.loads(storage.get(ATTRIBUTION_KEY) or "null")
        except ValueError:
            return None
        if not (isinstance(raw, dict) and isinstance(raw.get("first"), dict) and isinstance(raw.get("last"), dict)):
            return None
        visit = raw.get("visit")
        return cls({str(k): str(v) for k, v in raw["first"].items()}, {str(k): str(v) for k, v in raw["last"].items()},
                   visit if isinstance(visit, str) else None)

    @classmethod
    def update(cls, storage: Storage, url: str, referrer: str, visit_id: str | None) -> Attribution:
        """This page's touch within the visit (`visit_id`: the visit going on, None when a new one is to start):
        a new visit starts a new first touch; a page with campaign parameters, or one reached from another
        site, is the new last touch. Stored for the next pages."""
        touch = cls.touch(url, referrer)
        known = cls.load(storage)
        if known is None or visit_id is None or known.visit_id != visit_id:
            current = cls(touch, touch, visit_id)
        else:
            external = bool(referrer) and urlsplit(referrer).netloc not in ("", urlsplit(url).netloc)
            campaign = any(k in touch for k in CAMPAIGN_PARAMS)
            current = cls(known.first, touch if campaign or external else known.last, visit_id or known.visit_id)
        storage.set(ATTRIBUTION_KEY, json.dumps({"first": current.first, "last": current.last,
                                                 "visit": current.visit_id}))
        return current

    def bind(self, storage: Storage, visit_id: str) -> Attribution:
        """The visit started on this page: the stored attribution belongs to it."""
        bound = Attribution(self.first, self.last, visit_id)
        storage.set(ATTRIBUTION_KEY, json.dumps({"first": bound.first, "last": bound.last, "visit": visit_id}))
        return bound

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"first_touch": dict(self.first), "last_touch": dict(self.last)}

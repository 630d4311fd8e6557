"""Consent at the start of a page, bot signals, and visit attribution (first and last touch)."""

from __future__ import annotations

import pytest

from tracker.core.privacy import ATTRIBUTION_KEY, Attribution, BrowserSignals, initial_consent, is_bot
from tracker.core.storage import MemoryStorage

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"


@pytest.mark.parametrize("signals, require, honor, expected", [
    (BrowserSignals(), False, True, "granted"),
    (BrowserSignals(), True, True, "pending"),
    (BrowserSignals(shopify="granted"), True, True, "granted"),
    (BrowserSignals(shopify="denied"), False, True, "denied"),
    (BrowserSignals(shopify_loading=True), False, True, "pending"),
    (BrowserSignals(gpc=True, shopify="granted"), False, True, "denied"),
    (BrowserSignals(gpc=True), False, False, "granted"),
    (BrowserSignals(sale_of_data=False), False, True, "denied"),
    (BrowserSignals(sale_of_data=True, shopify="granted"), False, True, "granted"),
])
def test_initial_consent(signals, require, honor, expected):
    """GPC and a refused sale of data deny (unless honor_gpc is off); Shopify's API decides, pending while it
    loads; require_consent waits; otherwise granted."""
    assert initial_consent(signals, require_consent=require, honor_gpc=honor) == expected


def test_signals_from_a_message_ignore_junk():
    """Unknown values read as absent."""
    assert BrowserSignals.from_message({"shopify": "yes", "gpc": 1, "sale": "no", "ua": 5}) == BrowserSignals()


@pytest.mark.parametrize("signals, bot", [
    (BrowserSignals(user_agent=CHROME), False),
    (BrowserSignals(user_agent=CHROME, webdriver=True), True),
    (BrowserSignals(user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), True),
    (BrowserSignals(user_agent=CHROME.replace("Chrome/", "HeadlessChrome/")), True),
    (BrowserSignals(user_agent="facebookexternalhit/1.1"), True),
])
def test_bot_signals(signals, bot):
    """navigator.webdriver, crawler and headless user agents are bots; a plain browser is not."""
    assert is_bot(signals) is bot


def test_first_touch_stays_for_the_visit_and_campaigns_are_the_last_touch():
    """The landing page's UTM stays first touch three pages later; a later campaign page becomes last touch;
    internal pages do not; a new visit starts over."""
    storage = MemoryStorage()
    landing = "https://s.example/?utm_source=news&utm_campaign=spring&gclid=abc&other=1"
    first = Attribution.update(storage, landing, "https://mail.example/", None).bind(storage, "visit-1")
    assert first.first == {"landing_page": landing, "referrer": "https://mail.example/", "utm_source": "news",
                           "utm_campaign": "spring", "gclid": "abc"}
    for path in ("/collections/all", "/products/x", "/cart"):
        later = Attribution.update(storage, "https://s.example" + path, "https://s.example/", "visit-1")
    assert later.first == first.first and later.last == first.last
    ad = Attribution.update(storage, "https://s.example/p?fbclid=zz", "https://social.example/", "visit-1")
    assert ad.first == first.first and ad.last["fbclid"] == "zz"
    assert ad.to_json() == {"first_touch": first.first, "last_touch": ad.last}
    fresh = Attribution.update(storage, "https://s.example/", "", None)
    assert fresh.first == {"landing_page": "https://s.example/"} and fresh.visit_id is None


def test_corrupt_stored_attribution_starts_over():
    """Unreadable stored attribution is replaced."""
    storage = MemoryStorage()
    storage.set(ATTRIBUTION_KEY, "{broken")
    assert Attribution.load(storage) is None
    assert Attribution.update(storage, "https://s.example/", "", "v").first["landing_page"] == "https://s.example/"

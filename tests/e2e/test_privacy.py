"""Consent the Shopify way (loadFeatures), Global Privacy Control, bot filtering, attribution, in Chromium."""

from __future__ import annotations

from .support import Collector, StorePage

#: Shopify's loader stand-in: the Customer Privacy API appears only once loadFeatures has run.
LOAD_FEATURES = """
    window.Shopify = {loadFeatures(features, done) {
        if (features[0].name !== 'consent-tracking-api') return done(new Error('unknown feature'));
        window.loadFeaturesCalled = true;
        window.grant = (yes) => {
            window.Shopify.customerPrivacy = {
                analyticsProcessingAllowed: () => yes, currentVisitorConsent: () => ({analytics: yes ? 'yes' : 'no'}),
                saleOfDataAllowed: () => true};
            done();
        };
    }};
"""


def test_shopify_consent_api_is_loaded_and_waited_for(store: StorePage, collector: Collector) -> None:
    """On a Shopify page the tracker loads the Customer Privacy API with loadFeatures and sends nothing until it
    answers; once it grants, the page's events go."""
    store.page.add_init_script(LOAD_FEATURES)
    store.open("/")
    status = store.status()
    assert status["consent"] == "pending" and store.page.evaluate("window.loadFeaturesCalled === true")
    assert store.stored_keys() == []
    store.page.evaluate("window.grant(true)")
    store.wait_status(lambda s: s["consent"] == "granted")
    collector.wait_for_names("glood", ["page_viewed"], client_id=status["client_id"])


def test_shopify_consent_api_denial_sends_nothing(store: StorePage, collector: Collector) -> None:
    """When the loaded API says no, nothing is sent or stored."""
    store.page.add_init_script(LOAD_FEATURES)
    store.open("/")
    client_id = store.client_id
    store.page.evaluate("window.grant(false)")
    assert store.wait_status(lambda s: s["consent"] == "denied")["pending"] == 0
    assert store.stored_keys() == []
    assert collector.events("glood", client_id=client_id) == []


def test_global_privacy_control_means_no_analytics(store: StorePage, collector: Collector) -> None:
    """A visitor with Global Privacy Control on is not tracked, even after setConsent(true)."""
    store.page.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
    store.open("/")
    assert store.page.evaluate("gloodTracker.setConsent(true), gloodTracker.track('search_submitted', {})") is None
    status = store.status()
    assert status["consent"] == "denied" and status["pending"] == 0 and store.stored_keys() == []


def test_bot_filtering_mutes_webdriver_only_when_asked(store: StorePage, collector: Collector) -> None:
    """Playwright's browser reports navigator.webdriver: with filter_bots it sends nothing (counted); by default
    it is tracked, so teams can test their tracking."""
    store.open("/")
    collector.wait_for_names("glood", ["page_viewed"], client_id=store.client_id)
    store.page.add_init_script("window.gloodTrackerConfig = {filter_bots: true}")
    store.open("/collections/all")
    status = store.wait_status(lambda s: s["stats"].get("dropped_bot", 0) >= 1)
    assert status["pending"] == 0
    store.flush()
    assert not [e for e in collector.events("glood", client_id=status["client_id"])
                if e["body"]["page_url"].endswith("/collections/all")]


def test_campaign_of_the_landing_page_is_still_attributed_three_pages_later(store: StorePage,
                                                                            collector: Collector) -> None:
    """UTM parameters and a click id of the landing page travel in page_viewed's attribution on later pages."""
    store.open("/?utm_source=newsletter&utm_campaign=spring&gclid=g-1")
    client_id = store.client_id
    for path in ("/collections/all", "/products/classic-oxford-shirt", "/cart"):
        store.open(path)
    events = collector.wait_for("glood", lambda ev: any(e["name"] == "page_viewed" and e["body"]["page_url"]
                                                        .endswith("/cart") for e in ev), client_id=client_id)
    (cart_view,) = [e for e in events if e["name"] == "page_viewed" and e["body"]["page_url"].endswith("/cart")]
    first = cart_view["event"]["data"]["attribution"]["first_touch"]
    assert (first["utm_source"], first["utm_campaign"], first["gclid"]) == ("newsletter", "spring", "g-1")

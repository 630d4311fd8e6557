// A stand-in for Shopify's Customer Privacy API (window.Shopify.customerPrivacy) and its consent banner.
// The visitor's choice lives in the `demo_consent` cookie: "yes", "no", or absent (not asked yet).
(function () {
  "use strict";

  const COOKIE = "demo_consent";

  function choice() {
    const match = document.cookie.match(/(?:^|;\s*)demo_consent=(yes|no)/);
    return match ? match[1] : "";
  }

  const customerPrivacy = {
    analyticsProcessingAllowed: () => choice() === "yes",
    currentVisitorConsent: () => {
      const c = choice();
      return {analytics: c, marketing: c, preferences: c, sale_of_data: c};
    },
    shouldShowBanner: () => choice() === "",
    setTrackingConsent(consent, callback) {
      const allowed = Boolean(consent && consent.analytics);
      document.cookie = `${COOKIE}=${allowed ? "yes" : "no"}; path=/; max-age=31536000; samesite=lax`;
      document.dispatchEvent(new CustomEvent("visitorConsentCollected", {detail: {
        analyticsAllowed: allowed, marketingAllowed: allowed, preferencesAllowed: allowed, saleOfDataAllowed: allowed}}));
      if (typeof callback === "function") callback({});
    },
  };

  window.Shopify = window.Shopify || {};
  window.Shopify.customerPrivacy = customerPrivacy;

  function showBanner() {
    if (!customerPrivacy.shouldShowBanner()) return;
    const banner = document.createElement("aside");
    banner.id = "consent-banner";
    banner.className = "consent-banner";
    banner.setAttribute("aria-label", "Cookie consent");
    banner.innerHTML = '<p>We measure how recommendations are used. Allow analytics?</p>' +
      '<button type="button" class="button" data-consent="yes">Accept</button> ' +
      '<button type="button" class="button button-quiet" data-consent="no">Decline</button>';
    banner.addEventListener("click", (event) => {
      const button = event.target.closest("[data-consent]");
      if (!button) return;
      customerPrivacy.setTrackingConsent({analytics: button.dataset.consent === "yes"});
      banner.remove();
    });
    document.body.appendChild(banner);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showBanner);
  else showBanner();
})();

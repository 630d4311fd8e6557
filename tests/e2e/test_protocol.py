"""Every message of a real browser session, both directions, is as tracker/core/protocol.py defines it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tracker.core.protocol import TO_PAGE, TO_WORKER, validate

from .support import StorePage

# Records what the sensor posts to the tracker's worker and what the worker posts back, through a binding (it
# survives navigations; the store's CSP does not apply to it).
RECORD = """
(() => {
  const Original = window.Worker;
  window.Worker = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => window.__gloodRecord("to_page", e.data));
    }
    postMessage(message, ...rest) {
      window.__gloodRecord("to_worker", message);
      return super.postMessage(message, ...rest);
    }
  };
})();
"""


def test_every_message_of_a_session_is_as_the_protocol_defines_it(page: Page, store: StorePage,
                                                                   console_errors: list[str]) -> None:
    """Pages, a section in view, a click, an add to cart, API calls (good and refused), questions, leaving and
    the next page's adoption: every message checked, and every kind of message seen in both directions."""
    seen: list[tuple[str, Any]] = []
    page.expose_function("__gloodRecord", lambda direction, message: seen.append((direction, message)))
    page.add_init_script(RECORD)
    store.use_cart_forms().open("/products/classic-oxford-shirt")
    store.scroll_to("#section-similar")
    store.track("search_submitted", {"searchResult": {"query": "shirt"}})
    store.page.evaluate("gloodTracker.identify('cust-1', {tier: 'gold'})")
    store.page.evaluate("gloodTracker.setConsent(true)")
    store.page.evaluate("gloodTracker.track(42)")  # refused on the page: no message
    store.track("no_such_event")  # refused by the worker: a log message
    store.wait_status(lambda s: s["stats"].get("sent_glood", 0) >= 3)
    store.hide_tab()  # leaving as far as the sensor knows: hide, then back
    store.show_tab()
    store.add_recommended_to_cart("#section-similar")  # a form post: the page is left
    store.wait_ready()
    store.wait_status(lambda s: s["adopted"])
    store.page.evaluate("gloodTracker.reset()")
    store.flush()
    store.page.evaluate("gloodTracker.stop()")
    problems = [(direction, message.get("t") if isinstance(message, dict) else None, p)
                for direction, message in seen for p in validate(message, direction)]
    assert problems == [], problems[:10]
    kinds = {(direction, message["t"]) for direction, message in seen}
    # Every kind but those of rare paths (a refused storage write, a bfcache restore after adoption, an error), the
    # inspector's debug channel (only with ?glood_inspect=1: tests/e2e/test_inspector.py checks its messages) and the
    # snapshot maker's (only while no snapshot is stored, and the maker may outlast the session: checked when seen;
    # tests/e2e/test_snapshot.py makes one), and `claim` (only when adoption took a record: this session's pages
    # leave none; the handover journeys take them).
    maker = {("to_page", "maker"), ("to_worker", "make-snapshot"), ("to_page", "made"), ("to_worker", "made"),
             ("to_page", "claim")}
    expected = (({("to_worker", k) for k in TO_WORKER} - {("to_worker", "fail"), ("to_worker", "taken")}) |
                ({("to_page", k) for k in TO_PAGE} - {("to_page", "error"), ("to_page", "dbg")})) - maker
    assert expected - kinds == set(), sorted(expected - kinds)
    assert any("track(42) rejected" in m for m in console_errors) and \
        any("no_such_event" in m for m in console_errors), console_errors

"""The headless storefront: one app shell at /headless/ (and its deep links) for a single-page app in plain
JavaScript (static/headless.js), which routes with the History API and gets its recommendations from Glood's
headless sections endpoint. docs/design.md §7.

The shell carries the tracker's embed exactly as the other pages (`pages.tracker_embed`, with
`channel: "headless"`), the page context of the route it was asked for (`#glood-page`, the same as the classic
page's) and the catalogue the app renders from (`#headless-catalog`). The app keeps `#glood-page` up to date as
it routes.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .cart import cart_token, load_cart, remember_cart
from .catalog import Catalog, format_price
from .pages import CONSENT_SCRIPT, NavLink, collection_json, json_script, product_context, tracker_embed
from .settings import AppState, app_state
from .templating import render

__all__ = ["HEADLESS_BASE", "HEADLESS_CHANNEL", "HeadlessRoute", "headless_route", "catalog_json",
           "headless_routes"]

HEADLESS_BASE = "/headless/"
#: The events endpoint's channel for this app (Glood's enum: web, mobile, headless, hydrogen).
HEADLESS_CHANNEL = "headless"
STORE_NAME = "Demo Store"


class HeadlessRoute:
    """What a path under /headless/ shows: its page type, title, status and page context (without the cart)."""

    def __init__(self, page_type: str, title: str, context: dict[str, Any], status: int = 200) -> None:
        self.page_type = page_type
        self.title = title
        self.context = context
        self.status = status


def headless_route(state: AppState, path: str) -> HeadlessRoute:
    """The route of `path` (below /headless/): "", "products/<handle>", "collections/<handle>", "cart"; anything
    else, or an unknown handle, is a 404 'other' page (the app shows "not found")."""
    parts = path.split("/")
    if path == "":
        return HeadlessRoute("home", "Home", {"page_type": "home"})
    if path == "cart":
        return HeadlessRoute("cart", "Your cart", {"page_type": "cart"})
    if len(parts) == 2 and parts[0] == "products":
        product = state.catalog.product(parts[1])
        if product is not None:
            return HeadlessRoute("product", product.title, product_context(state, product))
    if len(parts) == 2 and parts[0] == "collections":
        collection = state.catalog.collection(parts[1])
        if collection is not None:
            return HeadlessRoute("collection", collection.title,
                                 {"page_type": "collection", "collection": collection_json(collection)})
    return HeadlessRoute("other", "Page not found", {"page_type": "other"}, status=404)


def catalog_json(catalog: Catalog, shop_domain: str) -> dict[str, Any]:
    """What the app renders from: the shop, the collections (navigation = the real ones) and the products."""
    return {
        "shop": shop_domain,
        "navigation": [c.handle for c in catalog.navigation],
        "collections": [{"id": c.id, "handle": c.handle, "title": c.title, "description": c.description}
                        for c in catalog.collections],
        "products": [{"id": p.id, "handle": p.handle, "title": p.title, "description": p.description,
                      "color": p.color, "collection": p.collection, "price": format_price(p.price_cents),
                      "variants": [{"id": v.id, "title": v.title, "price": format_price(v.price_cents)}
                                   for v in p.variants]} for p in catalog.products],
    }


def _nav(state: AppState, item_count: int) -> list[NavLink]:
    return [NavLink(HEADLESS_BASE, "Home"),
            *(NavLink(f"{HEADLESS_BASE}collections/{c.handle}", c.title) for c in state.catalog.navigation),
            NavLink(f"{HEADLESS_BASE}collections/all", "All products"),
            NavLink(f"{HEADLESS_BASE}cart", f"Cart ({item_count})", id="headless-cart-link"),
            NavLink("/", "Classic store"), NavLink("/_collector", "Events")]


async def shell(request: Request) -> Response:
    """The app shell for every path under /headless/: the route's page context, the catalogue, the tracker."""
    state = app_state(request)
    route = headless_route(state, request.path_params.get("path", ""))
    token, is_new = cart_token(request)
    cart = load_cart(state, token)
    head = [
        json_script("glood-page", {**route.context, "cart": cart.to_json()}),
        json_script("headless-catalog", catalog_json(state.catalog, state.settings.shop_domain)),
        *([CONSENT_SCRIPT] if state.settings.consent_banner else []),
        tracker_embed(state.settings, state.tracker, {"channel": HEADLESS_CHANNEL}),
    ]
    html = render("headless.html", title=route.title, store_name=STORE_NAME, head=head,
                  nav=_nav(state, cart.item_count))
    response = HTMLResponse(html, status_code=route.status)
    return remember_cart(response, token, is_new)


async def to_shell(_request: Request) -> Response:
    return RedirectResponse(HEADLESS_BASE, status_code=308)


def headless_routes() -> list[Route]:
    return [
        Route("/headless", to_shell),
        Route("/headless/", shell),
        Route("/headless/{path:path}", shell),
    ]

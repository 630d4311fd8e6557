"""Storefront pages: HTML from Jinja2 templates (demo_store/templates/, autoescaped: see `templating`); one section
renderer, shared with static/store.js's markup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .api import Rejection, json_error
from .cart import Cart, cart_token, load_cart, remember_cart
from .catalog import Collection, Product, format_price
from .dist import TrackerDist
from .recommend import SECTION_TYPES, Section, recommend, record_serves
from .settings import AppState, Settings, app_state
from .store_db import DESTINATIONS
from .templating import json_script, macro, render

__all__ = ["SECTION_ELEMENT_IDS", "NavLink", "json_script", "tracker_embed", "section_html", "collection_json",
           "product_context", "page_routes", "error_response", "server_error", "plain_error_page"]

#: Stable element ids of the sections, for tests and for store.js.
SECTION_ELEMENT_IDS = {"trending": "section-trending", "similar_products": "section-similar",
                       "bought_together": "section-fbt", "you_may_also_like": "section-below"}
#: The section store.js fetches into a product page's `#fbt-slot` (by id, from the sections API).
FBT_SECTION_ID = next(i for i, kind in SECTION_TYPES.items() if kind == "bought_together")
JSON_PREFIXES = ("/api/", "/apps/", "/_collector/", "/static/", "/cart/add.js", "/cart/change.js", "/cart.js")
#: The consent banner's script (Shopify's Customer Privacy API, stood in), in the page's head when it is on.
CONSENT_SCRIPT = Markup('<script src="/static/consent.js"></script>')


class NavLink(NamedTuple):
    """A header link; `current` marks it `aria-current="page"`, `id` gives it an element id."""

    url: str
    label: str
    current: bool = False
    id: str | None = None


def tracker_embed(settings: Settings, tracker: TrackerDist | None = None,
                  config: Mapping[str, Any] | None = None) -> Markup:
    """The tracker's embed (contract §3) from the tracker's build (`dist/`, `python -m tracker build`): the config
    tag and the inline sensor, which names the rest by their content-hashed `/dist/` URLs.

    Nothing else of the tracker loads before the page's `load` event: the sensor then imports its second
    half, which starts the worker (Pyodide, the build's lockfile and the tracker's wheel).
    `config` adds (or replaces) keys of the page's tracker config (the headless app's `channel`).
    The markup is the build's (`tracker.build.embed`, made of escaped parts), byte for byte: the CSP hashes its
    inline script.
    """
    tracker = tracker or TrackerDist(settings.tracker_dist_dir, settings.tracker_dir, settings.static_dir,
                                     full_stdlib=settings.full_stdlib, base_url=settings.tracker_base_url)
    return Markup(tracker.embed({**settings.tracker_config(), **(config or {})}))


def section_html(section: Section, element_id: str) -> Markup:
    """A recommendation section in the markup of contract §1 (store.js's renderSection matches it exactly)."""
    return macro("section", section, element_id)


def _sections(request: Request, page_type: str, sections: Iterable[Section]) -> dict[str, Section]:
    """The sections by recommendation type; each is recorded as served by this page."""
    sections = tuple(sections)
    record_serves(app_state(request), sections, source="page", page_type=page_type, page_url=str(request.url))
    return {s.recommendation_type: s for s in sections}


def _nav(state: AppState, cart: Cart, current: str) -> list[NavLink]:
    links = [("/", "Home"), *((c.url, c.title) for c in state.catalog.navigation),
             ("/collections/all", "All products"), ("/cart", f"Cart ({cart.item_count})"), ("/headless/", "Headless"),
             ("/_collector", "Events")]
    return [NavLink(url, label, url == current) for url, label in links]


def _page(request: Request, template: str, *, title: str, context: dict[str, Any], status: int = 200,
          tracked: bool = True, **values: Any) -> Response:
    """`template` (which extends layout.html) with `values`, and the layout's page context, the tracker (unless
    `tracked` is False), header and cart."""
    state = app_state(request)
    token, is_new = cart_token(request)
    cart = load_cart(state, token)
    head = [json_script("glood-page", {**context, "cart": cart.to_json()})]
    if state.settings.consent_banner:
        head.append(CONSENT_SCRIPT)
    if tracked:
        head.append(tracker_embed(state.settings, state.tracker))
    html = render(template, title=title, head=head, nav=_nav(state, cart, request.url.path), cart=cart,
                  section_ids=SECTION_ELEMENT_IDS, **values)
    return remember_cart(HTMLResponse(html, status_code=status), token, is_new)


# -- pages --------------------------------------------------------------------------------

async def home(request: Request) -> Response:
    state = app_state(request)
    sections = _sections(request, "home", recommend(state.catalog, "home"))
    return _page(request, "home.html", title="Home", context={"page_type": "home"}, sections=sections,
                 collections=state.catalog.navigation)


def collection_json(collection: Collection) -> dict[str, str]:
    """A collection as the page context (`#glood-page`) describes it."""
    return {"id": collection.id, "handle": collection.handle, "title": collection.title}


def product_context(state: AppState, found: Product) -> dict[str, Any]:
    """A product page's context (without the cart): the product (its first variant) and its collection."""
    home_collection = state.catalog.collection(found.collection)
    assert home_collection is not None
    return {"page_type": "product",
            "product": {"id": found.id, "variant_id": found.default_variant.id, "title": found.title,
                        "price": format_price(found.price_cents), "handle": found.handle},
            "collection": collection_json(home_collection)}


async def collection(request: Request) -> Response:
    state = app_state(request)
    found = state.catalog.collection(request.path_params["handle"])
    if found is None:
        raise HTTPException(404, "No collection here.")
    return _page(request, "collection.html", title=found.title,
                 context={"page_type": "collection", "collection": collection_json(found)},
                 collection=found, products=state.catalog.products_in(found))


async def product(request: Request) -> Response:
    state = app_state(request)
    found = state.catalog.product(request.path_params["handle"])
    if found is None:
        raise HTTPException(404, "No product here.")
    home_collection = state.catalog.collection(found.collection)
    assert home_collection is not None
    sections = _sections(request, "product",
                         recommend(state.catalog, "product", found, ("similar_products", "you_may_also_like")))
    return _page(request, "product.html", title=found.title, context=product_context(state, found),
                 product=found, collection=home_collection, sections=sections, fbt_section_id=FBT_SECTION_ID,
                 shop=state.settings.shop_domain)


async def cart_page(request: Request) -> Response:
    """The cart (the layout's own, `cart`, which the template lists)."""
    return _page(request, "cart.html", title="Your cart", context={"page_type": "cart"})


async def collector_page(request: Request) -> Response:
    """What the stand-in collectors received (rows filled and refreshed by store.js); not tracked itself."""
    query = request.query_params
    destination = query.get("destination") if query.get("destination") in DESTINATIONS else DESTINATIONS[0]
    return _page(request, "collector.html", title="Received events", context={"page_type": "other"}, tracked=False,
                 destinations=DESTINATIONS, destination=destination, name=query.get("name", ""),
                 session_id=query.get("session_id", ""), client_id=query.get("client_id", ""))


async def error_response(request: Request, exc: Exception) -> Response:
    """HTTP errors: the APIs' JSON `Error` shape under API paths, a store page everywhere else."""
    if isinstance(exc, Rejection):
        status, message, headers = exc.status, exc.message, exc.headers
    else:
        assert isinstance(exc, HTTPException)
        status, message, headers = exc.status_code, exc.detail, dict(exc.headers or {})
    if request.url.path.startswith(JSON_PREFIXES):
        return json_error(status, message, headers)
    title = "Page not found" if status == 404 else "Something went wrong"
    response = _page(request, "error.html", title=title, context={"page_type": "other"}, status=status,
                     message=message)
    response.headers.update(headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    """What a request that failed unexpectedly gets (the error is logged by the server): the Error shape under
    API paths, a plain page elsewhere (nothing that could fail again: no cart, no database)."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if request.url.path.startswith(JSON_PREFIXES):
        return json_error(500, f"internal error ({type(exc).__name__})", headers)
    html = plain_error_page("Something went wrong", "The store could not answer this request.")
    return HTMLResponse(html, status_code=500, headers=headers)


def plain_error_page(title: str, message: str) -> str:
    """An error page that needs nothing that could fail again (no cart, no database, no tracker)."""
    return render("error.html", title=title, message=message, head=[], nav=[NavLink("/", "Home")])


def page_routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/collections/{handle}", collection),
        Route("/products/{handle}", product),
        Route("/cart", cart_page),
        Route("/_collector", collector_page),
    ]

"""Storefront pages: HTML from string.Template files, everything dynamic escaped; one section renderer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .api import Rejection, json_error
from .cart import Cart, cart_token, load_cart, remember_cart
from .catalog import Collection, Product, format_money, format_price
from .dist import TrackerDist
from .recommend import SECTION_TYPES, Section, SectionProduct, recommend, record_serves
from .settings import AppState, Settings, app_state
from .store_db import DESTINATIONS

__all__ = ["SECTION_ELEMENT_IDS", "esc", "render", "json_script", "tracker_embed", "section_html", "collection_json",
           "product_context", "page_routes", "error_response", "server_error"]

TEMPLATES = Path(__file__).parent / "templates"
#: Stable element ids of the sections, for tests and for store.js.
SECTION_ELEMENT_IDS = {"trending": "section-trending", "similar_products": "section-similar",
                       "bought_together": "section-fbt", "you_may_also_like": "section-below"}
#: The section store.js fetches into a product page's `#fbt-slot` (by id, from the sections API).
FBT_SECTION_ID = next(i for i, kind in SECTION_TYPES.items() if kind == "bought_together")
JSON_PREFIXES = ("/api/", "/apps/", "/_collector/", "/static/", "/cart/add.js", "/cart/change.js", "/cart.js")


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def _attributes(pairs: Iterable[tuple[str, Any]]) -> str:
    return " ".join(f'{name}="{esc(value)}"' for name, value in pairs)


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def render(template: str, /, **html: str) -> str:
    """Fill a template; every value must already be HTML (escaped text or trusted markup)."""
    return _template(template).substitute(html)


def json_script(element_id: str, data: Any) -> str:
    """A `<script type="application/json">` tag; `<`, `>` and `&` are escaped so the JSON cannot end the tag."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def tracker_embed(settings: Settings, tracker: TrackerDist | None = None,
                  config: Mapping[str, Any] | None = None) -> str:
    """The tracker's embed (contract §3) from the tracker's build (`dist/`, `python -m tracker build`): the config
    tag and the inline sensor, which names the rest by their content-hashed `/dist/` URLs.

    Nothing else of the tracker loads before the page's `load` event: the sensor then imports its second
    half, which starts the worker (Pyodide, the build's lockfile and the tracker's wheel).
    `config` adds (or replaces) keys of the page's tracker config (the headless app's `channel`).
    """
    tracker = tracker or TrackerDist(settings.tracker_dist_dir, settings.tracker_dir, settings.static_dir,
                                     full_stdlib=settings.full_stdlib)
    return tracker.embed({**settings.tracker_config(), **(config or {})})


# -- fragments ----------------------------------------------------------------------------

def card_link(url: str, title: str, price: str, color: str) -> str:
    """A product's swatch, title and price as one link (grids and sections)."""
    return (f'<a class="card-link" href="{esc(url)}"><span class="swatch" style="--swatch: {esc(color)}"></span>'
            f'<span class="card-title">{esc(title)}</span><span class="card-price">{esc(price)}</span></a>')


def _section_item(product: SectionProduct) -> str:
    return (f'<li class="glood-product" data-glood-product-id="{esc(product.product_id)}"'
            f' data-glood-variant-id="{esc(product.variant_id)}">\n'
            f'{card_link(product.url, product.title, "$" + product.price, product.color)}\n'
            f'<form action="/cart/add" method="post"><input type="hidden" name="id" value="{esc(product.variant_id)}">'
            '<input type="hidden" name="quantity" value="1">'
            '<button type="submit" data-glood-add-to-cart>Add to cart</button></form>\n'
            '</li>\n')


def section_html(section: Section, element_id: str) -> str:
    """A recommendation section in the markup of contract §1 (store.js's renderSection matches it exactly)."""
    pairs: list[tuple[str, Any]] = [
        ("class", "glood-section"), ("id", element_id), ("data-glood-section", section.id),
        ("data-glood-serve-id", section.serve_id)]
    if section.request_id:
        pairs.append(("data-glood-request-id", section.request_id))
    pairs.append(("data-glood-recommendation-type", section.recommendation_type))
    if section.page:
        pairs.append(("data-glood-page", section.page))
    if section.parent is not None:
        pairs += [("data-glood-parent-product-id", section.parent.product_id),
                  ("data-glood-parent-variant-id", section.parent.variant_id or "")]
    items = "".join(_section_item(p) for p in section.products)
    return f'<section {_attributes(pairs)}>\n<h2>{esc(section.title)}</h2>\n<ul>\n{items}</ul>\n</section>'


def _sections(request: Request, page_type: str, sections: Iterable[Section]) -> dict[str, str]:
    """The sections' markup by recommendation type; each is recorded as served by this page."""
    sections = tuple(sections)
    record_serves(app_state(request), sections, source="page", page_type=page_type, page_url=str(request.url))
    return {s.recommendation_type: section_html(s, SECTION_ELEMENT_IDS[s.recommendation_type]) for s in sections}


def _product_card(product: Product) -> str:
    link = card_link(product.url, product.title, format_money(product.price_cents), product.color)
    return f'<li class="card">{link}</li>'


def _current(is_current: bool) -> str:
    return ' aria-current="page"' if is_current else ""


def _nav(state: AppState, cart: Cart, current: str) -> str:
    links = [("/", "Home"), *((c.url, c.title) for c in state.catalog.navigation),
             ("/collections/all", "All products"), ("/cart", f"Cart ({cart.item_count})"), ("/headless/", "Headless"),
             ("/_collector", "Events")]
    return "\n".join(f'<a href="{esc(url)}"{_current(url == current)}>{esc(label)}</a>' for url, label in links)


def _page(request: Request, *, title: str, main: str, context: dict[str, Any], status: int = 200,
          tracked: bool = True) -> Response:
    """The layout around `main`: page context, the tracker (unless `tracked` is False), header and cart."""
    state = app_state(request)
    token, is_new = cart_token(request)
    cart = load_cart(state, token)
    page_context = {**context, "cart": cart.to_json()}
    head = json_script("glood-page", page_context)
    if state.settings.consent_banner:
        head += '\n<script src="/static/consent.js"></script>'
    if tracked:
        head += "\n" + tracker_embed(state.settings, state.tracker)
    html = render("layout", title=esc(title), head=head, nav=_nav(state, cart, request.url.path), main=main)
    return remember_cart(HTMLResponse(html, status_code=status), token, is_new)


# -- pages --------------------------------------------------------------------------------

async def home(request: Request) -> Response:
    state = app_state(request)
    sections = _sections(request, "home", recommend(state.catalog, "home"))
    tiles = "".join(
        f'<li><a class="tile" href="{esc(c.url)}"><span class="tile-title">{esc(c.title)}</span>'
        f'<span class="muted">{esc(c.description)}</span></a></li>' for c in state.catalog.navigation)
    main = render("home", trending=sections["trending"], tiles=tiles)
    return _page(request, title="Home", main=main, context={"page_type": "home"})


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
    main = render("collection", title=esc(found.title), description=esc(found.description),
                  cards="".join(_product_card(p) for p in state.catalog.products_in(found)))
    return _page(request, title=found.title, main=main,
                 context={"page_type": "collection", "collection": collection_json(found)})


def _variant_picker(product: Product) -> str:
    if len(product.variants) == 1:
        return f'<input type="hidden" name="id" value="{esc(product.default_variant.id)}">'
    options = "".join(f'<option value="{esc(v.id)}">{esc(v.title)}</option>' for v in product.variants)
    return f'<label class="field">Size <select name="id">{options}</select></label>'


async def product(request: Request) -> Response:
    state = app_state(request)
    found = state.catalog.product(request.path_params["handle"])
    if found is None:
        raise HTTPException(404, "No product here.")
    home_collection = state.catalog.collection(found.collection)
    assert home_collection is not None
    sections = _sections(request, "product",
                         recommend(state.catalog, "product", found, ("similar_products", "you_may_also_like")))
    main = render(
        "product", id=esc(found.id), variant_id=esc(found.default_variant.id), title=esc(found.title),
        price=esc(format_money(found.price_cents)), description=esc(found.description), color=esc(found.color),
        collection_url=esc(home_collection.url), collection_title=esc(home_collection.title),
        variant_picker=_variant_picker(found), similar=sections["similar_products"],
        fbt_element_id=SECTION_ELEMENT_IDS["bought_together"], fbt_section_id=esc(FBT_SECTION_ID),
        shop=esc(state.settings.shop_domain), below=sections["you_may_also_like"])
    return _page(request, title=found.title, main=main, context=product_context(state, found))


def _cart_rows(cart: Cart) -> str:
    rows = []
    for number, line in enumerate(cart.lines, start=1):
        variant = ("" if line.variant.title == "Default Title"
                   else f'<span class="muted">{esc(line.variant.title)}</span>')
        rows.append(
            f'<tr><td><div class="line-product"><span class="swatch swatch-small"'
            f' style="--swatch: {esc(line.product.color)}"></span>'
            f'<span><a href="{esc(line.product.url)}">{esc(line.product.title)}</a>{variant}</span></div></td>'
            f'<td>{esc(format_money(line.variant.price_cents))}</td><td>{line.quantity}</td>'
            f'<td>{esc(format_money(line.line_price_cents))}</td>'
            f'<td><form action="/cart/change" method="post"><input type="hidden" name="line" value="{number}">'
            '<input type="hidden" name="quantity" value="0"><button type="submit" class="link-button">Remove</button>'
            '</form></td></tr>')
    return "\n".join(rows)


async def cart_page(request: Request) -> Response:
    state = app_state(request)
    cart = load_cart(state, cart_token(request)[0])
    if cart.lines:
        count = f"{cart.item_count} item{'' if cart.item_count == 1 else 's'}"
        main = render("cart", rows=_cart_rows(cart), count=count,
                      total=esc(format_money(cart.total_cents)))
    else:
        main = render("cart_empty")
    return _page(request, title="Your cart", main=main, context={"page_type": "cart"})


async def collector_page(request: Request) -> Response:
    """What the stand-in collectors received (rows filled and refreshed by store.js); not tracked itself."""
    query = request.query_params
    destination = query.get("destination") if query.get("destination") in DESTINATIONS else DESTINATIONS[0]
    tabs = "".join(
        f'<a class="tab" href="/_collector?destination={d}"{_current(d == destination)}>'
        f'{d.capitalize()} <span class="muted" data-stats="{d}"></span></a>' for d in DESTINATIONS)
    main = render("collector", tabs=tabs, destination=esc(destination), name=esc(query.get("name", "")),
                  session_id=esc(query.get("session_id", "")), client_id=esc(query.get("client_id", "")))
    return _page(request, title="Received events", main=main, context={"page_type": "other"}, tracked=False)


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
    main = render("error", title=esc(title), message=esc(message))
    response = _page(request, title=title, main=main, context={"page_type": "other"}, status=status)
    response.headers.update(headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    """What a request that failed unexpectedly gets (the error is logged by the server): the Error shape under
    API paths, a plain page elsewhere (nothing that could fail again: no cart, no database)."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if request.url.path.startswith(JSON_PREFIXES):
        return json_error(500, f"internal error ({type(exc).__name__})", headers)
    main = render("error", title="Something went wrong", message="The store could not answer this request.")
    html = render("layout", title="Something went wrong", head="", nav='<a href="/">Home</a>', main=main)
    return HTMLResponse(html, status_code=500, headers=headers)


def page_routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/collections/{handle}", collection),
        Route("/products/{handle}", product),
        Route("/cart", cart_page),
        Route("/_collector", collector_page),
    ]

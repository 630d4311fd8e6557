"""Stand-in for Glood's sections API: which recommendation sections a page gets, with which products.

The products are chosen deterministically from the catalogue; each serve gets fresh ids
(`sectionServeId` per section, one `requestId` per request). The pages render sections server-side from
`recommend()`; `POST /api/storefront/v3/headless/sections` answers them in Glood's documented shape
(shared/notes/glood-headless-flow.md §2), which static/store.js and static/headless.js render into the same
markup. Every serve, the pages' and the stand-in's, is recorded (`record_serves`) for the collector's funnel.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.routing import Route

from . import visits
from .api import Payload, Rejection, json_api_route
from .catalog import Catalog, Product, format_price
from .schemas import GLOOD_SECTIONS
from .settings import AppState
from .store_db import Serve

__all__ = ["SECTIONS_PATH", "PAGE_SECTIONS", "RECOMMENDATION_TYPES", "SECTION_TYPES", "RecommendError",
           "SectionProduct", "Parent", "Section", "new_request_id", "recommend", "api_product", "api_section",
           "record_serves", "sections_route"]

SECTIONS_PATH = "/api/storefront/v3/headless/sections"
#: The longest page URL recorded with a serve (the rest is cut).
MAX_SERVE_URL = 2048
_LOG = logging.getLogger("demo_store")


class RecommendError(ValueError):
    """A request the sections stand-in cannot answer (e.g. a product section without a product)."""


@dataclass(frozen=True)
class SectionProduct:
    product_id: str
    variant_id: str
    handle: str
    title: str
    price: str
    color: str
    url: str

    @classmethod
    def of(cls, product: Product) -> SectionProduct:
        return cls(product.id, product.default_variant.id, product.handle, product.title,
                   format_price(product.price_cents), product.color, product.url)


@dataclass(frozen=True)
class Parent:
    product_id: str
    variant_id: str | None = None


@dataclass(frozen=True)
class Section:
    """One served section, as the pages render it (`pages.section_html`); `api_section()` is the API's shape.
    `position` is its place among its page type's sections (1-based)."""

    id: str
    title: str
    recommendation_type: str
    serve_id: str
    request_id: str
    page: str | None
    parent: Parent | None
    products: tuple[SectionProduct, ...]
    position: int = 1


Picker = Callable[[Catalog, Product | None], Iterable[Product]]


@dataclass(frozen=True)
class _Spec:
    id: str
    title: str
    pick: Picker
    needs_product: bool


def _after(catalog: Catalog, product: Product) -> list[Product]:
    """The other products in catalogue order, starting right after `product` and wrapping around."""
    index = catalog.products.index(product)
    return list(catalog.products[index + 1:] + catalog.products[:index])


def _trending(catalog: Catalog, _product: Product | None) -> list[Product]:
    return list(catalog.products[::3])


def _similar(catalog: Catalog, product: Product | None) -> list[Product]:
    assert product is not None
    return [p for p in catalog.products if p.collection == product.collection and p != product][:4]


def _bought_together(catalog: Catalog, product: Product | None) -> list[Product]:
    assert product is not None
    return [p for p in _after(catalog, product) if p.collection != product.collection][:3]


def _you_may_also_like(catalog: Catalog, product: Product | None) -> list[Product]:
    assert product is not None
    shown = set(_similar(catalog, product)) | set(_bought_together(catalog, product))
    return [p for p in _after(catalog, product) if p not in shown][:4]


_SPECS: dict[str, _Spec] = {
    "trending": _Spec("221901", "Trending now", _trending, needs_product=False),
    "similar_products": _Spec("221939", "Similar products", _similar, needs_product=True),
    "bought_together": _Spec("221947", "Frequently bought together", _bought_together, needs_product=True),
    "you_may_also_like": _Spec("221952", "You may also like", _you_may_also_like, needs_product=True),
}

RECOMMENDATION_TYPES: tuple[str, ...] = tuple(_SPECS)
#: Section id -> recommendation type (the API's `sections` names sections by id).
SECTION_TYPES: dict[str, str] = {spec.id: kind for kind, spec in _SPECS.items()}
#: Shopify's title of the only variant of a product without options.
DEFAULT_VARIANT_TITLE = "Default Title"

#: The sections each page type shows, in page order.
PAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "home": ("trending",),
    "product": ("similar_products", "bought_together", "you_may_also_like"),
}

_PAGE_IDS = {"home": "46330", "product": "46334"}


def new_request_id(now: float | None = None) -> str:
    """The id of one serve: `<epoch seconds>-<uuid4>` (as in Glood's `requestId`s)."""
    return f"{int(time.time() if now is None else now)}-{uuid.uuid4()}"


def recommend(catalog: Catalog, page_type: str, product: Product | None = None,
              types: Iterable[str] | None = None, *, now: float | None = None) -> tuple[Section, ...]:
    """The sections for a page (all of the page type's, or just `types`), each served afresh."""
    page_sections = PAGE_SECTIONS.get(page_type, ())
    wanted = tuple(page_sections if types is None else types)
    request_id = new_request_id(now)
    sections: list[Section] = []
    for kind in wanted:
        spec = _SPECS.get(kind)
        if spec is None:
            raise RecommendError(f"unknown recommendation type {kind!r}")
        if spec.needs_product and product is None:
            raise RecommendError(f"section {spec.id} ({kind}) needs a product_id")
        sections.append(Section(
            id=spec.id, title=spec.title, recommendation_type=kind, serve_id=str(uuid.uuid4()),
            request_id=request_id, page=_PAGE_IDS.get(page_type),
            parent=Parent(product.id) if product is not None and spec.needs_product else None,
            products=tuple(SectionProduct.of(p) for p in spec.pick(catalog, product)),
            position=(page_sections.index(kind) if kind in page_sections else len(page_sections) + len(sections)) + 1,
        ))
    return tuple(sections)


# -- the stand-in's answer (shared/notes/glood-headless-flow.md §2) ----------------------------------------

#: The demo shop's vendor, and the size of the swatch images it answers.
VENDOR = "Demo Store"
IMAGE_SIZE = 600
#: Where each section sits and how it is laid out (the stand-in's values for the documented fields).
_PLACEMENT = {"trending": ("grid", "home_page"), "similar_products": ("grid", "product_page"),
              "bought_together": ("list", "product_page"), "you_may_also_like": ("grid", "product_page_bottom")}
#: A product's colour travels as a `swatch:<colour>` tag (the widget draws the swatch from it).
SWATCH_TAG = "swatch:"


def _swatch_image(product: Product) -> dict[str, Any]:
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{IMAGE_SIZE}' height='{IMAGE_SIZE}'>"
           f"<rect width='100%' height='100%' fill='{product.color}'/></svg>")
    return {"id": int(product.id) * 10 + 1, "url": "data:image/svg+xml," + quote(svg, safe="/:='"),
            "height": IMAGE_SIZE, "width": IMAGE_SIZE, "altText": product.title}


def api_product(catalog: Catalog, product: Product) -> dict[str, Any]:
    """A product as the sections API answers it: numeric ids, Shopify's decimal prices, options and variants."""
    collection = catalog.collection(product.collection)
    sized = product.default_variant.title != DEFAULT_VARIANT_TITLE
    option = {"id": int(product.id) * 10 + 2, "name": "Size" if sized else "Title",
              "values": [v.title for v in product.variants], "position": 1}
    return {
        "product_id": int(product.id), "title": product.title, "price": format_price(product.price_cents),
        "compare_at_price": None, "tags": [product.collection, SWATCH_TAG + product.color],
        "product_type": collection.title if collection else "", "vendor": VENDOR, "handle": product.handle,
        "image": _swatch_image(product), "options": [option],
        "variants": [{"variant_id": int(v.id), "title": v.title,
                      "display_name": product.title if not sized else f"{product.title} - {v.title}",
                      "position": n, "sku": f"{product.handle}-{v.title}".upper() if sized else product.handle.upper(),
                      "price": format_price(v.price_cents)} for n, v in enumerate(product.variants, start=1)],
    }


def api_section(catalog: Catalog, section: Section) -> dict[str, Any]:
    """A section as the sections API answers it. What the widget markup needs beyond the documented fields is in
    `extra`: `page_id` (Glood's page, `data-glood-page`); the serve id is the widget's own, one per render."""
    layout, location = _PLACEMENT[section.recommendation_type]
    products = [catalog.product_by_id(p.product_id) for p in section.products]
    return {"id": section.id, "layout": layout, "location": location, "type": section.recommendation_type,
            "position": section.position, "title": section.title,
            "extra": {} if section.page is None else {"page_id": section.page},
            "discount_config": {}, "show_discount_label": False, "translations": {},
            "products": [api_product(catalog, p) for p in products if p is not None]}


def record_serves(state: AppState, sections: Iterable[Section], *, source: str, page_type: str | None,
                  page_url: str | None) -> None:
    """Record what was served (`source` "page": rendered into a store page; "api": answered by the stand-in), one
    row per section with its request id and product count. A failure is logged: the page or answer still goes."""
    url = None if page_url is None else page_url[:MAX_SERVE_URL]
    try:
        state.db.record_serves(Serve(s.request_id, s.id, s.recommendation_type, len(s.products), source, page_type,
                                     url) for s in sections)
    except Exception:  # noqa: BLE001 - the funnel's bookkeeping never breaks a page
        _LOG.exception("could not record a serve")


def _section_types(body: dict[str, Any]) -> tuple[str, ...] | None:
    """The recommendation types of the requested `sections` ids (None: the page type's own)."""
    if "sections" not in body:
        return None
    types = []
    for index, section_id in enumerate(body["sections"]):
        kind = SECTION_TYPES.get(section_id)
        if kind is None:
            raise Rejection(400, f"sections[{index}]: no section {section_id[:40]!r}")
        types.append(kind)
    return tuple(types)


def _answer_visit(request: Request, state: AppState, body: dict[str, Any]) -> str | None:
    """The visit of a sections request: its bearer visit token's (when valid), else the newest valid visit of its
    user_id (or client_id); None when there is none (sections never open a visit)."""
    moment = visits.now()
    token = visits.bearer_token(request)
    if token is not None:
        visit = state.db.visit_by_token(token)
        if visit is not None and visit.expires_at is not None and moment < visit.expires_at:
            return visit.visit_id
    found = state.db.latest_visit(state.settings.shop_domain, user_id=body.get("user_id") or None,
                                  client_id=body.get("client_id") or None, valid_at=moment)
    return found.visit_id if found else None


def _sections(request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    body = payload.data
    product = None
    if "product_id" in body:
        product = state.catalog.product_by_id(str(int(body["product_id"])))
        if product is None:
            raise Rejection(400, f"product_id: no product {body['product_id']!r}")
    try:
        sections = recommend(state.catalog, body["page_type"], product, _section_types(body))
    except RecommendError as exc:
        raise Rejection(400, f"product_id: {exc}") from None
    request_id = sections[0].request_id if sections else new_request_id()
    record_serves(state, sections, source="api", page_type=body["page_type"], page_url=body["page_url"])
    return {"request_id": request_id, "visit_id": _answer_visit(request, state, body),
            "sections": [api_section(state.catalog, s) for s in sections]}


def sections_route() -> Route:
    """`POST /api/storefront/v3/headless/sections` with `x-shop` and `{page_url, page_type, locale, product_id?,
    sections?, ...}` (not a collector: its refusals are not counted)."""
    return json_api_route(SECTIONS_PATH, GLOOD_SECTIONS, _sections, authorize=visits.require_shop)

"""Stand-in for Glood's sections API: which recommendation sections a page gets, with which products.

The products are chosen deterministically from the catalogue; each serve gets fresh ids
(`sectionServeId` per section, one `requestId` per request).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from starlette.requests import Request
from starlette.routing import Route

from .api import Payload, Rejection, json_api_route
from .catalog import Catalog, Product, format_price
from .schemas import PAGE_TYPES, Schema
from .settings import AppState

__all__ = ["SECTIONS_PATH", "PAGE_SECTIONS", "RECOMMENDATION_TYPES", "RecommendError", "SectionProduct", "Parent",
           "Section", "recommend", "sections_route"]

SECTIONS_PATH = "/api/storefront/v3/headless/sections"


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
    def of(cls, product: Product) -> "SectionProduct":
        return cls(product.id, product.default_variant.id, product.handle, product.title,
                   format_price(product.price_cents), product.color, product.url)

    def to_json(self) -> dict[str, Any]:
        return {"productId": self.product_id, "variantId": self.variant_id, "handle": self.handle,
                "title": self.title, "price": self.price, "color": self.color, "url": self.url}


@dataclass(frozen=True)
class Parent:
    product_id: str
    variant_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"productId": self.product_id, "variantId": self.variant_id}


@dataclass(frozen=True)
class Section:
    """One served section; `to_json()` is the API's shape, which store.js renders too."""

    id: str
    title: str
    recommendation_type: str
    serve_id: str
    request_id: str
    page: str | None
    parent: Parent | None
    products: tuple[SectionProduct, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "recommendationType": self.recommendation_type,
                "sectionServeId": self.serve_id, "requestId": self.request_id, "page": self.page,
                "parent": self.parent.to_json() if self.parent else None,
                "products": [p.to_json() for p in self.products]}


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

#: The sections each page type shows, in page order.
PAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "home": ("trending",),
    "product": ("similar_products", "bought_together", "you_may_also_like"),
}

_PAGE_IDS = {"home": "46330", "product": "46334"}


def recommend(catalog: Catalog, page_type: str, product: Product | None = None,
              types: Iterable[str] | None = None, *, now: float | None = None) -> tuple[Section, ...]:
    """The sections for a page (all of the page type's, or just `types`), each served afresh."""
    wanted = tuple(PAGE_SECTIONS.get(page_type, ()) if types is None else types)
    request_id = f"{int(time.time() if now is None else now)}-{uuid.uuid4()}"
    sections = []
    for kind in wanted:
        spec = _SPECS.get(kind)
        if spec is None:
            raise RecommendError(f"unknown recommendation type {kind!r}")
        if spec.needs_product and product is None:
            raise RecommendError(f"{kind} needs a product_id")
        sections.append(Section(
            id=spec.id, title=spec.title, recommendation_type=kind, serve_id=str(uuid.uuid4()),
            request_id=request_id, page=_PAGE_IDS.get(page_type),
            parent=Parent(product.id) if product is not None and spec.needs_product else None,
            products=tuple(SectionProduct.of(p) for p in spec.pick(catalog, product)),
        ))
    return tuple(sections)


SECTIONS_REQUEST = Schema({
    "type": "object",
    "required": ["page_type"],
    "properties": {
        "page_type": {"type": "string", "enum": list(PAGE_TYPES)},
        "product_id": {"type": ["string", "null"]},
        "recommendation_types": {"type": "array", "items": {"type": "string", "enum": list(RECOMMENDATION_TYPES)}},
        "shop_domain": {"type": "string"},
    },
})


def _sections(_request: Request, state: AppState, payload: Payload) -> dict[str, Any]:
    body = payload.data
    product = None
    if body.get("product_id"):
        product = state.catalog.product_by_id(body["product_id"])
        if product is None:
            raise Rejection(400, f"product_id: no product {body['product_id']!r}")
    try:
        sections = recommend(state.catalog, body["page_type"], product, body.get("recommendation_types"))
    except RecommendError as exc:
        raise Rejection(400, f"recommendation_types: {exc}") from None
    return {"sections": [s.to_json() for s in sections]}


def sections_route() -> Route:
    """`POST /api/storefront/v3/headless/sections` `{page_type, product_id?, recommendation_types?}`."""
    return json_api_route(SECTIONS_PATH, SECTIONS_REQUEST, _sections)

"""Reading the page: config, page context, sections and products, turned into plain Python at the edge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import js

from ..core.cart import CartChange
from ..core.events import PAGE_TYPES, PageContext, ProductRef, SectionTrack
from .ffi import nullable

__all__ = [
    "SECTION_SELECTOR", "PRODUCT_SELECTOR", "CART_ADD_FORM", "CART_CHANGE_FORM", "cart_change",
    "Intersection", "CartAdd", "PageData",
    "read_json_tag", "js_to_python", "page_data", "page_context", "section_track", "product_ref",
    "intersection", "cart_add", "closest",
]

SECTION_SELECTOR = "[data-glood-section]"
PRODUCT_SELECTOR = "[data-glood-product-id]"
CART_ADD_FORM = 'form[action$="/cart/add"]'
CART_CHANGE_FORM = 'form[action$="/cart/change"]'


@dataclass(frozen=True)
class Intersection:
    """One IntersectionObserver entry: which section, how much of it counts as visible."""

    key: int
    ratio: float


@dataclass(frozen=True)
class CartAdd:
    """A submitted add-to-cart form."""

    variant_id: str | None
    quantity: int
    product_id: str | None
    section: SectionTrack | None


@dataclass(frozen=True)
class PageData:
    """What the storefront's `#glood-page` tag says about the page."""

    page_type: str
    raw: dict[str, Any]

    def get(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        return value if isinstance(value, dict) else {}


MAX_DEPTH = 32


def js_to_python(value: Any) -> Any:
    """A JavaScript value as plain Python (dicts, lists, str, numbers, None).

    Values with no JSON form (functions, DOM nodes) stay proxies, for the core to refuse;
    nesting deeper than MAX_DEPTH (a cycle, most likely) raises ValueError.
    """
    value = nullable(value)
    to_py = getattr(value, "to_py", None)
    return _plain(to_py() if to_py is not None else value, 0)


def _plain(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"data is nested more than {MAX_DEPTH} levels deep (a cycle?)")
    value = nullable(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return value


def closest(el: Any, selector: str) -> Any:
    """`el.closest(selector)`, or None (also for nodes that are not elements)."""
    if el is None or getattr(el, "closest", None) is None:
        return None
    return nullable(el.closest(selector))


def read_json_tag(element_id: str) -> dict[str, Any]:
    """Parse a `<script type="application/json" id=...>` tag; missing = {}, invalid raises ValueError."""
    el = nullable(js.document.getElementById(element_id))
    if el is None:
        return {}
    text = (el.textContent or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"#{element_id} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"#{element_id} must hold a JSON object")
    return value


def page_data() -> PageData:
    try:
        raw = read_json_tag("glood-page")
    except ValueError as exc:
        js.console.error(f"[glood-tracker] {exc}; treating the page as 'other'")
        raw = {}
    page_type = raw.get("page_type")
    return PageData(page_type if page_type in PAGE_TYPES else "other", raw)


def page_context(data: PageData, pageview_id: str) -> PageContext:
    window = js.window
    product = data.get("product")
    customer = data.get("customer")
    return PageContext(
        url=str(window.location.href),
        page_type=data.page_type,
        pageview_id=pageview_id,
        product_id=_opt_str(product.get("id")),
        variant_id=_opt_str(product.get("variant_id")),
        viewport_width=int(window.innerWidth),
        viewport_height=int(window.innerHeight),
        user_agent=str(window.navigator.userAgent),
        customer_id=_opt_str(customer.get("id")),
    )


def _opt_str(value: Any) -> str | None:
    value = nullable(value)
    if value is None or value == "":
        return None
    return str(value)


def _attr(el: Any, name: str) -> str | None:
    return _opt_str(el.getAttribute(name))


def product_ref(el: Any) -> ProductRef:
    return ProductRef(product_id=str(el.getAttribute("data-glood-product-id")),
                      variant_id=_attr(el, "data-glood-variant-id"))


def section_track(el: Any, products: tuple[ProductRef, ...] | None = None) -> SectionTrack:
    """`customData.track` of a section element; `products` narrows it to the products acted on."""
    parent_id = _attr(el, "data-glood-parent-product-id")
    if products is None:
        products = tuple(product_ref(p) for p in el.querySelectorAll(PRODUCT_SELECTOR))
    return SectionTrack(
        section=str(el.getAttribute("data-glood-section")),
        section_serve_id=_attr(el, "data-glood-serve-id"),
        request_id=_attr(el, "data-glood-request-id"),
        recommendation_type=_attr(el, "data-glood-recommendation-type"),
        page=_attr(el, "data-glood-page"),
        parent=ProductRef(parent_id, _attr(el, "data-glood-parent-variant-id")) if parent_id else None,
        products=products,
    )


def intersection(entry: Any, key: int) -> Intersection:
    """Visible share of a section: of the element, or of the viewport when the element is taller than it."""
    rect, box, root = entry.intersectionRect, entry.boundingClientRect, entry.rootBounds
    visible = rect.width * rect.height
    element = box.width * box.height
    root = nullable(root)
    viewport = root.width * root.height if root is not None else element
    area = min(element, viewport) if viewport > 0 else element
    ratio = visible / area if area > 0 else 0.0
    return Intersection(key, min(1.0, max(0.0, float(ratio))))


def cart_add(form: Any) -> CartAdd:
    """The variant, quantity and (if inside a section) section of an add-to-cart form."""
    variant_input = nullable(form.querySelector('[name="id"]'))
    quantity_input = nullable(form.querySelector('[name="quantity"]'))
    try:
        quantity = max(1, int(str(quantity_input.value))) if quantity_input is not None else 1
    except ValueError:
        quantity = 1
    variant_id = _opt_str(variant_input.value) if variant_input is not None else None
    product_el = closest(form, PRODUCT_SELECTOR)
    section_el = closest(form, SECTION_SELECTOR)
    section = None
    product_id = None
    if product_el is not None:
        ref = product_ref(product_el)
        product_id = ref.product_id
        if section_el is not None:
            acted = ProductRef(ref.product_id, variant_id or ref.variant_id, quantity)
            section = section_track(section_el, (acted,))
    return CartAdd(variant_id, quantity, product_id, section)


def _field(form: Any, name: str) -> str | None:
    el = nullable(form.querySelector(f'[name="{name}"]'))
    return _opt_str(el.value) if el is not None else None


def cart_change(form: Any) -> CartChange:
    """The fields of a submitted `/cart/change` form."""
    return CartChange(line=_field(form, "line"), variant_id=_field(form, "id"), quantity=_field(form, "quantity"))

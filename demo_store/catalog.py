"""The demo store's shipped catalogue: twelve products in three collections (plus "all")."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Variant", "Product", "Collection", "Catalog", "CATALOG", "format_price", "format_money"]


def format_price(cents: int) -> str:
    """Shopify's decimal string: 4900 -> "49.00"."""
    return f"{cents // 100}.{cents % 100:02d}"


def format_money(cents: int) -> str:
    return f"${format_price(cents)}"


@dataclass(frozen=True)
class Variant:
    id: str
    title: str
    price_cents: int
    #: False: sold out (the cart refuses it with Shopify's 422 "already sold out").
    available: bool = True


@dataclass(frozen=True)
class Product:
    id: str
    handle: str
    title: str
    description: str
    color: str
    collection: str
    variants: tuple[Variant, ...]

    @property
    def default_variant(self) -> Variant:
        return self.variants[0]

    @property
    def price_cents(self) -> int:
        return self.default_variant.price_cents

    @property
    def url(self) -> str:
        return f"/products/{self.handle}"


@dataclass(frozen=True)
class Collection:
    id: str
    handle: str
    title: str
    description: str

    @property
    def url(self) -> str:
        return f"/collections/{self.handle}"


ALL_HANDLE = "all"

_COLLECTIONS = (
    Collection("482113274134", "shirts", "Shirts", "Oxford, linen and flannel: shirts for every season."),
    Collection("482113306902", "outerwear", "Outerwear", "Jackets, vests and coats built to last."),
    Collection("482113339670", "accessories", "Accessories", "The small things that finish an outfit."),
    Collection("482113372438", ALL_HANDLE, "All products", "Everything in the store."),
)

#: Sold out (a variant whose add to cart the store refuses): the wool overcoat in L.
SOLD_OUT = frozenset({("wool-overcoat", "L")})

# handle, title, colour, collection, price in cents, sized?, description
_PRODUCTS = (
    ("classic-oxford-shirt", "Classic Oxford Shirt", "#8fb8de", "shirts", 4900, True,
     "A crisp cotton oxford with a button-down collar."),
    ("linen-camp-shirt", "Linen Camp Shirt", "#d8c3a0", "shirts", 5900, True,
     "Breezy washed linen with a relaxed camp collar."),
    ("flannel-overshirt", "Flannel Overshirt", "#a33b3b", "shirts", 6900, True,
     "Brushed heavyweight flannel, warm enough to wear as a layer."),
    ("everyday-tee", "Everyday Tee", "#2f3e4e", "shirts", 2400, True,
     "Soft combed cotton in a fit that works with everything."),
    ("waxed-field-jacket", "Waxed Field Jacket", "#5b6b3a", "outerwear", 18900, True,
     "Waxed cotton canvas with a corduroy collar and four pockets."),
    ("quilted-vest", "Quilted Vest", "#1f2a44", "outerwear", 8900, True,
     "Light diamond-quilted insulation for cool mornings."),
    ("wool-overcoat", "Wool Overcoat", "#6e5a4b", "outerwear", 24900, True,
     "A single-breasted coat in dense Italian wool."),
    ("rain-shell", "Rain Shell", "#e0a526", "outerwear", 12900, True,
     "Seam-sealed and packable, with a stowaway hood."),
    ("merino-beanie", "Merino Beanie", "#c96b3c", "accessories", 2900, False,
     "Rib-knit extra-fine merino that never itches."),
    ("leather-belt", "Leather Belt", "#5a3825", "accessories", 4500, False,
     "Full-grain vegetable-tanned leather with a brass buckle."),
    ("canvas-tote", "Canvas Tote", "#e8e1d3", "accessories", 3500, False,
     "Heavy canvas with leather handles and an inside pocket."),
    ("fishermans-rib-scarf", "Fisherman's Rib Scarf", "#7b8a8b", "accessories", 3900, False,
     "Chunky lambswool in a classic fisherman's rib."),
)

_SIZES = ("S", "M", "L")


def _build_products() -> tuple[Product, ...]:
    products = []
    for index, (handle, title, color, collection, price, sized, description) in enumerate(_PRODUCTS):
        sizes = _SIZES if sized else ("Default Title",)
        variants = tuple(Variant(str(56640794886518 + index * 1000 + n), size, price, (handle, size) not in SOLD_OUT)
                         for n, size in enumerate(sizes))
        products.append(Product(str(15441118822774 + index * 131), handle, title, description, color,
                                collection, variants))
    return tuple(products)


class Catalog:
    """Look-ups over the products and collections."""

    def __init__(self, products: tuple[Product, ...], collections: tuple[Collection, ...]) -> None:
        self.products = products
        self.collections = collections
        self._by_handle = {p.handle: p for p in products}
        self._by_id = {p.id: p for p in products}
        self._variants = {v.id: (p, v) for p in products for v in p.variants}
        self._collections = {c.handle: c for c in collections}

    @property
    def navigation(self) -> tuple[Collection, ...]:
        """The real collections, for the header (not "all")."""
        return tuple(c for c in self.collections if c.handle != ALL_HANDLE)

    def product(self, handle: str) -> Product | None:
        return self._by_handle.get(handle)

    def product_by_id(self, product_id: str) -> Product | None:
        return self._by_id.get(product_id)

    def variant(self, variant_id: str) -> tuple[Product, Variant] | None:
        return self._variants.get(variant_id)

    def collection(self, handle: str) -> Collection | None:
        return self._collections.get(handle)

    def products_in(self, collection: Collection) -> tuple[Product, ...]:
        if collection.handle == ALL_HANDLE:
            return self.products
        return tuple(p for p in self.products if p.collection == collection.handle)


CATALOG = Catalog(_build_products(), _COLLECTIONS)

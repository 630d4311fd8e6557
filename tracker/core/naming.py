"""Genlook event names (`category:action`, snake_case) for Glood event names."""

from __future__ import annotations

__all__ = ["genlook_name", "STANDARD_ACTIONS"]

#: Standard storefront event -> Genlook action.
STANDARD_ACTIONS: dict[str, str] = {
    "page_viewed": "page_view",
    "product_viewed": "product_view",
    "product_added_to_cart": "cart_add",
    "product_removed_from_cart": "cart_remove",
    "cart_viewed": "cart_view",
    "checkout_started": "checkout_start",
    "checkout_completed": "checkout_complete",
    "checkout_shipping_info_submitted": "shipping_info_submit",
    "checkout_contact_info_submitted": "contact_info_submit",
    "checkout_address_info_submitted": "address_info_submit",
    "payment_info_submitted": "payment_info_submit",
    "collection_viewed": "collection_view",
    "search_submitted": "search_submit",
}


def genlook_name(name: str, page_type: str) -> str:
    """`glood:section:view` -> `section:view`; `page_viewed` on a product page -> `product_page:page_view`.

    Glood names with one part after the prefix (`glood:init`) become `glood:init`.
    """
    if name.startswith("glood:"):
        parts = name.split(":")[1:]
        if len(parts) == 2:
            return f"{parts[0]}:{parts[1]}"
        return f"glood:{parts[0]}"
    action = STANDARD_ACTIONS.get(name)
    if action is None:
        raise KeyError(f"no Genlook name for {name!r}")
    return f"{page_type}_page:{action}"

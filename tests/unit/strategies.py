"""Hypothesis strategies shared by the unit tests: JSON values and the pages events happen on."""

from __future__ import annotations

from hypothesis import strategies as st

from tracker.core.events import PAGE_TYPES, PageContext

__all__ = ["json_scalars", "json_values", "json_objects", "pages"]

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
pages = st.builds(
    PageContext,
    url=st.text(max_size=40).map(lambda s: "https://shop.example/" + s),
    page_type=st.sampled_from(PAGE_TYPES),
    pageview_id=st.text(max_size=12),
    product_id=st.none() | st.text(min_size=1, max_size=12),
    variant_id=st.none() | st.text(min_size=1, max_size=12),
    viewport_width=st.none() | st.integers(0, 5000),
    viewport_height=st.none() | st.integers(0, 5000),
    user_agent=st.none() | st.text(max_size=30),
    customer_id=st.none() | st.text(max_size=10),
)

"""Shopper actions: clicks (and middle clicks) in a section's products; cart form submits make no facts of their own."""

from __future__ import annotations

from .lab import SensorLab, section

# The page's own handlers (bubbling, after the sensor's capturing ones) keep the test page where it is.
# (A click's default on a submit button is the submit: links only.)
STAY = """<script>
    for (const type of ['click', 'auxclick'])
        document.addEventListener(type, e => e.target.closest('a') && e.preventDefault());
    for (const type of ['submit', 'contextmenu']) document.addEventListener(type, e => e.preventDefault());
</script>"""
CART = """
<div data-glood-product-id="loose" id="loose">not in a section</div>
<form action="/cart/change" method="post" id="change"><input name="line" value="2"><input name="quantity" value="0">
  <button id="remove">Remove</button></form>
<form action="/cart/add" method="post" id="add-plain"><input name="id" value="v7">
  <button id="buy-plain">Add</button></form>
<form action="/cart/addresses" method="post" id="other"><input name="id" value="v8">
  <button id="not-cart">Go</button></form>
"""


def open_store(lab: SensorLab) -> SensorLab:
    return lab.open(STAY + section("s1", "serve-1", [("p1", "v1"), ("p2", None)]) + CART)


def test_a_click_on_a_product_link_in_a_section(lab: SensorLab) -> None:
    """A click on a product's link (or anywhere in the product) is a `click` with the section's key, the
    product [id, variant] and button 0."""
    open_store(lab)
    lab.page.click("#link-p1")
    lab.page.click("#name-p2")
    facts = lab.wait_fact("f => f.k == 'click' && f.p[0] == 'p2'")
    assert [(f["i"], f["p"], f["b"]) for f in facts if f["k"] == "click"] \
        == [(1, ["p1", "v1"], 0), (1, ["p2", None], 0)]


def test_clicks_outside_products_of_sections_are_not_clicks(lab: SensorLab) -> None:
    """A product element outside any section, a section's heading, a right click: no `click` (the click after
    them shows they were handled)."""
    open_store(lab)
    lab.page.click("#loose")
    lab.page.click("section h2")
    lab.page.click("#link-p1", button="right")
    lab.page.click("#link-p2")
    facts = lab.wait_fact("f => f.k == 'click'")
    assert [(f["p"], f["b"]) for f in facts if f["k"] == "click"] == [(["p2", None], 0)]


def test_a_middle_click_is_a_click_with_button_1(lab: SensorLab) -> None:
    """A middle click (auxclick, button 1) on a product link is a `click` with b = 1."""
    open_store(lab)
    lab.page.click("#link-p2", button="middle")
    facts = lab.wait_fact("f => f.k == 'click'")
    assert [(f["i"], f["p"], f["b"]) for f in facts if f["k"] == "click"] == [(1, ["p2", None], 1)]


def test_add_to_cart_in_a_section_is_not_a_click(lab: SensorLab) -> None:
    """The add-to-cart button inside a product: no `click` (it is inside form[action$="/cart/add"]); the submit,
    intercepted here, makes no fact of its own (the theme's fetch would: tests/sensor/test_cart.py). A click on a
    product link after it shows both were handled."""
    open_store(lab)
    lab.page.click("#buy-p1")
    lab.page.click("#link-p2")
    facts = lab.wait_fact("f => f.k == 'click'")
    assert [(f["k"], f["p"]) for f in facts if f["k"] not in ("sec", "io", "vis")] == [("click", ["p2", None])]


def test_cart_forms_outside_sections_and_other_forms_make_no_facts(lab: SensorLab) -> None:
    """An add-to-cart form outside sections, a cart-change form, a form whose action only starts like a cart's:
    intercepted submits make no fact and keep nothing for a next page."""
    open_store(lab)
    for button in ("#not-cart", "#buy-plain", "#remove"):
        lab.page.click(button)
    lab.page.click("#link-p1")
    facts = lab.wait_fact("f => f.k == 'click'")
    assert [f["k"] for f in facts if f["k"] not in ("sec", "io", "vis")] == ["click"]
    assert lab.page.evaluate("sessionStorage.getItem('glood_tracker:post')") is None

"""Glood's sections stand-in as the notes document it (shared/notes/glood-headless-flow.md §2), and store.js,
which asks it for a product page's "bought together" section and renders the answer in the widget markup."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import demo_store.visits as visits
from demo_store.catalog import CATALOG
from demo_store.pages import section_html
from demo_store.recommend import Parent, Section, SectionProduct, api_section, recommend

REPO = Path(__file__).resolve().parents[2]
SECTIONS = "/api/storefront/v3/headless/sections"
INIT = "/api/storefront/v3/headless/init"
SHOP = "demo-store.myshopify.com"
X_SHOP = {"x-shop": SHOP}
ORIGIN = "http://localhost:9999"
SHIRT = CATALOG.product("classic-oxford-shirt")
assert SHIRT is not None
FBT = "221947"
PRODUCT_PAGE = {"page_url": f"http://127.0.0.1:8000{SHIRT.url}", "page_type": "product", "locale": "en",
                "product_id": int(SHIRT.id)}
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs node to run store.js")


def sections(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(SECTIONS, json=body, headers={**X_SHOP, **headers})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# -- the answer -----------------------------------------------------------------------------------------

def test_sections_answer_the_documented_shape(client: TestClient) -> None:
    """request_id, visit_id and sections with the documented fields; products with numeric ids, image, options
    and variants; the products are the stand-in's usual bought-together pick."""
    answer = sections(client, {**PRODUCT_PAGE, "sections": [FBT]})
    assert set(answer) == {"request_id", "visit_id", "sections"}
    assert re.fullmatch(r"\d{10}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", answer["request_id"])
    assert answer["visit_id"] is None
    (section,) = answer["sections"]
    assert set(section) == {"id", "layout", "location", "type", "position", "title", "extra", "discount_config",
                            "show_discount_label", "translations", "products"}
    assert (section["id"], section["type"], section["title"], section["position"]) == (
        FBT, "bought_together", "Frequently bought together", 2)
    assert isinstance(section["layout"], str) and isinstance(section["location"], str)
    assert section["extra"] == {"page_id": "46334"}
    assert (section["discount_config"], section["show_discount_label"], section["translations"]) == ({}, False, {})
    (_similar, fbt, _below) = recommend(CATALOG, "product", SHIRT)
    assert [p["product_id"] for p in section["products"]] == [int(p.product_id) for p in fbt.products]
    product = section["products"][0]
    assert set(product) == {"product_id", "title", "price", "compare_at_price", "tags", "product_type", "vendor",
                            "handle", "image", "options", "variants"}
    source = CATALOG.product_by_id(str(product["product_id"]))
    assert source is not None
    assert (product["title"], product["price"], product["handle"]) == (source.title, "189.00", source.handle)
    assert f"swatch:{source.color}" in product["tags"]
    assert set(product["image"]) == {"id", "url", "height", "width", "altText"}
    assert isinstance(product["image"]["id"], int) and product["image"]["url"].startswith("data:image/svg+xml,")
    assert product["options"] == [{"id": product["options"][0]["id"], "name": "Size", "values": ["S", "M", "L"],
                                   "position": 1}]
    assert [v["variant_id"] for v in product["variants"]] == [int(v.id) for v in source.variants]
    assert all(set(v) == {"variant_id", "title", "display_name", "position", "sku", "price"}
               for v in product["variants"])
    assert [v["position"] for v in product["variants"]] == [1, 2, 3]


def test_each_request_is_a_new_serve_with_the_same_products(client: TestClient) -> None:
    first, second = (sections(client, {**PRODUCT_PAGE, "sections": [FBT]}) for _ in range(2))
    assert first["request_id"] != second["request_id"]
    assert first["sections"] == second["sections"]


def test_a_product_without_options_has_shopifys_default_variant(client: TestClient) -> None:
    tote = CATALOG.product("canvas-tote")
    assert tote is not None
    answer = sections(client, {**PRODUCT_PAGE, "product_id": int(SHIRT.id)})
    products = [p for s in answer["sections"] for p in s["products"] if p["handle"] == tote.handle]
    assert products, "the tote is recommended for the shirt"
    assert products[0]["options"][0]["values"] == ["Default Title"]
    assert [v["title"] for v in products[0]["variants"]] == ["Default Title"]


def test_without_sections_a_page_gets_its_page_types_sections(client: TestClient) -> None:
    """No `sections`: a product page gets its three, in page order with one request_id; home its one; pages
    without sections none."""
    product = sections(client, PRODUCT_PAGE)
    assert [(s["type"], s["position"]) for s in product["sections"]] == [
        ("similar_products", 1), ("bought_together", 2), ("you_may_also_like", 3)]
    home = sections(client, {"page_url": "http://shop.test/", "page_type": "home", "locale": "en"})
    assert [s["type"] for s in home["sections"]] == ["trending"] and "page_id" in home["sections"][0]["extra"]
    cart = sections(client, {"page_url": "http://shop.test/cart", "page_type": "cart", "locale": "en"})
    assert cart["sections"] == [] and cart["request_id"]


def test_unknown_fields_are_accepted_and_ignored(client: TestClient) -> None:
    """As for init: the notes' fields are checked, others (the old recommendation_types) are ignored."""
    answer = sections(client, {**PRODUCT_PAGE, "sections": [FBT], "recommendation_types": ["trending"], "x": 1})
    assert [s["type"] for s in answer["sections"]] == ["bought_together"]


def test_the_documented_optional_fields_are_accepted(client: TestClient) -> None:
    body = {**PRODUCT_PAGE, "client_id": "c", "user_id": "u", "customer_id": "1", "cart_product_ids": [1, 2],
            "market": "US", "sections": [FBT], "placed_sections": ["221939"], "preview": False, "tags": ["a"],
            "collection": "shirts", "currency": "USD", "zipcode": "10001", "cart_value": 49.5}
    assert [s["id"] for s in sections(client, body)["sections"]] == [FBT]


@pytest.mark.parametrize("headers, fragment", [
    ({}, "x-shop: header is required"),
    ({"x-shop": "other.myshopify.com"}, "x-shop: 'other.myshopify.com' is not this store's shop"),
])
def test_sections_need_this_shop_in_x_shop(client: TestClient, headers: dict[str, str], fragment: str) -> None:
    response = client.post(SECTIONS, json=PRODUCT_PAGE, headers={**headers, "Origin": ORIGIN})
    assert response.status_code == 400
    assert response.json()["error"] == 400 and fragment in response.json()["message"]
    assert response.headers["access-control-allow-origin"] == ORIGIN


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in PRODUCT_PAGE.items() if k != key}


@pytest.mark.parametrize("body, fragment", [
    (_without("page_url"), "body: 'page_url' is a required property"),
    (_without("page_type"), "body: 'page_type' is a required property"),
    (_without("locale"), "body: 'locale' is a required property"),
    ({**PRODUCT_PAGE, "locale": ""}, "locale: must not be empty"),
    ({**PRODUCT_PAGE, "page_type": "landing"}, "page_type: 'landing' is not one of"),
    ({**PRODUCT_PAGE, "product_id": SHIRT.id}, f"product_id: '{SHIRT.id}' is not of type integer"),
    ({**PRODUCT_PAGE, "cart_product_ids": ["1"]}, "cart_product_ids[0]: '1' is not of type integer"),
    ({**PRODUCT_PAGE, "sections": [221947]}, "sections[0]: 221947 is not of type string"),
    ({**PRODUCT_PAGE, "placed_sections": "221947"}, "placed_sections: '221947' is not of type array"),
    ({**PRODUCT_PAGE, "preview": "yes"}, "preview: 'yes' is not of type boolean"),
    ({**PRODUCT_PAGE, "cart_value": "49.50"}, "cart_value: '49.50' is not of type number"),
    ({**PRODUCT_PAGE, "sections": [FBT, "999"]}, "sections[1]: no section '999'"),
    ({**PRODUCT_PAGE, "product_id": 404}, "product_id: no product 404"),
    ({**_without("product_id"), "sections": [FBT]}, "product_id: section 221947 (bought_together) needs a product_id"),
    (_without("product_id"), "needs a product_id"),
])
def test_sections_refuse_bad_requests_naming_the_field(client: TestClient, body: dict[str, Any],
                                                       fragment: str) -> None:
    response = client.post(SECTIONS, json=body, headers=X_SHOP)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"error", "message"} and fragment in answer["message"], answer


def test_sections_preflight_allows_x_shop(client: TestClient) -> None:
    response = client.options(SECTIONS, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "content-type,x-shop"})
    assert response.status_code == 204 and "x-shop" in response.headers["access-control-allow-headers"]


def test_visit_id_comes_from_a_visit_token_or_the_visitors_ids(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer's visit_id: the visit of a valid bearer visit token, else the newest valid visit of the body's
    user_id (or client_id); none otherwise. Sections never open a visit."""
    visit = client.post(INIT, json={"user_id": "u-1", "client_id": "c-1"}, headers=X_SHOP).json()
    assert sections(client, PRODUCT_PAGE, Authorization=f"Bearer {visit['token']}")["visit_id"] == visit["visit_id"]
    assert sections(client, {**PRODUCT_PAGE, "user_id": "u-1"})["visit_id"] == visit["visit_id"]
    assert sections(client, {**PRODUCT_PAGE, "client_id": "c-1"})["visit_id"] == visit["visit_id"]
    assert sections(client, {**PRODUCT_PAGE, "user_id": "someone-else"})["visit_id"] is None
    assert sections(client, PRODUCT_PAGE, Authorization="Bearer forged")["visit_id"] is None
    monkeypatch.setattr(visits, "now", lambda: 4_000_000_000.0)  # long after the token expired
    assert sections(client, PRODUCT_PAGE, Authorization=f"Bearer {visit['token']}")["visit_id"] is None
    assert sections(client, {**PRODUCT_PAGE, "user_id": "u-1"})["visit_id"] is None
    assert client.get("/_collector/stats.json").json()["glood"]["visits"] == 1


# -- store.js -------------------------------------------------------------------------------------------

def _node(script: str, *args: str) -> str:
    assert NODE is not None
    done = subprocess.run([NODE, "-e", script, str(REPO / "static" / "store.js"), *args], capture_output=True,
                          text=True, timeout=30, check=True)
    return done.stdout


_RENDER = """
  const vm = require('vm'), fs = require('fs');
  const [file, section, id, serve] = process.argv.slice(1);
  const sandbox = {document: {readyState: 'loading', addEventListener() {}}, console};
  sandbox.window = sandbox;
  vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox);
  process.stdout.write(sandbox.demoStore.renderSection(JSON.parse(section), id, JSON.parse(serve)));
"""


def _serve_of(section: Section) -> dict[str, str]:
    return {"requestId": section.request_id, "serveId": section.serve_id,
            "parentProductId": section.parent.product_id if section.parent else ""}


@needs_node
def test_store_js_renders_the_api_answer_as_python_renders_the_section() -> None:
    """renderSection(api section, id, serve) gives exactly section_html's markup, for every catalogue section and
    one full of characters to escape."""
    for section in (*recommend(CATALOG, "product", SHIRT), *recommend(CATALOG, "home")):
        rendered = _node(_RENDER, json.dumps(api_section(CATALOG, section)), "section-fbt",
                         json.dumps(_serve_of(section)))
        assert rendered == section_html(section, "section-fbt")
    tricky = Section(id="1<2", title="Fisherman's \"best\" & <more>", recommendation_type="bought_together",
                     serve_id=str(uuid.uuid4()), request_id="", page=None, parent=Parent("9", None),
                     products=(SectionProduct("p&1", "v'1", "x?a=1&b=2", "<b>T</b>", "1.00", "#fff\"",
                                              "/products/x?a=1&b=2"),))
    api = {"id": "1<2", "type": "bought_together", "title": tricky.title, "extra": {},
           "products": [{"product_id": "p&1", "title": "<b>T</b>", "price": "1.00", "handle": "x?a=1&b=2",
                         "tags": ["other", "swatch:#fff\""], "variants": [{"variant_id": "v'1"}]}]}
    assert _node(_RENDER, json.dumps(api), "section-fbt", json.dumps(_serve_of(tricky))) == \
        section_html(tricky, "section-fbt")


_FILL = """
  const vm = require('vm'), fs = require('fs');
  const [file, answer, dataset, config] = process.argv.slice(1);
  const slot = {dataset: JSON.parse(dataset), innerHTML: ''};
  const requests = [];
  const sandbox = {
    console, crypto: globalThis.crypto, URLSearchParams,
    location: {href: 'http://127.0.0.1:8000/products/classic-oxford-shirt', search: ''},
    setTimeout: (fn) => fn(), setInterval() {},
    fetch: async (url, options) => {
      requests.push({url, method: options.method, headers: options.headers, body: options.body});
      return {ok: true, status: 200, json: async () => JSON.parse(answer)};
    },
    document: {
      readyState: 'complete', documentElement: {lang: 'en'}, addEventListener() {}, cookie: '',
      querySelectorAll: (selector) => selector === '[data-section-slot]' ? [slot] : [],
      getElementById: (id) => id === 'glood-tracker-config' && config ? {textContent: config} : null,
    },
  };
  sandbox.window = sandbox;
  vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox);
  setImmediate(() => process.stdout.write(JSON.stringify({requests, html: slot.innerHTML})));
"""


class _Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


@needs_node
@pytest.mark.parametrize("shop_from", ["slot", "config"])
def test_store_js_asks_for_the_fbt_section_and_renders_the_answer(client: TestClient, shop_from: str) -> None:
    """store.js fills the product page's slot: it POSTs the documented request (x-shop, page_url, page_type,
    locale, the section's id, the product id as a number), which the stand-in accepts, and renders the answer
    with the answer's request_id, a fresh serve id and the page's product as parent."""
    page = client.get(SHIRT.url).text
    slot_tag = re.search(r'<div id="fbt-slot"[^>]*>', page)
    assert slot_tag is not None
    ((_tag, attrs),) = _Elements(slot_tag.group(0)).elements
    dataset = {"sectionSlot": "", "pageType": attrs["data-page-type"], "productId": attrs["data-product-id"],
               "sectionId": attrs["data-section-id"], "elementId": attrs["data-element-id"]}
    config = ""
    if shop_from == "slot":
        dataset["shop"] = attrs["data-shop"]
    else:
        config = re.search(r'id="glood-tracker-config">(.*?)</script>', page).group(1)  # type: ignore[union-attr]
    answer = sections(client, {**PRODUCT_PAGE, "sections": [FBT]})
    out = json.loads(_node(_FILL, json.dumps(answer), json.dumps(dataset), config))

    (request,) = out["requests"]
    assert (request["url"], request["method"]) == (SECTIONS, "POST")
    assert request["headers"] == {"Content-Type": "application/json", "x-shop": SHOP}
    body = json.loads(request["body"])
    assert body == {"page_url": "http://127.0.0.1:8000/products/classic-oxford-shirt", "page_type": "product",
                    "locale": "en", "sections": [FBT], "product_id": int(SHIRT.id)}
    assert client.post(SECTIONS, content=request["body"], headers=request["headers"]).status_code == 200

    elements = _Elements(out["html"]).elements
    section = next(a for t, a in elements if t == "section")
    assert section["id"] == "section-fbt" and section["data-glood-section"] == FBT
    assert section["data-glood-request-id"] == answer["request_id"]
    assert uuid.UUID(str(section["data-glood-serve-id"])).version == 4
    assert section["data-glood-recommendation-type"] == "bought_together"
    assert section["data-glood-page"] == "46334"
    assert (section["data-glood-parent-product-id"], section["data-glood-parent-variant-id"]) == (SHIRT.id, "")
    items = [a for t, a in elements if t == "li"]
    products = answer["sections"][0]["products"]
    assert [(i["data-glood-product-id"], i["data-glood-variant-id"]) for i in items] == [
        (str(p["product_id"]), str(p["variants"][0]["variant_id"])) for p in products]

"""The demo store's pages come from autoescaped Jinja2 templates: a hostile value (product data, a query parameter,
a stored id, a rejected form value) shows as text in every page that shows it, never as markup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from page_parser import Page
from starlette.testclient import TestClient

import demo_store.app as app_module
from demo_store.catalog import CATALOG, Catalog, Collection, Product, Variant
from demo_store.funnel import funnel_svg
from demo_store.pages import section_html
from demo_store.recommend import Parent, Section, SectionProduct
from demo_store.store_db import Serve, StoredEvent
from demo_store.templating import TEMPLATES, render

BASE = "http://127.0.0.1:8000"
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(2)>'
HOSTILE = f"{SCRIPT}{BREAKOUT}'&"
#: How the pages write HOSTILE (the standard library's html.escape, as before the templates; store.js's too).
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#x27;&amp;")


def hostile_catalog() -> Catalog:
    """The shop's catalogue plus a collection and two products whose every text field is hostile."""
    evil = Collection("999", "evil", f"Collection {HOSTILE}", f"About {HOSTILE}")
    sized = Product("777", "evil-product", f"Title {HOSTILE}", f"Description {HOSTILE}", f"red{BREAKOUT}", "evil",
                    (Variant("7771", f"Size {HOSTILE}", 1234), Variant("7772", "M", 1234)))
    single = Product("778", "evil-single", f"Single {HOSTILE}", "Plain.", "#fff", "evil",
                     (Variant("7781", "Default Title", 99),))
    return Catalog((*CATALOG.products, sized, single), (*CATALOG.collections, evil))


@pytest.fixture
def hostile(db_path: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The demo store with the hostile catalogue."""
    monkeypatch.setattr(app_module, "CATALOG", hostile_catalog())
    with TestClient(app_module.create_app(app_module.Settings(db_path=db_path)), base_url=BASE) as client:
        yield client


def assert_inert(html: str, *, shown: int = 1) -> None:
    """HOSTILE is in the page only escaped (at least `shown` times), and adds no element: no script with a body
    but the JSON tags and the sensor, no img, no onerror attribute."""
    html = str(html)
    assert SCRIPT not in html and BREAKOUT not in html and "<img" not in html
    assert html.count(ESCAPED) >= shown, html
    page = Page(html)
    assert not page.find("img") and not [a for _t, a in page.elements if "onerror" in a]
    assert not [s for s in page.inline_scripts if "alert(" in s]


def test_product_pages_escape_titles_descriptions_colours_and_variants(hostile: TestClient) -> None:
    """A sized product: title (title tag, breadcrumb, heading, image label, description heading), description,
    colour in the style attribute, variant titles in the picker, the collection's title (breadcrumb, header)."""
    html = hostile.get("/products/evil-product").text
    assert_inert(html, shown=11)
    assert f'<option value="7771">Size {ESCAPED}</option>' in html
    assert 'style="--swatch: red&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"' in html
    assert "&#x27;" in html and "&#39;" not in html and "&#34;" not in html
    assert_inert(hostile.get("/products/evil-single").text, shown=8)


def test_collection_home_and_cart_pages_escape_catalogue_text(hostile: TestClient) -> None:
    """The collection page (its title, description and product cards), the header's collection link, the home
    page's collection tiles and the cart's lines."""
    assert_inert(hostile.get("/collections/evil").text, shown=7)
    assert_inert(hostile.get("/collections/all").text, shown=3)
    assert_inert(hostile.get("/").text, shown=4)
    for variant in ("7771", "7781"):
        hostile.post("/cart/add", data={"id": variant, "quantity": "1"}, follow_redirects=False)
    cart = hostile.get("/cart").text
    assert_inert(cart, shown=4)
    assert f'<span class="muted">Size {ESCAPED}</span>' in cart


def test_headless_shell_escapes_the_route_title(hostile: TestClient) -> None:
    """The headless shell's title comes from the product, a header link from the collection; its catalogue JSON
    cannot end its script tag."""
    html = hostile.get("/headless/products/evil-product").text
    assert_inert(html, shown=2)
    assert f"<title>Title {ESCAPED} · Demo Store</title>" in html
    assert Page(html).json["headless-catalog"]["products"][-2]["title"] == f"Title {HOSTILE}"


def test_collector_page_escapes_its_query_parameters(client: TestClient) -> None:
    """The filters echo the query (name, session, client) in value attributes; a hostile destination is refused
    for the default one."""
    query = urlencode({"destination": HOSTILE, "name": HOSTILE, "session_id": HOSTILE, "client_id": HOSTILE})
    html = client.get(f"/_collector?{query}").text
    assert_inert(html, shown=3)
    assert f'<input name="name" value="{ESCAPED}" placeholder="e.g. page_viewed">' in html
    assert 'data-destination="glood"' in html


def test_error_pages_escape_rejected_values(client: TestClient) -> None:
    """A rejected form value is quoted in the error page's message; an unknown path is not shown at all."""
    response = client.post("/cart/add", data={"id": HOSTILE, "quantity": "1"})
    assert response.status_code == 422
    assert_inert(response.text, shown=0)
    assert "id: no variant &#x27;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    response = client.post("/cart/add", data={"id": CATALOG.products[0].variants[0].id, "quantity": HOSTILE})
    assert response.status_code == 422 and SCRIPT not in response.text and BREAKOUT not in response.text
    response = client.get("/products/" + quote(HOSTILE, safe=""))
    assert response.status_code == 404 and "alert(" not in response.text


def test_funnel_page_escapes_stored_ids_urls_and_section_names(client: TestClient) -> None:
    """Whatever the collectors stored (request and section ids, page URLs, sources, times) shows escaped in the
    funnel's tables and in its charts' labels (SVG from a template macro)."""
    db = client.app.state.demo.db  # type: ignore[attr-defined]
    db.record_serves([Serve(f"req{HOSTILE}", f"sec{HOSTILE}", f"type{HOSTILE}", 3, f"api{HOSTILE}",
                            f"product{HOSTILE}", f"{BASE}/headless/x?q={HOSTILE}", f"at{HOSTILE}")])
    track = {"section": f"other{HOSTILE}", "requestId": "nope"}
    db.store_events("glood", "{}", [StoredEvent("e1", "glood:section:view", None, None, f"{BASE}/headless/",
                                                {"customData": {"track": track}})])
    html = client.get("/_collector/funnel").text
    assert_inert(html, shown=8)
    assert f'<tr data-request="req{ESCAPED}">' in html and f"<code>sec{ESCAPED}</code>" in html
    assert f'<span class="url">/headless/x?q={ESCAPED}</span>' in html
    assert f'aria-label="Request req{ESCAPED}"' in html
    assert f"<title>Section sec{ESCAPED} (type{ESCAPED})</title>" in html


def test_fragments_escape_their_values_as_before() -> None:
    """A section and a chart rendered from the macros escape every value the way html.escape does (the markup
    store.js's renderSection writes)."""
    section = Section(id=HOSTILE, title=HOSTILE, recommendation_type="bought_together", serve_id=HOSTILE,
                      request_id=HOSTILE, page=HOSTILE, parent=Parent(HOSTILE, None),
                      products=(SectionProduct(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE),))
    html = section_html(section, HOSTILE)
    assert_inert(html, shown=14)
    assert 'data-glood-parent-variant-id=""' in html
    assert_inert(funnel_svg({"served": 2, "viewed": 1}, title=HOSTILE), shown=2)


def test_templates_autoescape_and_never_use_safe() -> None:
    """Autoescape is on for every template (a value without the store's own escaping is still escaped), and no
    template marks a value safe: the only markup passed in is made by the store's code."""
    sources = {path.name: path.read_text(encoding="utf-8") for path in TEMPLATES.glob("*.html")}
    assert {"layout.html", "macros.html", "product.html", "funnel.html", "headless.html"} <= set(sources)
    for name, text in sources.items():
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), name
    html = render("error.html", title=HOSTILE, message=HOSTILE, head=[], nav=[])
    assert_inert(html, shown=3)


def test_templates_are_shipped_with_the_package() -> None:
    """The templates live inside demo_store/ (the project's wheel takes them with the package)."""
    assert TEMPLATES.parent == Path(app_module.__file__).parent

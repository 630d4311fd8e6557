"""The demo store: pages with the tracker embed and sections, the sections API, the cart, static and tracker files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from page_parser import Page
from starlette.testclient import TestClient

from demo_store.app import Settings, create_app
from demo_store.assets import accepted_encodings
from demo_store.catalog import CATALOG
from demo_store.pages import json_script
from demo_store.recommend import recommend

#: The store as the tests reach it (a loopback host: others are refused).
BASE = "http://127.0.0.1:8000"
REPO = Path(__file__).resolve().parents[2]
SHIRT = CATALOG.product("classic-oxford-shirt")
assert SHIRT is not None
SECTION_ATTRS = ("data-glood-section", "data-glood-serve-id", "data-glood-request-id",
                 "data-glood-recommendation-type")


def get_page(client: TestClient, path: str, status: int = 200) -> Page:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def section_products(html: str, element_id: str) -> list[dict[str, str | None]]:
    """The product items of one section element, from its own markup."""
    match = re.search(rf'<section [^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, f"no #{element_id}"
    return Page(match.group(0)).find("li", **{"class": "glood-product"})


# -- pages ----------------------------------------------------------------------------------

PAGES = [("/", "home"), ("/collections/shirts", "collection"), ("/collections/all", "collection"),
         ("/products/classic-oxford-shirt", "product"), ("/cart", "cart")]


@pytest.mark.parametrize("path, page_type", PAGES)
def test_every_page_has_favicon_context_and_the_tracker_embed(client: TestClient, path: str, page_type: str) -> None:
    """Each storefront page carries the empty favicon, #glood-page, the config tag and the inline sensor naming the
    runtime (nothing of which is preloaded: the runtime loads after the page)."""
    page = get_page(client, path)
    assert page.one("link", rel="icon")["href"] == "data:,"
    assert page.json["glood-page"]["page_type"] == page_type
    assert page.json["glood-tracker-config"] == {
        "shop_domain": "demo-store.myshopify.com", "glood_url": "",
        "genlook_url": "/apps/proxy_genlook-x/public/tracking/events", "glood_public_token": None}
    runtime = json.loads(str(page.one("script", data_runtime=True)["data-runtime"]))
    assert set(runtime) == {"relay", "version", "rc", "gpc"}  # relay.js carries the build's other URLs
    # The sensor: the API and what a page being left keeps (its sending is relay.js's, loaded after the page).
    assert "gloodTracker" in page.inline_scripts[0] and "pagehide" in page.inline_scripts[0]
    assert not page.find("script", type="module") and not page.find("script", type="py")
    assert page.one("a", href="/_collector")
    assert not page.find("link", rel="preload") and not page.find("link", rel="modulepreload")


def test_config_tag_follows_settings_and_overrides(tmp_path: Path) -> None:
    """Settings (shop, URLs, public token) and tracker_overrides end up in the config tag."""
    settings = Settings(db_path=str(tmp_path / "d.sqlite3"), shop_domain="other.myshopify.com",
                        glood_url="http://collector.test", genlook_url="http://collector.test/g",
                        glood_public_token="pub", tracker_overrides={"debug": True, "flush_interval_ms": 500})
    with TestClient(create_app(settings), base_url=BASE) as client:
        config = get_page(client, "/").json["glood-tracker-config"]
    assert config == {"shop_domain": "other.myshopify.com", "glood_url": "http://collector.test",
                      "genlook_url": "http://collector.test/g", "glood_public_token": "pub", "debug": True,
                      "flush_interval_ms": 500}


def test_json_script_cannot_be_closed_by_its_data() -> None:
    """Data containing </script> or <!-- stays inside the JSON tag and round-trips."""
    tag = json_script("x", {"v": "</script><script>alert(1)</script><!--&"})
    assert tag.count("</script>") == 1
    assert Page(tag).json["x"] == {"v": "</script><script>alert(1)</script><!--&"}


def test_home_shows_a_trending_section(client: TestClient) -> None:
    """The home page server-renders one "Trending now" section in the contract's markup."""
    response = client.get("/")
    page = Page(response.text)
    section = page.one("section", id="section-trending")
    assert section["data-glood-recommendation-type"] == "trending"
    assert all(section.get(a) for a in SECTION_ATTRS)
    assert "data-glood-parent-product-id" not in section
    assert "Trending now" in response.text
    assert len(section_products(response.text, "section-trending")) == 4


def test_product_page_context_and_add_to_cart_form(client: TestClient) -> None:
    """The product page describes the product and has a Shopify-style add-to-cart form."""
    page = get_page(client, "/products/classic-oxford-shirt")
    context = page.json["glood-page"]
    assert context["product"] == {"id": SHIRT.id, "variant_id": SHIRT.default_variant.id,
                                  "title": "Classic Oxford Shirt", "price": "49.00", "handle": SHIRT.handle}
    assert context["collection"]["handle"] == "shirts"
    assert context["cart"]["item_count"] == 0 and uuid.UUID(context["cart"]["token"])
    assert page.find("form", action="/cart/add", method="post")
    assert [o["value"] for o in page.find("option")] == [v.id for v in SHIRT.variants]
    assert page.one("input", name="quantity", type="number")["value"] == "1"


def test_product_page_sections_server_side_late_and_below_the_fold(client: TestClient) -> None:
    """Similar products right below the product, an empty FBT slot for store.js, and a section after the tall block."""
    html = client.get("/products/classic-oxford-shirt").text
    page = Page(html)
    similar = page.one("section", id="section-similar")
    below = page.one("section", id="section-below")
    slot = page.one("div", id="fbt-slot")
    assert similar["data-glood-recommendation-type"] == "similar_products"
    assert below["data-glood-recommendation-type"] == "you_may_also_like"
    assert (slot["data-product-id"], slot["data-section-id"], slot["data-element-id"], slot["data-shop"]) == (
        SHIRT.id, "221947", "section-fbt", "demo-store.myshopify.com")
    assert re.search(r'<div id="fbt-slot"[^>]*></div>', html), "the slot is empty until store.js fills it"
    assert not page.find(id="section-fbt")
    order = [page.index(i) for i in ("section-similar", "fbt-slot", "product-description", "section-below")]
    assert order == sorted(order)
    for section in (similar, below):
        assert all(section.get(a) for a in SECTION_ATTRS)
        assert uuid.UUID(str(section["data-glood-serve-id"])).version == 4
        assert re.fullmatch(r"\d{10}-[0-9a-f-]{36}", str(section["data-glood-request-id"]))
        assert section["data-glood-parent-product-id"] == SHIRT.id
        assert section["data-glood-parent-variant-id"] == ""
        assert section["data-glood-page"]
    assert similar["data-glood-serve-id"] != below["data-glood-serve-id"]
    assert "min-height: 1600px" in (REPO / "static" / "store.css").read_text()


def test_section_products_link_and_add_to_cart(client: TestClient) -> None:
    """Each section product has ids, a link to its page and a one-click add-to-cart form for its variant."""
    html = client.get("/products/classic-oxford-shirt").text
    items = section_products(html, "section-similar")
    assert [i["data-glood-product-id"] for i in items] == [p.id for p in CATALOG.products[1:4]]
    match = re.search(r'<section [^>]*id="section-similar".*?</section>', html, re.S)
    assert match
    section = Page(match.group(0))
    assert [a["href"] for a in section.find("a")] == [p.url for p in CATALOG.products[1:4]]
    assert [i["value"] for i in section.find("input", name="id")] == [i["data-glood-variant-id"] for i in items]
    assert {i["value"] for i in section.find("input", name="quantity")} == {"1"}
    assert len(section.find("button", type="submit")) == 3
    assert all("data-glood-add-to-cart" in b for b in section.find("button"))
    assert len(section.find("form", action="/cart/add", method="post")) == 3


def test_collection_pages_list_their_products(client: TestClient) -> None:
    """A collection shows its own products; /collections/all shows every product."""
    shirts = get_page(client, "/collections/shirts")
    assert shirts.json["glood-page"]["collection"]["handle"] == "shirts"
    links = {a["href"] for a in shirts.find("a", **{"class": "card-link"})}
    assert links == {p.url for p in CATALOG.products if p.collection == "shirts"}
    every = get_page(client, "/collections/all")
    assert len(every.find("a", **{"class": "card-link"})) == len(CATALOG.products) == 12


@pytest.mark.parametrize("path", ["/collections/hats", "/products/no-such-thing", "/nowhere"])
def test_unknown_pages_are_a_store_404(client: TestClient, path: str) -> None:
    """Unknown collections, products and paths answer a 404 store page (still tracked, page_type other)."""
    page = get_page(client, path, status=404)
    assert page.json["glood-page"]["page_type"] == "other"
    assert page.one("script", data_runtime=True)


def test_collector_page_is_readable_and_untracked(client: TestClient) -> None:
    """The events page has tabs per destination, the filters from the query, the table, and no tracker."""
    page = get_page(client, "/_collector?destination=genlook&name=page_viewed")
    assert page.one("table", id="collector")["data-destination"] == "genlook"
    assert page.one("input", name="name")["value"] == "page_viewed"
    assert page.one("a", href="/_collector?destination=glood", **{"class": "tab"})
    assert page.json["glood-page"]["page_type"] == "other"
    assert not page.find("script", type="py") and "glood-tracker-config" not in page.json


# -- recommendations (the sections API: test_demo_sections.py) ------------------------------------

def test_recommendations_differ_per_section_and_skip_the_product() -> None:
    """On a product page no section recommends the product itself, and FBT comes from other collections."""
    for product in CATALOG.products:
        similar, fbt, below = recommend(CATALOG, "product", product)
        shown = [p.product_id for s in (similar, fbt, below) for p in s.products]
        assert product.id not in shown
        assert len(shown) == len(set(shown)) == 10
        assert all(CATALOG.product_by_id(p.product_id).collection != product.collection for p in fbt.products)


# -- cart -----------------------------------------------------------------------------------

def test_add_to_cart_form_redirects_and_fills_the_cart(client: TestClient) -> None:
    """POST /cart/add answers 303 to /cart, sets the cart cookie, and the cart page and context show the line."""
    variant = SHIRT.variants[1]
    response = client.post("/cart/add", data={"id": variant.id, "quantity": "2"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/cart"
    token = client.cookies["cart"]
    page = get_page(client, "/cart")
    cart = page.json["glood-page"]["cart"]
    assert cart["token"] == token
    assert (cart["item_count"], cart["total_price"]) == (2, "98.00")
    assert cart["lines"][0]["variant_id"] == variant.id and cart["lines"][0]["variant_title"] == "M"
    assert page.one("form", action="/cart/change")
    assert "Cart (2)" in client.get("/").text


def test_adding_the_same_variant_again_adds_quantity(client: TestClient) -> None:
    """Shopify merges a repeated variant into one line."""
    for _ in range(2):
        client.post("/cart/add", data={"id": SHIRT.default_variant.id, "quantity": "1"})
    lines = get_page(client, "/cart").json["glood-page"]["cart"]["lines"]
    assert [(line["variant_id"], line["quantity"]) for line in lines] == [(SHIRT.default_variant.id, 2)]


def test_change_with_quantity_zero_removes_the_line(client: TestClient) -> None:
    """POST /cart/change line=1 quantity=0 removes the first line and keeps the others."""
    other = CATALOG.product("canvas-tote")
    assert other is not None
    client.post("/cart/add", data={"id": SHIRT.default_variant.id})
    client.post("/cart/add", data={"id": other.default_variant.id})
    response = client.post("/cart/change", data={"line": "1", "quantity": "0"}, follow_redirects=False)
    assert response.status_code == 303
    lines = get_page(client, "/cart").json["glood-page"]["cart"]["lines"]
    assert [line["product_id"] for line in lines] == [other.id]


def test_add_js_answers_json(client: TestClient) -> None:
    """POST /cart/add.js with JSON adds and answers the line (Shopify's: ids as numbers); a bad variant is a 422 in
    Shopify's cart error shape."""
    response = client.post("/cart/add.js", json={"id": int(SHIRT.default_variant.id), "quantity": 3})
    assert response.status_code == 200
    assert response.json()["quantity"] == 3 and response.json()["product_id"] == int(SHIRT.id)
    bad = client.post("/cart/add.js", json={"id": "1", "quantity": 1})
    assert bad.status_code == 422 and bad.json()["status"] == 422 and bad.json()["message"] == "Cart Error"


@pytest.mark.parametrize("data", [{"id": "1"}, {"id": SHIRT.default_variant.id, "quantity": "0"},
                                  {"id": SHIRT.default_variant.id, "quantity": "lots"}])
def test_bad_cart_forms_show_an_error_page(client: TestClient, data: dict[str, str]) -> None:
    """Unknown variants and bad quantities get a 422 store page and change nothing."""
    response = client.post("/cart/add", data=data, follow_redirects=False)
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert get_page(client, "/cart").json["glood-page"]["cart"]["item_count"] == 0


def test_get_on_a_cart_action_is_a_405_page(client: TestClient) -> None:
    """GET /cart/add is a 405 store page."""
    page = get_page(client, "/cart/add", status=405)
    assert page.json["glood-page"]["page_type"] == "other"


# -- static files and the tracker -----------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A static dir and a tracker package of our own, so these tests need no vendored files."""
    static = tmp_path / "static"
    files = {"vendor/pyodide/pyodide.mjs": "export {};", "vendor/pyodide/pyodide.asm.wasm": "\0asm" + "x" * 4000,
             "vendor/pyodide/pyodide.asm.mjs": "export default 1;",
             "vendor/pyodide/package.json": '{"version": "1.2.3"}',
             "vendor/pyodide/pyodide-lock.json": "{}", "vendor/pyodide/python_stdlib.zip": "PK" + "z" * 4000,
             "vendor/other/core-C9KDLldu.js": "x", "vendor/other/core.css": "a{}",
             "tracker/sensor.js": "(() => { window.gloodTracker = {}; })();",
             "tracker/relay.js": "const BUILD = /* build: runtime */ ({});\nexport default () => {};",
             "tracker/worker.mjs": "self.onmessage = () => {};",
             "store.css": "body { color: red; }\n" * 200, "store.js": "1;"}
    for name, text in files.items():
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(text)
    tracker = tmp_path / "tracker"
    (tracker / "core").mkdir(parents=True)
    (tracker / "__init__.py").write_text('__version__ = "9.8.7"\n')
    (tracker / "core" / "__init__.py").write_text("")
    (tracker / "core" / "worker.py").write_text("import json\n")
    (tracker / "notes.txt").write_text("not python")
    return tmp_path


@pytest.fixture
def tree_client(tree: Path) -> Iterator[TestClient]:
    settings = Settings(db_path=str(tree / "d.sqlite3"), static_dir=tree / "static", tracker_dir=tree / "tracker",
                        full_stdlib=True)  # the tree's python_stdlib.zip is not a real one
    with TestClient(create_app(settings), base_url=BASE) as c:
        yield c


@pytest.mark.parametrize("path, media_type, cache", [
    ("/static/vendor/pyodide/pyodide.mjs", "text/javascript", "public, max-age=3600"),
    ("/static/vendor/pyodide/pyodide.asm.wasm", "application/wasm", "public, max-age=3600"),
    ("/static/vendor/pyodide/pyodide-lock.json", "application/json", "public, max-age=3600"),
    ("/static/vendor/pyodide/python_stdlib.zip", "application/zip", "public, max-age=3600"),
    ("/static/vendor/other/core-C9KDLldu.js", "text/javascript", "public, max-age=31536000, immutable"),
    ("/static/vendor/other/core.css", "text/css", "public, max-age=3600"),
    ("/static/store.css", "text/css", "no-cache"),
])
def test_static_files_have_types_and_caching(tree_client: TestClient, path: str, media_type: str, cache: str) -> None:
    """Static files get explicit MIME types; hashed vendor names are immutable, others cached briefly or revalidated."""
    response = tree_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["cache-control"] == cache


def test_text_is_gzipped_and_binaries_are_not(tree_client: TestClient) -> None:
    """Large CSS goes gzip-compressed; wasm and zip go as they are."""
    headers = {"Accept-Encoding": "gzip"}
    assert tree_client.get("/static/store.css", headers=headers).headers.get("content-encoding") == "gzip"
    for path in ("/static/vendor/pyodide/pyodide.asm.wasm", "/static/vendor/pyodide/python_stdlib.zip"):
        assert "content-encoding" not in tree_client.get(path, headers=headers).headers


def test_static_paths_cannot_escape_and_missing_files_are_404(tree_client: TestClient) -> None:
    """Traversal and unknown names under /static are 404s."""
    assert tree_client.get("/static/nope.js").status_code == 404
    assert tree_client.get("/static/..%2Fd.sqlite3").status_code == 404


def _wheel_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        return [n for n in archive.namelist() if ".dist-info/" not in n]


def _runtime(client: TestClient) -> dict[str, str]:
    """The runtime the worker boots from: the page's data-runtime names relay.js, which carries the build's URLs."""
    page = Page(client.get("/").text)
    embedded = dict(json.loads(str(page.one("script", data_runtime=True)["data-runtime"])))
    relay = client.get(embedded["relay"]).text
    built = json.loads(re.search(r"/\* build: runtime \*/ \((\{[^}]*\})\)", relay).group(1))  # type: ignore[union-attr]
    return {**built, **embedded}


def _wheel(client: TestClient, runtime: dict[str, str]) -> bytes:
    """The tracker's wheel, found as Pyodide finds it: through the lockfile the runtime names."""
    lock = client.get(runtime["lock"]).json()
    entry = lock["packages"]["glood-tracker"]
    assert entry["imports"] == ["tracker"] and entry["install_dir"] == "site"
    response = client.get(runtime["lock"].rsplit("/", 1)[0] + "/" + entry["file_name"])
    assert runtime["wheel"].endswith("/" + entry["file_name"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
    return response.content


def test_runtime_names_the_builds_hashed_urls(tree_client: TestClient) -> None:
    """The sensor's runtime names the build under /dist/: worker, Pyodide, lockfile and stdlib by content-hashed
    URLs, each served immutable; the lockfile names the tracker's wheel holding every shipped .py."""
    runtime = _runtime(tree_client)
    assert runtime["version"] == "9.8.7"
    assert re.fullmatch(r"/dist/pyodide/1\.2\.3-[0-9a-f]{12}/", runtime["index"])
    assert runtime["pyodide"] == runtime["index"] + "pyodide.mjs"
    for key in ("relay", "worker", "pyodide", "lock", "stdlib", "wheel"):
        response = tree_client.get(runtime[key])
        assert response.status_code == 200, key
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable", key
    assert _wheel_names(_wheel(tree_client, runtime)) == ["tracker/__init__.py", "tracker/core/__init__.py",
                                                          "tracker/core/worker.py"]
    manifest = tree_client.get("/dist/manifest.json")
    assert manifest.headers["cache-control"] == "no-cache" and manifest.json()["runtime"]["lock"] == runtime["lock"]
    assert tree_client.get("/dist/.build.lock").status_code == 404


def test_the_build_follows_source_changes(tree: Path, tree_client: TestClient) -> None:
    """Editing a tracker file rebuilds: a new wheel and lockfile URL, the wheel holding the new file."""
    old = _runtime(tree_client)["lock"]
    (tree / "tracker" / "core" / "extra.py").write_text("X = 2\n")
    runtime = _runtime(tree_client)
    assert runtime["lock"] != old
    assert "tracker/core/extra.py" in _wheel_names(_wheel(tree_client, runtime))


def test_the_sensor_is_inlined_from_static_tracker(tree: Path, tree_client: TestClient) -> None:
    """The page inlines static/tracker/sensor.js (minified when terser is installed) and follows its edits."""
    page = Page(tree_client.get("/").text)
    assert "gloodTracker" in page.inline_scripts[0]
    (tree / "static" / "tracker" / "sensor.js").write_text("(() => { window.gloodTracker = {edited: 1}; })();")
    os.utime(tree / "static" / "tracker" / "sensor.js", ns=(time.time_ns() + 10**9,) * 2)
    assert "edited" in Page(tree_client.get("/").text).inline_scripts[0]


def test_repo_wheel_holds_the_real_package(client: TestClient) -> None:
    """With default settings the wheel is the repository's tracker package, without its test doubles or build."""
    names = _wheel_names(_wheel(client, _runtime(client)))
    expected = sorted("tracker/" + p.relative_to(REPO / "tracker").as_posix() for p in (REPO / "tracker").rglob("*.py")
                      if p.relative_to(REPO / "tracker").parts[0] in ("__init__.py", "core", "browser"))
    assert names == expected and "tracker/__init__.py" in names and "tracker/testing.py" not in names


# -- versioned vendor URLs and precompressed variants ------------------------------------------

@pytest.fixture
def vendored(tree: Path) -> Path:
    """The tree of `tree`, with the vendored package.json files and .zst/.gz variants of the wasm."""
    vendor = tree / "static" / "vendor"
    (vendor / "pyodide" / "package.json").write_text(json.dumps({"name": "pyodide", "version": "314.0.7"}))
    wasm = vendor / "pyodide" / "pyodide.asm.wasm"
    (vendor / "pyodide" / "pyodide.asm.wasm.zst").write_bytes(b"ZSTD-VARIANT")
    (vendor / "pyodide" / "pyodide.asm.wasm.gz").write_bytes(b"GZIP-VARIANT")
    assert wasm.is_file()
    return tree


@pytest.fixture
def vendored_client(vendored: Path) -> Iterator[TestClient]:
    settings = Settings(db_path=str(vendored / "d.sqlite3"), static_dir=vendored / "static",
                        tracker_dir=vendored / "tracker", full_stdlib=True)
    with TestClient(create_app(settings), base_url=BASE) as c:
        yield c


def test_versioned_vendor_urls_are_immutable_and_the_embed_uses_them(vendored_client: TestClient) -> None:
    """/static/vendor/<package>@<vendored version>/ serves the same files, cached for good."""
    plain = vendored_client.get("/static/vendor/pyodide/pyodide.mjs")
    versioned = vendored_client.get("/static/vendor/pyodide@314.0.7/pyodide.mjs")
    assert versioned.status_code == 200 and versioned.content == plain.content
    assert versioned.headers["content-type"].startswith("text/javascript")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize("path", [
    "/static/vendor/pyodide@314.0.6/pyodide.mjs",      # not the vendored version
    "/static/vendor/other@314.0.7/core.js",            # another package's version
    "/static/vendor/pyodide@314.0.7/nope.js",
    "/static/vendor/pyodide@314.0.7/..%2F..%2F..%2Fd.sqlite3",
])
def test_other_versions_and_missing_files_are_404(vendored_client: TestClient, path: str) -> None:
    """A versioned URL only serves the vendored version: anything else would be cached for good."""
    assert vendored_client.get(path).status_code == 404


def test_version_changes_with_the_vendored_package_json(vendored: Path, vendored_client: TestClient) -> None:
    """Re-vendoring another version moves the URLs (and the old ones stop answering); the build follows."""
    manifest = vendored / "static" / "vendor" / "pyodide" / "package.json"
    manifest.write_text(json.dumps({"version": "315.0.0"}))
    os.utime(manifest, ns=(manifest.stat().st_mtime_ns + 10**9,) * 2)
    assert _runtime(vendored_client)["pyodide"].startswith("/dist/pyodide/315.0.0-")
    assert vendored_client.get("/static/vendor/pyodide@314.0.7/pyodide.mjs").status_code == 404
    assert vendored_client.get("/static/vendor/pyodide@315.0.0/pyodide.mjs").status_code == 200


@pytest.mark.parametrize("accept, encoding, body", [
    ("gzip, deflate, br, zstd", "zstd", b"ZSTD-VARIANT"),
    ("gzip, deflate", "gzip", b"GZIP-VARIANT"),
    ("zstd;q=0, gzip;q=0.5", "gzip", b"GZIP-VARIANT"),
    ("identity", None, None),
    ("", None, None),
])
def test_precompressed_variants_follow_accept_encoding(vendored: Path, vendored_client: TestClient, accept: str,
                                                       encoding: str | None, body: bytes | None) -> None:
    """The .zst or .gz stored next to a file is sent as is, with the original type and Vary; without
    an accepted coding the file itself goes out (the wasm is never compressed per request)."""
    wasm = vendored / "static" / "vendor" / "pyodide" / "pyodide.asm.wasm"
    for path in ("/static/vendor/pyodide/pyodide.asm.wasm", "/static/vendor/pyodide@314.0.7/pyodide.asm.wasm"):
        with vendored_client.stream("GET", path, headers={"Accept-Encoding": accept}) as response:
            raw = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/wasm"
        assert response.headers.get("content-encoding") == encoding
        assert response.headers["vary"] == "Accept-Encoding"
        assert raw == (body if body is not None else wasm.read_bytes())


def test_the_smallest_accepted_variant_goes_out(vendored: Path, vendored_client: TestClient) -> None:
    """With a .br next to the file (the build makes them), the smallest variant the request accepts is sent:
    br when it is the smallest, zstd when that is smaller, and never one the request does not accept."""
    directory = vendored / "static" / "vendor" / "pyodide"
    url = "/static/vendor/pyodide@314.0.7/pyodide.asm.wasm"

    def sent(accept: str) -> tuple[str | None, bytes]:
        with vendored_client.stream("GET", url, headers={"Accept-Encoding": accept}) as response:
            return response.headers.get("content-encoding"), b"".join(response.iter_raw())

    (directory / "pyodide.asm.wasm.br").write_bytes(b"BR")
    assert sent("gzip, deflate, br, zstd") == ("br", b"BR")
    assert sent("gzip, zstd") == ("zstd", b"ZSTD-VARIANT")
    (directory / "pyodide.asm.wasm.br").write_bytes(b"BROTLI-VARIANT-LARGER")
    assert sent("gzip, deflate, br, zstd") == ("zstd", b"ZSTD-VARIANT")
    assert sent("br") == ("br", b"BROTLI-VARIANT-LARGER")


def test_a_precompressed_variant_revalidates_with_its_own_etag(vendored_client: TestClient) -> None:
    """Each representation has its own validator; a matching If-None-Match is a 304 that keeps Vary."""
    url, zstd = "/static/vendor/pyodide@314.0.7/pyodide.asm.wasm", {"Accept-Encoding": "zstd"}
    with vendored_client.stream("GET", url, headers=zstd) as first:
        assert first.headers["content-encoding"] == "zstd"
    plain = vendored_client.get(url, headers={"Accept-Encoding": "identity"})
    assert first.headers["etag"] != plain.headers["etag"]
    again = vendored_client.get(url, headers={**zstd, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["vary"] == "Accept-Encoding"


def test_files_without_variants_are_unchanged(vendored_client: TestClient) -> None:
    """No variant on disk (python_stdlib.zip is compressed already): no Content-Encoding, no Vary."""
    response = vendored_client.get("/static/vendor/pyodide@314.0.7/python_stdlib.zip",
                                   headers={"Accept-Encoding": "gzip, zstd"})
    assert "content-encoding" not in response.headers and "vary" not in response.headers


@pytest.mark.parametrize("header, expected", [
    ("gzip, deflate, br, zstd", {"gzip", "deflate", "br", "zstd"}),
    ("gzip;q=0, zstd;q=0.1", {"zstd"}),
    ("GZIP ; q=1.0", {"gzip"}),
    ("zstd;q=bogus", set()),
    ("", set()),
])
def test_accepted_encodings(header: str, expected: set[str]) -> None:
    assert accepted_encodings(header) == expected


@pytest.mark.skipif(shutil.which("gzip") is None, reason="needs gzip")
def test_vendor_script_precompresses_and_keeps_package_json() -> None:
    """scripts/vendor.sh keeps each package's package.json and writes .gz (and .zst with zstd) variants."""
    text = (REPO / "scripts" / "vendor.sh").read_text()
    assert "pyodide/$f" in text and "package.json" in text and "gzip -9 -n" in text and "zstd -19" in text
    vendor = REPO / "static" / "vendor"
    if not (vendor / "pyodide" / "pyodide.asm.wasm").is_file():
        pytest.skip("static/vendor is not filled (run scripts/setup.sh)")
    if not (vendor / "pyodide" / "package.json").is_file():
        pytest.skip("static/vendor predates precompression (run scripts/vendor.sh)")
    wasm = (vendor / "pyodide" / "pyodide.asm.wasm").read_bytes()
    assert gzip.decompress((vendor / "pyodide" / "pyodide.asm.wasm.gz").read_bytes()) == wasm
    assert not (vendor / "pyodide" / "python_stdlib.zip.gz").exists()



"""The demo store's defences: same-origin state changes (CSRF), JSON-only .js endpoints, the Host allow-list
(DNS rebinding) and the security headers, the CSP hashing each page's inline scripts among them."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.__main__ import parse_args
from demo_store.app import Settings, create_app
from demo_store.catalog import CATALOG
from demo_store.security import collector_origins, content_security_policy, host_allowed, inline_scripts

BASE = "http://127.0.0.1:8000"
SELF = "http://127.0.0.1:8000"
SAME_SITE = "http://127.0.0.1:9999"  # another origin on the same site: cookies (SameSite=Lax) still go along
CROSS_SITE = "http://evil.example"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
INIT = "/api/storefront/v3/headless/init"
SHIRT = CATALOG.product("classic-oxford-shirt")
assert SHIRT is not None
VARIANT = SHIRT.default_variant.id


def item_count(client: TestClient) -> int:
    page = client.get("/cart").text
    match = re.search(r'"item_count":(\d+)', page)
    assert match
    return int(match.group(1))


def browser(site: str, origin: str | None) -> dict[str, str]:
    """The headers a browser adds to a POST started by a page of `origin`."""
    return {"Sec-Fetch-Site": site, **({"Origin": origin} if origin is not None else {})}


def assert_forbidden(response: Any) -> None:
    assert response.status_code == 403, response.text
    answer = response.json()
    assert set(answer) == {"error", "message"} and answer["error"] == 403
    assert "cross-origin request refused" in answer["message"]


# -- CSRF ---------------------------------------------------------------------------------------

ATTACKS = [
    ("same-site-form", browser("same-site", SAME_SITE)),
    ("cross-site-form", browser("cross-site", CROSS_SITE)),
    ("sandboxed-null-origin", browser("cross-site", "null")),
    ("origin-only", {"Origin": CROSS_SITE}),
    ("fetch-site-only", {"Sec-Fetch-Site": "same-site"}),
    ("same-site-liar-origin", browser("same-site", SELF)),
    ("other-scheme", browser("same-origin", "https://127.0.0.1:8000")),
    ("other-port", browser("same-origin", "http://127.0.0.1:8001")),
]


@pytest.mark.parametrize("headers", [h for _, h in ATTACKS], ids=[i for i, _ in ATTACKS])
def test_cart_changes_from_other_origins_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    """Form posts to /cart/add and /cart/change and a no-cors fetch to /cart/add.js from another origin (even
    on the same site) are a 403 in the Error shape; the cart and its cookie stay as they were."""
    client.post("/cart/add", data={"id": VARIANT, "quantity": "2"})
    token = client.cookies["cart"]
    attempts = [
        client.post("/cart/add", data={"id": VARIANT, "quantity": "99"}, headers=headers, follow_redirects=False),
        client.post("/cart/add.js", content=f'{{"id": {VARIANT}, "quantity": 5}}',
                    headers={**headers, "content-type": "text/plain"}),
        client.post("/cart/add.js", json={"id": VARIANT, "quantity": 5}, headers=headers),
        client.post("/cart/change", data={"line": "1", "quantity": "0"}, headers=headers, follow_redirects=False),
    ]
    for response in attempts:
        assert_forbidden(response)
        assert "set-cookie" not in response.headers
    assert item_count(client) == 2 and client.cookies["cart"] == token


def test_a_cross_site_post_cannot_plant_a_cart_cookie(client: TestClient) -> None:
    """Without a cart yet, a refused cross-site add sets no cookie (it used to replace the victim's cart)."""
    response = client.post("/cart/add", data={"id": VARIANT}, headers=browser("cross-site", CROSS_SITE),
                           follow_redirects=False)
    assert_forbidden(response)
    assert "cart" not in client.cookies


@pytest.mark.parametrize("headers", [
    {}, browser("same-origin", SELF), browser("none", None), browser("same-origin", None), {"Origin": SELF},
    {"Origin": "HTTP://127.0.0.1:8000"}])
def test_same_origin_and_header_less_requests_change_the_cart(client: TestClient, headers: dict[str, str]) -> None:
    """The store's own pages, a URL typed by the user and clients without those headers (curl, tests) pass."""
    response = client.post("/cart/add", data={"id": VARIANT}, headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert client.post("/cart/add.js", json={"id": VARIANT, "quantity": 1}, headers=headers).status_code == 200
    assert item_count(client) == 2


def test_default_ports_compare_equal(tmp_path: Path) -> None:
    """`Origin: http://localhost` is the origin of `Host: localhost` and of `Host: localhost:80`."""
    with TestClient(create_app(Settings(db_path=str(tmp_path / "d.sqlite3"))), base_url="http://localhost") as c:
        assert c.post("/cart/add", data={"id": VARIANT}, headers=browser("same-origin", "http://localhost"),
                      follow_redirects=False).status_code == 303
        assert c.post("/cart/add", data={"id": VARIANT}, follow_redirects=False,
                      headers={**browser("same-origin", "http://localhost"), "Host": "localhost:80"}).status_code == 303


@pytest.mark.parametrize("kind", ["text/plain", ""])
def test_add_js_takes_only_json_and_forms(client: TestClient, kind: str) -> None:
    """/cart/add.js takes JSON, urlencoded and multipart bodies (as Shopify does; a cross-site form is refused by its
    origin): any other type is a 415 in Shopify's cart error shape."""
    response = client.post("/cart/add.js", content=f'{{"id": {VARIANT}, "quantity": 1}}',
                           headers={"content-type": kind})
    assert response.status_code == 415 and response.json()["status"] == 415
    assert item_count(client) == 0


@pytest.mark.parametrize("path, body", [
    ("/_collector/faults", '{"destination": "glood", "fail_next": 5}'),
    ("/_collector/reset", ""),
])
def test_collector_controls_refuse_other_origins(client: TestClient, path: str, body: str) -> None:
    """Arming faults and resetting need a same-origin request (or none of the browser headers, like urllib)."""
    client.post(GLOOD, json={"event": {"id": "kept", "name": "page_viewed"}, "session_id": "s",
                             "shop_domain": "demo-store.myshopify.com"})
    for headers in (browser("cross-site", CROSS_SITE), browser("same-site", SAME_SITE)):
        assert_forbidden(client.post(path, content=body, headers={**headers, "content-type": "text/plain"}))
    assert client.get("/_collector/faults").json() == {"faults": []}
    assert len(client.get("/_collector/events.json").json()) == 1
    ok = client.post(path, content=body, headers={**browser("same-origin", SELF), "content-type": "application/json"})
    assert ok.status_code == 200 and ok.json()["ok"] is True


def test_faults_take_only_json(client: TestClient) -> None:
    """A `<form enctype="text/plain">` can write JSON-looking bodies: /_collector/faults wants application/json."""
    response = client.post("/_collector/faults", content='{"destination": "glood", "fail_next": 5}',
                           headers={"content-type": "text/plain"})
    assert response.status_code == 415 and client.get("/_collector/faults").json() == {"faults": []}


@pytest.mark.parametrize("path, body, headers", [
    (GLOOD, {"event": {"id": "x", "name": "page_viewed"}, "session_id": "s", "shop_domain": "s.myshopify.com"}, {}),
    (GENLOOK, {"events": [{"event": "a:b", "timestamp": "2026-04-16T10:29:58Z", "$insert_id": "g"}], "context": {}},
     {}),
    (INIT, {"page_type": "home"}, {"x-shop": "demo-store.myshopify.com"}),
])
def test_collectors_still_take_cross_origin_requests(client: TestClient, path: str, body: dict[str, Any],
                                                     headers: dict[str, str]) -> None:
    """Ingestion is cross-origin by design: a cross-site text/plain beacon (or, for init, which needs x-shop, a
    cross-site fetch) is accepted with the CORS echo."""
    response = client.post(path, content=json.dumps(body), headers={
        **browser("cross-site", CROSS_SITE), "content-type": "text/plain;charset=UTF-8", **headers})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == CROSS_SITE
    assert response.headers["access-control-allow-credentials"] == "true"


# -- Host allow-list ------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.",
                                  "127.0.0.2", "[::2]:8000", "local host", "a@127.0.0.1", "127.0.0.1:8000:1"])
def test_unknown_hosts_are_refused_in_the_error_shape(client: TestClient, host: str) -> None:
    """A rebound DNS name cannot read the explorer or the pages: 400 {error, message}, nosniff."""
    for path in ("/_collector/events.json", "/_collector/stats.json", "/", "/static/store.css"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"] == 400 and "--allowed-host" in response.json()["message"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_refused_host_on_a_collector_is_counted_with_cors(client: TestClient) -> None:
    """On an ingestion endpoint the Host refusal is a collector answer like any other: CORS, counted."""
    response = client.post(GENLOOK, json={}, headers={"Host": "evil.example", "Origin": CROSS_SITE})
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == CROSS_SITE
    assert response.headers["access-control-expose-headers"] == "Retry-After"
    assert client.get("/_collector/stats.json").json()["genlook"]["rejected_by_status"] == {"400": 1}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:1234", "[::1]",
                                  "[::1]:8000"])
def test_loopback_hosts_are_served_on_any_port(client: TestClient, host: str) -> None:
    """127.0.0.1, localhost and [::1] need no configuration, on whatever port."""
    assert client.get("/_collector/stats.json", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("allowed, host, served", [
    (("shop.test",), "shop.test", True),
    (("shop.test",), "SHOP.test:8443", True),
    (("shop.test:8443",), "shop.test:8443", True),
    (("shop.test:8443",), "shop.test", False),
    (("shop.test:8443",), "shop.test:80", False),
    (("shop.test",), "other.test", False),
    (("*",), "anything.example:1", True),
    ((), None, True),
])
def test_allowed_hosts_from_settings(allowed: tuple[str, ...], host: str | None, served: bool) -> None:
    """Settings.allowed_hosts adds names (any port, or the one given); "*" allows all; no Host is HTTP/1.0."""
    assert host_allowed(host, allowed) is served


def test_allowed_hosts_reach_the_app(tmp_path: Path) -> None:
    """An allowed name is served by the app; other names still are not."""
    settings = Settings(db_path=str(tmp_path / "d.sqlite3"), allowed_hosts=("shop.test",))
    with TestClient(create_app(settings), base_url="http://shop.test:8000") as c:
        assert c.get("/_collector/stats.json").status_code == 200
        assert c.get("/_collector/stats.json", headers={"Host": "evil.example"}).status_code == 400


def test_allowed_host_cli_option_is_repeatable() -> None:
    """`--allowed-host` may be given several times; by default only loopback names are served."""
    assert parse_args([]).allowed_host == []
    assert parse_args(["--allowed-host", "shop.test", "--allowed-host", "lan.test:8000"]).allowed_host == [
        "shop.test", "lan.test:8000"]


# -- security headers and the CSP -------------------------------------------------------------------

def expected_hashes(html: str) -> list[str]:
    """Hashes of the executable inline scripts, found independently of the store's own parser."""
    hashes = []
    for attrs, text in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        kind = re.search(r'\btype="([^"]*)"', attrs)
        if re.search(r"\bsrc\b", attrs) or (kind and kind.group(1).strip().lower() not in (
                "", "module", "text/javascript")):
            continue
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return hashes


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as {directive: [sources]}."""
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


@pytest.mark.parametrize("path", ["/", "/products/classic-oxford-shirt", "/collections/all", "/cart", "/_collector",
                                  "/nowhere"])
def test_every_inline_script_of_a_page_is_hashed_in_its_csp(client: TestClient, path: str) -> None:
    """Render a page: each inline executable script's sha256 is in script-src; JSON data blocks need none."""
    response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    policy = directives(response.headers["content-security-policy"])
    hashes = expected_hashes(response.text)
    if path != "/_collector":
        assert hashes, "the tracker's inline sensor/stub should be on every tracked page"
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'", *hashes]
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_csp_directives(client: TestClient) -> None:
    """The whole policy: own origin, wasm, workers from here or blob:, no plugins, no framing by others."""
    policy = directives(client.get("/").headers["content-security-policy"])
    assert {k: v for k, v in policy.items() if k != "script-src"} == {
        "default-src": ["'self'"], "worker-src": ["'self'", "blob:"], "connect-src": ["'self'"],
        "img-src": ["'self'", "data:"], "style-src": ["'self'", "'unsafe-inline'"], "object-src": ["'none'"],
        "base-uri": ["'self'"], "frame-ancestors": ["'self'"], "form-action": ["'self'"]}


def test_csp_connect_src_names_the_collectors(tmp_path: Path) -> None:
    """Collectors on other origins (e.g. localhost while the page is on 127.0.0.1) are allowed to connect."""
    settings = Settings(db_path=str(tmp_path / "d.sqlite3"), glood_url="http://localhost:8123",
                        genlook_url="https://Collect.Example/apps/g?x=1")
    with TestClient(create_app(settings), base_url=BASE) as c:
        policy = directives(c.get("/").headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'", "http://localhost:8123", "https://collect.example"]


@pytest.mark.parametrize("overrides, origins", [
    ({}, []),
    ({"glood_url": "http://[::1]:9000/api", "genlook_url": "http://[::1]:9000/g"}, ["http://[::1]:9000"]),
    ({"glood_url": "javascript:alert(1)", "genlook_url": "http://a.test; script-src *"}, []),
    ({"glood_url": 7, "genlook_url": None}, []),
])
def test_collector_origins(overrides: dict[str, Any], origins: list[str]) -> None:
    """Only absolute http(s) URLs add an origin; anything odd adds nothing (never text into the policy)."""
    assert collector_origins(Settings(tracker_overrides=overrides)) == origins


def test_inline_scripts_follow_the_browser_rules() -> None:
    """Classic and module scripts without src count (any case of type, CRLF read as LF); data blocks, py,
    and scripts with src do not."""
    html = ('<script>a()</script><SCRIPT TYPE=" Module ">b()</SCRIPT><script type="text/javascript">c()\r\n'
            '</script><script type="application/json">{"d":1}</script><script type="py">e()</script>'
            '<script src="/x.js">f()</script><script src="">g()</script><script type="text/plain">h()</script>'
            '<!-- <script>i()</script> --><script data-x="</script>">j()</script>')
    assert inline_scripts(html) == ["a()", "b()", "c()\n", "j()"]
    policy = content_security_policy(html, Settings())
    for text in ("a()", "b()", "c()\n", "j()"):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


@pytest.mark.parametrize("path", ["/_collector/stats.json", "/static/store.css", "/nowhere", "/_collector/reset"])
def test_nosniff_on_every_response(client: TestClient, path: str) -> None:
    """JSON, static files, error pages and refusals all carry X-Content-Type-Options: nosniff."""
    assert client.get(path).headers["x-content-type-options"] == "nosniff"


def test_json_answers_carry_no_csp(client: TestClient) -> None:
    """The CSP is for documents; API answers do not need one."""
    assert "content-security-policy" not in client.get("/_collector/stats.json").headers

"""Cart changes as the sensor sees them (docs/design.md §6, "Cart changes"): fetch and XMLHttpRequest calls to
Shopify's AJAX Cart API are recorded with their raw body and answer (`ajax` facts), transparently (the page gets
the very promise, Response and error the browser gave, its body unread); a submit or click in a section's product
marks the calls it starts; a cart form post nobody intercepted is kept for the next page, which records it
(`post`)."""

from __future__ import annotations

import json
from typing import Any

from .lab import ORIGIN, PREFIX, SensorLab, page_context, section

ADDED = {"id": 111, "variant_id": 111, "product_id": 11, "quantity": 2, "price": 4900}
CART = {"token": "t", "item_count": 2, "items": [ADDED]}
#: Scripts run before the sensor: the browser's fetch, and every promise it returned (the sensor wraps this).
NATIVE = """<script>
    window.__native = [];
    const browserFetch = window.fetch;
    window.fetch = function (...args) {
        const promise = browserFetch.apply(this, args);
        window.__native.push(promise);
        return promise;
    };
</script>"""


def serve_cart(lab: SensorLab) -> None:
    """The cart API's answers on the lab's origin (any method), with and without a locale prefix."""
    for path in ("/cart/add.js", "/fr/cart/add.js", "/cart/add"):
        lab.serve(path, json.dumps(ADDED), "application/json")
    for path in ("/cart/change.js", "/cart/update.js", "/cart/clear.js", "/cart.js", "/api/other"):
        lab.serve(path, json.dumps(CART), "application/json")


def ajax(lab: SensorLab, count: int) -> list[dict[str, Any]]:
    """Wait for `count` ajax facts; all of them."""
    lab.page.wait_for_function("(n) => window.__sensor.facts.filter(f => f.k == 'ajax').length >= n", arg=count)
    return lab.facts("ajax")


def test_fetch_gets_the_very_promise_and_an_unread_response(lab: SensorLab) -> None:
    """The page's fetch to /cart/add.js returns the very promise the browser's fetch gave; its Response's body is
    unread and the page reads it; the fact has the URL, the text body, the status and the answer's text."""
    serve_cart(lab)
    lab.open(before=NATIVE)
    same, used, answer = lab.page.evaluate("""async () => {
        const promise = fetch('/cart/add.js', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({id: 111, quantity: 2})});
        const response = await promise;
        const used = response.bodyUsed;
        return [promise === window.__native.at(-1), used, await response.json()];
    }""")
    assert (same, used, answer) == (True, False, ADDED)
    (fact,) = ajax(lab, 1)
    assert (fact["u"], fact["b"], fact["st"], json.loads(fact["r"]), fact["i"], fact["p"]) \
        == ("/cart/add.js", '{"id":111,"quantity":2}', 200, ADDED, 0, None)


def test_a_failed_fetch_rejects_with_the_same_error_and_is_recorded_unanswered(lab: SensorLab) -> None:
    """A cart call the network refuses: the page's catch gets the browser's own error object; the fact says no
    answer (status 0, no text). A refused answer (422) is recorded with its status and text."""
    lab.open(before=NATIVE)
    lab.page.route("**/cart/add.js", lambda route: route.abort())
    refusal = json.dumps({"status": 422, "message": "Cart Error", "description": "No"})
    lab.page.route("**/cart/change.js",
                   lambda route: route.fulfill(status=422, content_type="application/json", body=refusal))
    same, name = lab.page.evaluate("""async () => {
        try { await fetch('/cart/add.js', {method: 'POST', body: 'id=1'}) } catch (error) {
            let native; try { await window.__native.at(-1) } catch (raw) { native = raw }
            return [error === native, error.name];
        }
        return [false, 'resolved'];
    }""")
    assert (same, name) == (True, "TypeError")
    lab.page.evaluate("fetch('/cart/change.js', {method: 'POST', body: 'line=1&quantity=0'}).then(r => r.text())")
    facts = ajax(lab, 2)
    assert [(f["u"], f["b"], f["st"], f["r"]) for f in facts][0] == ("/cart/add.js", "id=1", 0, None)
    assert (facts[1]["st"], json.loads(facts[1]["r"])["message"]) == (422, "Cart Error")
    assert len(lab.take_errors()) == 2  # the browser's own "Failed to load resource" for each


def test_fetch_bodies_formdata_urlencoded_json_and_locale_paths(lab: SensorLab) -> None:
    """FormData (its entries), URLSearchParams (its pairs), text; a Request as the target; a locale prefix and
    every action (add, change, update, clear) are recorded, in the order answered."""
    serve_cart(lab)
    lab.open()
    lab.page.evaluate("""async () => {
        const form = new FormData(); form.append('id', '111'); form.append('quantity', '2');
        await (await fetch('/cart/add', {method: 'POST', body: form, headers: {Accept: 'application/json'}})).text();
        await fetch(new Request('/fr/cart/add.js'), {method: 'POST', body: new URLSearchParams({id: '111'})});
        await fetch(new URL('/cart/update.js', location.href), {method: 'POST', body: '{"updates":{"111":3}}'});
        await fetch('/cart/change.js?x=1', {method: 'POST', body: '{"line":1,"quantity":0}'});
        await fetch('/cart/clear.js', {method: 'POST'});
    }""")
    facts = ajax(lab, 5)
    assert [(f["u"].replace(ORIGIN, ""), f["b"], f["st"]) for f in facts] == [
        ("/cart/add", [["id", "111"], ["quantity", "2"]], 200),
        ("/fr/cart/add.js", [["id", "111"]], 200),
        ("/cart/update.js", '{"updates":{"111":3}}', 200),
        ("/cart/change.js?x=1", '{"line":1,"quantity":0}', 200),
        ("/cart/clear.js", None, 200),
    ]


def test_other_paths_are_not_recorded(lab: SensorLab) -> None:
    """GET /cart.js, an API path and a path that only starts like a cart action: no fact (the cart call after them
    shows they were handled)."""
    serve_cart(lab)
    lab.serve("/cart/addresses", "{}", "application/json")
    lab.open()
    lab.page.evaluate("""async () => {
        for (const url of ['/cart.js', '/api/other', '/cart/addresses']) await (await fetch(url)).text();
        await fetch('/cart/clear.js', {method: 'POST'});
    }""")
    facts = ajax(lab, 1)
    assert [f["u"] for f in facts] == ["/cart/clear.js"]


def test_xhr_bodies_and_response_types(lab: SensorLab) -> None:
    """XMLHttpRequest: urlencoded text with the default response type, FormData with "json" (its value as JSON
    text), JSON with "text"; an object used again once its request ended gives one fact a request (the sensor
    reads the answer at load, before loadend, where the page here starts the next); the page's handlers see the
    answer as usual."""
    serve_cart(lab)
    lab.open()
    seen = lab.page.evaluate("""async () => {
        const send = (xhr, method, url, body, type) => new Promise(resolve => {
            xhr.open(method, url);
            if (type) xhr.responseType = type;
            xhr.onloadend = () => resolve(type == 'json' ? xhr.response.id : JSON.parse(xhr.responseText).id);
            xhr.send(body);
        });
        const form = new FormData(); form.append('id', '111');
        const again = new XMLHttpRequest();
        return [await send(new XMLHttpRequest(), 'POST', '/cart/add.js', 'id=111&quantity=2'),
                await send(again, 'POST', '/fr/cart/add.js', form, 'json'),
                await send(again, 'POST', '/cart/change.js', '{"line":1,"quantity":3}', 'text')];
    }""")
    assert seen == [111, 111, None]
    facts = ajax(lab, 3)  # (a listener left from the object's first request would have added one at the same time)
    assert [(f["u"].replace(ORIGIN, ""), f["b"], f["st"]) for f in facts] == [
        ("/cart/add.js", "id=111&quantity=2", 200),
        ("/fr/cart/add.js", [["id", "111"]], 200),
        ("/cart/change.js", '{"line":1,"quantity":3}', 200),
    ]
    assert [json.loads(f["r"]) for f in facts] == [ADDED, ADDED, CART]


THEME = """<script>
    // A theme: the add-to-cart form is sent by fetch (its submit prevented); a quick-add button fetches on click.
    document.addEventListener('submit', event => {
        const form = event.target;
        if (form.getAttribute('id') == 'plain-post') return;
        event.preventDefault();
        fetch('/cart/add.js', {method: 'POST', body: new FormData(form)}).then(r => r.json());
    });
    document.addEventListener('click', event => {
        if (event.target.id == 'quick') fetch('/cart/add.js', {method: 'POST', body: 'id=v2'}).then(r => r.json());
    });
</script>"""


def test_an_intercepted_submit_in_a_section_marks_its_fetch_and_leaves_no_post(lab: SensorLab) -> None:
    """A section product's add-to-cart submit that the theme intercepts and sends by fetch: one ajax fact with the
    section and product; a quick-add button's fetch likewise; a fetch later, from no action, has none; nothing is
    kept for a next page."""
    serve_cart(lab)
    lab.open(THEME + section("s1", "serve-1", [("p1", "v1"), ("p2", "v2")])
             + '<button id="quick" type="button">Quick</button>')
    lab.page.click("#buy-p1")
    ajax(lab, 1)
    lab.page.evaluate("""() => {
        const li = document.querySelector('[data-glood-product-id=p2]');
        const button = document.getElementById('quick'); li.append(button); button.click();
    }""")
    ajax(lab, 2)
    lab.page.evaluate("fetch('/cart/clear.js', {method: 'POST'})")
    facts = ajax(lab, 3)
    key = lab.facts("sec")[0]["i"]
    assert [(f["i"], f["p"], f["b"]) for f in facts] == [
        (key, ["p1", "v1"], [["id", "v1"], ["quantity", "2"]]),
        (key, ["p2", "v2"], "id=v2"),
        (0, None, None),
    ]
    assert [(f["i"], f["p"]) for f in lab.facts("click")] == [(key, ["p2", "v2"])]  # the quick-add, not the form
    assert lab.page.evaluate(f"sessionStorage.getItem('{PREFIX}post')") is None


def test_a_plain_form_post_is_recorded_by_the_next_page(lab: SensorLab) -> None:
    """A cart form post nobody intercepts: the page leaves with it and the next page (the store's answer) records a
    `post` fact with the action, the entries, the section's attributes, the product and the posting page's context
    (at its own start: the answer is in); the page after that does not record it again."""
    context = page_context({"page_type": "product", "cart": {"lines": []}})
    lab.serve("/cart/add", lab.build(page_context({"page_type": "cart", "cart": {"lines": [ADDED]}})))
    lab.serve("/next.html", lab.build())
    lab.open(THEME + context + section("s1", "serve-1", [("p1", "v1")]).replace('id="add-p1"', 'id="plain-post"'))
    before = lab.page.evaluate("Date.now()")
    with lab.page.expect_navigation():
        lab.page.click("#buy-p1")
    lab.page.wait_for_function("() => window.__sensor !== undefined")
    (post,) = lab.facts("post")
    assert post["u"] == "/cart/add" and post["b"] == [["id", "v1"], ["quantity", "2"]]
    assert post["a"]["gloodSection"] == "s1" and post["a"]["gloodServeId"] == "serve-1"
    assert post["p"] == ["p1", "v1"] and json.loads(post["pd"])["page_type"] == "product"
    assert before <= post["t"] <= lab.page.evaluate("Date.now()")
    assert lab.facts("ajax") == []
    lab.page.goto(lab.page.url.replace("/cart/add", "/next.html"))
    lab.page.wait_for_function("() => window.__sensor !== undefined")
    assert lab.facts("post") == []


def test_no_post_is_kept_without_consent(lab: SensorLab) -> None:
    """Consent required and not given: the plain post leaves nothing in sessionStorage."""
    lab.serve("/cart/add", lab.build())
    lab.open(THEME + section("s1", "serve-1", [("p1", "v1")]).replace('id="add-p1"', 'id="plain-post"'),
             runtime={"rc": True})
    with lab.page.expect_navigation():
        lab.page.click("#buy-p1")
    lab.page.wait_for_function("() => window.__sensor !== undefined")
    assert lab.facts("post") == []

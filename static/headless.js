// The headless demo storefront (/headless/): a single-page app in plain JavaScript (docs/design.md §7).
// Routes with the History API (links inside the app are intercepted; back/forward via popstate), asks Glood's
// headless sections endpoint for each route's recommendations and renders them in the widget markup of
// docs/design.md §1 (static/store.js's renderSection), keeps the tracker's page context (#glood-page) up to
// date, and adds to / removes from the cart with fetch. Glood's init is the tracker's business, not the app's.
(function () {
  "use strict";

  const BASE = "/headless/";
  const SECTIONS_URL = "/api/storefront/v3/headless/sections";
  const TRENDING = "221901";
  // The sections each page type asks for: null = the page type's own (the stand-in knows them), else by id.
  const ROUTE_SECTIONS = {home: null, product: null, collection: [TRENDING], cart: [TRENDING]};
  // Element ids of the sections (as in the classic store) and where each goes on its page.
  const ELEMENT_IDS = {trending: "section-trending", similar_products: "section-similar",
    bought_together: "section-fbt", you_may_also_like: "section-below"};
  const SLOTS = {you_may_also_like: "bottom"};
  const STORE_NAME = "Demo Store";

  const app = document.getElementById("app");
  const catalog = JSON.parse(document.getElementById("headless-catalog").textContent);
  const products = new Map(catalog.products.map((p) => [p.handle, p]));
  const collections = new Map(catalog.collections.map((c) => [c.handle, c]));
  const demo = () => window.demoStore; // static/store.js (loaded before this file)
  const esc = (value) => demo().esc(value);
  const money = (price) => "$" + price;

  let cart = readPageContext().cart || {lines: [], item_count: 0, total_price: "0.00"};
  let navigation = 0; // the number of the latest route change: answers for older routes are dropped
  let shown = null; // the URL (without hash) on screen
  let cleared = null; // the URL (without hash) whose page is being drawn after a back/forward

  function readPageContext() {
    try {
      return JSON.parse(document.getElementById("glood-page").textContent) || {};
    } catch (_err) {
      return {};
    }
  }

  // -- routes ---------------------------------------------------------------------------------------------

  const isAppPath = (path) => path === "/headless" || path.startsWith(BASE);

  /** The route of a URL under /headless/: {type, title, product?, collection?}. */
  function routeOf(url) {
    let rest = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : "";
    try {
      rest = decodeURIComponent(rest);
    } catch (_err) {
      return {type: "other", title: "Page not found"};
    }
    const parts = rest.split("/");
    if (rest === "") return {type: "home", title: "Home"};
    if (rest === "cart") return {type: "cart", title: "Your cart"};
    if (parts.length === 2 && parts[0] === "products" && products.has(parts[1])) {
      const product = products.get(parts[1]);
      return {type: "product", title: product.title, product, collection: collections.get(product.collection)};
    }
    if (parts.length === 2 && parts[0] === "collections" && collections.has(parts[1])) {
      const collection = collections.get(parts[1]);
      return {type: "collection", title: collection.title, collection};
    }
    return {type: "other", title: "Page not found"};
  }

  const collectionJSON = (c) => ({id: c.id, handle: c.handle, title: c.title});

  /** The route's page context, in the shape of docs/design.md §2 (the same as the classic store's pages). */
  function pageContext(route) {
    const context = {page_type: route.type};
    if (route.type === "product") {
      const p = route.product;
      context.product = {id: p.id, variant_id: p.variants[0].id, title: p.title, price: p.price, handle: p.handle};
      context.collection = collectionJSON(route.collection);
    } else if (route.type === "collection") {
      context.collection = collectionJSON(route.collection);
    }
    context.cart = cart;
    return context;
  }

  /** Replace the text of #glood-page (the tracker reads it) when the context changed. */
  function setPageContext(context) {
    const tag = document.getElementById("glood-page");
    const text = JSON.stringify(context);
    let same = false;
    try {
      same = JSON.stringify(JSON.parse(tag.textContent)) === text;
    } catch (_err) {}
    if (!same) tag.textContent = text;
  }

  // -- pages ----------------------------------------------------------------------------------------------

  const link = (path) => BASE + path;
  const productURL = (p) => link("products/" + encodeURIComponent(p.handle));
  const collectionURL = (c) => link("collections/" + encodeURIComponent(c.handle));

  function cardLink(url, title, price, color) {
    return `<a class="card-link" href="${esc(url)}"><span class="swatch" style="--swatch: ${esc(color)}"></span>` +
      `<span class="card-title">${esc(title)}</span><span class="card-price">${esc(price)}</span></a>`;
  }

  const slot = (name) => `<div class="section-slot" data-headless-slot="${name}"></div>`;

  function homePage() {
    const tiles = catalog.navigation.map((handle) => collections.get(handle)).map((c) =>
      `<li><a class="tile" href="${esc(collectionURL(c))}"><span class="tile-title">${esc(c.title)}</span>` +
      `<span class="muted">${esc(c.description)}</span></a></li>`).join("");
    return '<section class="hero"><h1>Well-made basics, built to last</h1>' +
      "<p>Shirts, outerwear and accessories in honest materials. This is the headless storefront: one page, " +
      "routed in the browser.</p>" +
      `<a class="button" href="${esc(link("collections/all"))}">Shop all products</a></section>` +
      slot("top") +
      `<section class="collections"><h2>Shop by collection</h2><ul class="tiles">${tiles}</ul></section>`;
  }

  function productPage(route) {
    const p = route.product;
    const c = route.collection;
    const picker = p.variants.length === 1
      ? `<input type="hidden" name="id" value="${esc(p.variants[0].id)}">`
      : '<label class="field">Size <select name="id">' +
        p.variants.map((v) => `<option value="${esc(v.id)}">${esc(v.title)}</option>`).join("") + "</select></label>";
    return `<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="${esc(BASE)}">Home</a> / ` +
      `<a href="${esc(collectionURL(c))}">${esc(c.title)}</a> / <span>${esc(p.title)}</span></nav>` +
      `<article class="product" data-glood-product-id="${esc(p.id)}" data-glood-variant-id="${esc(p.variants[0].id)}">` +
      `<div class="product-media swatch" style="--swatch: ${esc(p.color)}" role="img" aria-label="${esc(p.title)}"></div>` +
      `<div class="product-info"><h1>${esc(p.title)}</h1><p class="price">${esc(money(p.price))}</p>` +
      `<p class="lede">${esc(p.description)}</p>` +
      `<form action="/cart/add" method="post" class="add-form">${picker}` +
      '<label class="field">Quantity <input type="number" name="quantity" value="1" min="1" max="99"></label>' +
      '<button type="submit" class="button">Add to cart</button></form>' +
      '<p class="muted" data-headless-message role="status"></p></div></article>' +
      slot("top") +
      `<section class="product-description" id="product-description"><h2>About the ${esc(p.title)}</h2>` +
      `<p>${esc(p.description)}</p><h3>Materials and care</h3><p>Made in small batches by a family workshop. ` +
      "Wash cold, inside out, with similar colours; dry flat or line dry.</p></section>" +
      slot("bottom");
  }

  function collectionPage(route) {
    const c = route.collection;
    const cards = catalog.products.filter((p) => c.handle === "all" || p.collection === c.handle).map((p) =>
      `<li class="card">${cardLink(productURL(p), p.title, money(p.price), p.color)}</li>`).join("");
    return `<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="${esc(BASE)}">Home</a> / ` +
      `<span>${esc(c.title)}</span></nav><h1>${esc(c.title)}</h1><p class="lede">${esc(c.description)}</p>` +
      slot("top") + `<ul class="product-grid">${cards}</ul>`;
  }

  function cartContents() {
    if (!cart.lines.length) {
      return '<p class="lede">Your cart is empty.</p>' +
        `<p><a class="button" href="${esc(link("collections/all"))}">Continue shopping</a></p>`;
    }
    const rows = cart.lines.map((line, index) => {
      const product = products.get(line.handle);
      const variant = line.variant_title === "Default Title" ? "" : `<span class="muted">${esc(line.variant_title)}</span>`;
      const title = product ? `<a href="${esc(productURL(product))}">${esc(line.title)}</a>` : esc(line.title);
      return `<tr data-line="${index + 1}"><td><div class="line-product"><span class="swatch swatch-small"` +
        ` style="--swatch: ${esc(product ? product.color : "#ccc")}"></span><span>${title}${variant}</span></div></td>` +
        `<td>${esc(money(line.price))}</td><td>${esc(line.quantity)}</td><td>${esc(money(line.line_price))}</td>` +
        `<td><form action="/cart/change" method="post"><input type="hidden" name="line" value="${index + 1}">` +
        '<input type="hidden" name="quantity" value="0"><button type="submit" class="link-button">Remove</button>' +
        "</form></td></tr>";
    }).join("");
    const count = `${cart.item_count} item${cart.item_count === 1 ? "" : "s"}`;
    return '<table class="cart-table"><thead><tr><th>Product</th><th>Price</th><th>Quantity</th><th>Total</th>' +
      `<th><span class="visually-hidden">Remove</span></th></tr></thead><tbody>${rows}</tbody></table>` +
      `<div class="cart-summary"><p>Subtotal (${esc(count)}): <strong>${esc(money(cart.total_price))}</strong></p>` +
      '<p class="muted">This is a demo store: nothing is for sale.</p></div>';
  }

  function cartPage() {
    return '<h1>Your cart</h1><p class="muted" data-headless-message role="status"></p>' +
      `<div data-headless-cart>${cartContents()}</div>` + slot("top");
  }

  function notFoundPage() {
    return `<h1>Page not found</h1><p class="lede">Nothing here.</p><p><a class="button" href="${esc(BASE)}">` +
      "Back to the store</a></p>";
  }

  const PAGES = {home: homePage, product: productPage, collection: collectionPage, cart: cartPage, other: notFoundPage};

  function updateNav(url) {
    for (const a of document.querySelectorAll("#headless-nav a")) {
      if (new URL(a.href, location.href).pathname === url.pathname) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const cartLink = document.getElementById("headless-cart-link");
    if (cartLink) cartLink.textContent = `Cart (${cart.item_count})`;
  }

  /** The old page's sections leave the DOM: the tracker forgets them (no view after this). */
  function clearPage(route) {
    document.title = `${route.title} · ${STORE_NAME}`;
    app.dataset.state = "loading";
    app.replaceChildren();
  }

  // -- recommendations -------------------------------------------------------------------------------------

  /** Ask Glood's headless sections endpoint for the route's sections and render the answer into its slots. */
  async function loadSections(route, number) {
    const wanted = ROUTE_SECTIONS[route.type];
    if (wanted === undefined) {
      app.dataset.state = "ready";
      return;
    }
    const body = {page_url: location.href, page_type: route.type, locale: document.documentElement.lang || "en"};
    if (wanted) body.sections = wanted;
    if (route.type === "product") body.product_id = Number(route.product.id);
    const inCart = [...new Set(cart.lines.map((line) => Number(line.product_id)))];
    if (inCart.length) body.cart_product_ids = inCart;
    let answer;
    try {
      const response = await fetch(SECTIONS_URL, {method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "x-shop": catalog.shop}});
      if (!response.ok) throw new Error(`the sections endpoint answered ${response.status}`);
      answer = await response.json();
    } catch (err) {
      if (number === navigation) app.dataset.state = "error";
      console.warn(`[demo-store] recommendations not loaded: ${err.message}`);
      return;
    }
    if (number !== navigation) return; // the shopper has moved on
    const parent = route.type === "product" ? route.product.id : "";
    for (const section of answer.sections) {
      const target = app.querySelector(`[data-headless-slot="${SLOTS[section.type] || "top"}"]`);
      if (!target) continue;
      target.insertAdjacentHTML("beforeend", demo().renderSection(section,
        ELEMENT_IDS[section.type] || `section-${section.id}`,
        {requestId: answer.request_id, serveId: demo().uuid4(), parentProductId: parent, productPath: link("products/")}));
    }
    app.dataset.requestId = answer.request_id;
    app.dataset.state = "ready";
  }

  // -- navigation -----------------------------------------------------------------------------------------

  /**
   * Show the route of `href`. The old page (and its sections) goes first; then, once the tracker's
   * MutationObserver has seen that (a microtask later), the URL changes (`push`), the page context follows
   * right after, and the route's sections are asked for.
   */
  function navigate(href, {push = true} = {}) {
    const url = new URL(href, location.href);
    const route = routeOf(url);
    const number = ++navigation;
    clearPage(route);
    app.innerHTML = PAGES[route.type](route);
    window.scrollTo(0, 0);
    updateNav(url);
    return Promise.resolve().then(() => {
      if (number !== navigation) return undefined;
      const key = url.href.split("#")[0];
      if (push) {
        if (key === location.href.split("#")[0]) history.replaceState(history.state, "", url.href);
        else history.pushState({headless: true}, "", url.href);
      }
      shown = key;
      cleared = null;
      setPageContext(pageContext(route));
      return loadSections(route, number);
    });
  }

  function onClick(event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
        event.altKey) return;
    const a = event.target.closest && event.target.closest("a[href]");
    if (!a || (a.target && a.target !== "_self") || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !isAppPath(url.pathname)) return; // another page: the browser's
    if (url.hash && url.href.split("#")[0] === location.href.split("#")[0]) return; // an anchor on this page
    event.preventDefault();
    navigate(url.href);
  }

  // Back and forward. The tracker hears of a URL change at once (the Navigation API's `navigatesuccess`, which
  // Chromium fires before `popstate`), and records it as a new page view with the sections still in the DOM:
  // so the old page goes as soon as the traversal starts (the `navigate` event, URL not changed yet), letting the
  // tracker's MutationObserver see its sections leave first. Without the Navigation API a capturing popstate
  // listener, added before the tracker's own (which the sensor adds after the load event), does it. The new
  // page, and its page context, come in the non-capturing popstate listener.
  function leaveFor(url) {
    const key = url.href.split("#")[0];
    if (key === shown || key === cleared || url.origin !== location.origin || !isAppPath(url.pathname)) return;
    cleared = key;
    ++navigation;
    clearPage(routeOf(url));
  }

  function onNavigate(event) {
    if (event.navigationType !== "traverse" || !event.destination.sameDocument) return;
    leaveFor(new URL(event.destination.url));
  }

  function onNavigateError() {
    if (cleared === null) return;
    cleared = null; // the traversal did not happen: draw the page still at the URL
    navigate(location.href, {push: false});
  }

  function beforePopstate() {
    leaveFor(new URL(location.href));
  }

  function onPopstate() {
    if (location.href.split("#")[0] === shown) return;
    navigate(location.href, {push: false});
  }

  // -- the cart -------------------------------------------------------------------------------------------

  async function postJSON(url, body) {
    const response = await fetch(url, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "Accept": "application/json"}});
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || `${url} answered ${response.status}`);
    return answer;
  }

  function message(form, text) {
    const out = app.querySelector("[data-headless-message]");
    if (out) out.textContent = text;
  }

  /** Add to cart by fetch (/cart/add.js), then route to the cart: the page stays the app. */
  async function addToCart(form) {
    const data = new FormData(form);
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      await postJSON("/cart/add.js", {id: String(data.get("id") || ""), quantity: String(data.get("quantity") || "1")});
      const response = await fetch("/cart.js", {headers: {"Accept": "application/json"}, cache: "no-store"});
      cart = await response.json();
      await navigate(link("cart"));
    } catch (err) {
      message(form, `Not added: ${err.message}`);
      if (button) button.disabled = false;
    }
  }

  /** Change a line (quantity 0 removes it) by fetch (/cart/change.js); the cart page is redrawn in place and its
   * page context updated (the same page view: no URL change). */
  async function changeCart(form) {
    const data = new FormData(form);
    const number = navigation;
    try {
      cart = await postJSON("/cart/change.js", {line: Number(data.get("line")), quantity: Number(data.get("quantity"))});
    } catch (err) {
      message(form, `Not changed: ${err.message}`);
      return;
    }
    updateNav(new URL(location.href));
    const contents = app.querySelector("[data-headless-cart]");
    if (number !== navigation || !contents) return;
    contents.innerHTML = cartContents();
    setPageContext(pageContext(routeOf(new URL(location.href))));
  }

  // The tracker's sensor records the submit first (it listens on the document in the capture phase); the app
  // then keeps the page: preventDefault and fetch.
  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !app.contains(form) || event.defaultPrevented) return;
    const action = new URL(form.getAttribute("action") || "", location.href).pathname;
    if (action.endsWith("/cart/add")) {
      event.preventDefault();
      addToCart(form);
    } else if (action.endsWith("/cart/change")) {
      event.preventDefault();
      changeCart(form);
    }
  }

  // -- start ----------------------------------------------------------------------------------------------

  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  if (window.navigation) {
    window.navigation.addEventListener("navigate", onNavigate);
    window.navigation.addEventListener("navigateerror", onNavigateError);
  }
  window.addEventListener("popstate", beforePopstate, true);
  window.addEventListener("popstate", onPopstate);
  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);

  function start() {
    const url = new URL(location.href);
    const route = routeOf(url);
    const number = ++navigation;
    shown = url.href.split("#")[0];
    app.innerHTML = PAGES[route.type](route);
    updateNav(url);
    setPageContext(pageContext(route));
    loadSections(route, number);
  }

  window.headlessStore = {navigate, routeOf, pageContext};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// Demo store behaviour: late recommendation sections, and the live "Received events" page.
// renderSection() must produce exactly the markup of demo_store/pages.py:section_html() (tests/unit compare them).
(function () {
  "use strict";

  const SECTIONS_URL = "/api/storefront/v3/headless/sections";
  const LATE_SECTION_DELAY_MS = 300;
  const COLLECTOR_REFRESH_MS = 2000;
  const SWATCH_TAG = "swatch:";
  const ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"};

  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const attributes = (pairs) => pairs.map(([name, value]) => `${name}="${esc(value)}"`).join(" ");

  function cardLink(url, title, price, color) {
    return `<a class="card-link" href="${esc(url)}"><span class="swatch" style="--swatch: ${esc(color)}"></span>` +
      `<span class="card-title">${esc(title)}</span><span class="card-price">${esc(price)}</span></a>`;
  }

  /** A product's swatch colour: its `swatch:<colour>` tag (the demo's products have no photos). */
  function swatch(product) {
    const tag = (product.tags || []).map(String).find((t) => t.startsWith(SWATCH_TAG));
    return tag ? tag.slice(SWATCH_TAG.length) : "";
  }

  function sectionItem(product, productPath) {
    const productId = String(product.product_id);
    const variant = (product.variants || [])[0];
    const variantId = variant ? String(variant.variant_id) : "";
    return `<li class="glood-product" data-glood-product-id="${esc(productId)}"` +
      ` data-glood-variant-id="${esc(variantId)}">\n` +
      `${cardLink(productPath + product.handle, product.title, "$" + product.price, swatch(product))}\n` +
      `<form action="/cart/add" method="post"><input type="hidden" name="id" value="${esc(variantId)}">` +
      '<input type="hidden" name="quantity" value="1">' +
      '<button type="submit" data-glood-add-to-cart>Add to cart</button></form>\n' +
      "</li>\n";
  }

  /**
   * A section of the sections API's answer as the markup of the tracker contract (docs/design.md §1).
   * `serve`: `requestId` (the answer's `request_id`), `serveId` (this render's own id) and `parentProductId`
   * (the page's product, or "" when there is none); optional `productPath`, where product links go
   * (default "/products/"; the headless app's are "/headless/products/").
   */
  function renderSection(section, elementId, serve) {
    const pairs = [["class", "glood-section"], ["id", elementId], ["data-glood-section", section.id],
      ["data-glood-serve-id", serve.serveId]];
    if (serve.requestId) pairs.push(["data-glood-request-id", serve.requestId]);
    pairs.push(["data-glood-recommendation-type", section.type]);
    const page = section.extra && section.extra.page_id;
    if (page) pairs.push(["data-glood-page", page]);
    if (serve.parentProductId) {
      pairs.push(["data-glood-parent-product-id", String(serve.parentProductId)],
        ["data-glood-parent-variant-id", ""]);
    }
    const productPath = serve.productPath || "/products/";
    const items = section.products.map((product) => sectionItem(product, productPath)).join("");
    return `<section ${attributes(pairs)}>\n<h2>${esc(section.title)}</h2>\n<ul>\n${items}</ul>\n</section>`;
  }

  /** A random (version 4) UUID; `crypto.randomUUID` exists only in secure contexts. */
  function uuid4() {
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  async function postJSON(url, body, headers) {
    const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json", ...headers},
      body: JSON.stringify(body)});
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  async function getJSON(url) {
    const response = await fetch(url, {cache: "no-store"});
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  /** The shop's domain: the slot's `data-shop`, else the tracker config's `shop_domain`. */
  function shopDomain(slot) {
    if (slot.dataset.shop) return slot.dataset.shop;
    try {
      return JSON.parse(document.getElementById("glood-tracker-config").textContent).shop_domain || "";
    } catch (_err) {
      return "";
    }
  }

  /** Fill a `[data-section-slot]` placeholder from the sections API, as a widget does after load. */
  async function fillSlot(slot) {
    const body = {page_url: location.href, page_type: slot.dataset.pageType,
      locale: document.documentElement.lang || "en", sections: [slot.dataset.sectionId]};
    if (slot.dataset.productId) body.product_id = Number(slot.dataset.productId);
    const answer = await postJSON(SECTIONS_URL, body, {"x-shop": shopDomain(slot)});
    slot.innerHTML = answer.sections.map((section) => renderSection(section, slot.dataset.elementId,
      {requestId: answer.request_id, serveId: uuid4(), parentProductId: slot.dataset.productId || ""})).join("");
  }

  function fillSlots() {
    for (const slot of document.querySelectorAll("[data-section-slot]")) {
      fillSlot(slot).catch((err) => console.warn(`[demo-store] recommendations not loaded: ${err.message}`));
    }
  }

  // -- the cart drawer (as Dawn's: fetch, bundled section rendering) ----------------------
  // On by default in the classic store, as in a real theme: add-to-cart forms are sent by fetch to /cart/add with
  // FormData, the answer's rendered `cart-drawer` section opens in a drawer whose +/-/remove forms go by fetch to
  // /cart/change.js. `?cart_ui=classic` (remembered in a cookie; `?cart_ui=drawer` turns it back on) leaves the
  // forms alone: they post and redirect, as they do without JavaScript. The headless app (#app) handles its own.

  const CART_SECTIONS = ["cart-drawer", "cart-icon-bubble"];

  function cartUI() {
    const asked = new URLSearchParams(location.search).get("cart_ui");
    if (asked === "drawer" || asked === "classic") document.cookie = `cart_ui=${asked}; path=/; samesite=lax`;
    const match = document.cookie.match(/(?:^|; )cart_ui=(\w+)/);
    return match ? match[1] : "drawer";
  }

  function drawer() {
    let aside = document.getElementById("cart-drawer");
    if (!aside) {
      aside = document.createElement("aside");
      aside.id = "cart-drawer";
      aside.className = "cart-drawer";
      aside.setAttribute("aria-label", "Cart");
      aside.hidden = true;
      aside.innerHTML = '<button type="button" class="link-button drawer-close" aria-label="Close cart">Close</button>' +
        '<div id="cart-drawer-body"></div><p class="form-error" role="alert" hidden></p>';
      aside.querySelector(".drawer-close").addEventListener("click", () => { aside.hidden = true; });
      document.body.append(aside);
    }
    return aside;
  }

  /** Show the answer's rendered sections: the drawer's content, and the header's count. */
  function showSections(sections) {
    const aside = drawer();
    if (sections && sections["cart-drawer"]) aside.querySelector("#cart-drawer-body").innerHTML = sections["cart-drawer"];
    const bubble = sections && sections["cart-icon-bubble"];
    const link = document.querySelector('.site-nav a[href="/cart"]');
    if (bubble && link) link.textContent = new DOMParser().parseFromString(bubble, "text/html").body.textContent.trim();
    aside.querySelector(".form-error").hidden = true;
    aside.hidden = false;
    aside.dataset.state = "open";
  }

  function showError(form, description) {
    const box = form.querySelector(".form-error") || drawer().querySelector(".form-error");
    box.textContent = description;
    box.hidden = false;
  }

  /** Answer JSON of a cart request, or an Error carrying Shopify's `description`. */
  async function cartAnswer(response) {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.description || answer.message || `the cart answered ${response.status}`);
    return answer;
  }

  /** An add-to-cart form sent as Dawn's product form sends it: FormData to /cart/add, sections asked. */
  async function ajaxAdd(form) {
    const body = new FormData(form);
    body.append("sections", CART_SECTIONS.join(","));
    body.append("sections_url", location.pathname);
    const response = await fetch(form.getAttribute("action"), {method: "POST", body,
      headers: {"Accept": "application/javascript", "X-Requested-With": "XMLHttpRequest"}});
    showSections((await cartAnswer(response)).sections);
  }

  /** A drawer line's +/-/remove form as Dawn's cart drawer sends it: JSON to /cart/change.js. */
  async function ajaxChange(form) {
    const data = new FormData(form);
    const response = await fetch("/cart/change.js", {method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({line: Number(data.get("line")), quantity: Number(data.get("quantity")),
        sections: CART_SECTIONS, sections_url: location.pathname})});
    showSections((await cartAnswer(response)).sections);
  }

  function cartDrawer() {
    document.addEventListener("submit", (event) => {
      const form = event.target;
      const action = form.getAttribute && form.getAttribute("action");
      const send = action && action.endsWith("/cart/add") ? ajaxAdd
        : form.classList && form.classList.contains("drawer-change") ? ajaxChange : null;
      if (!send || event.defaultPrevented) return;
      event.preventDefault();
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      send(form).catch((err) => showError(form, err.message))
        .finally(() => { if (button && button.isConnected) button.disabled = false; });
    });
  }

  // -- the collector page ---------------------------------------------------------------

  function receivedTime(iso) {
    const when = new Date(iso);
    return when.toLocaleTimeString([], {hour12: false}) + "." + String(when.getMilliseconds()).padStart(3, "0");
  }

  function eventRow(e) {
    const repeats = e.deliveries > 1 ? ` <span class="badge" title="deliveries">×${e.deliveries}</span>` : "";
    return `<tr class="event-row"><td title="${esc(e.received_at)}">${esc(receivedTime(e.received_at))}</td>` +
      `<td><code>${esc(e.name)}</code>${repeats}</td><td><code>${esc(e.event_id)}</code></td>` +
      `<td><code>${esc(e.session_id || "—")}</code></td><td class="url">${esc(e.page_url || "")}</td></tr>` +
      `<tr class="body-row"><td colspan="5"><details data-id="${esc(e.event_id)}"><summary>raw body</summary>` +
      `<pre>${esc(JSON.stringify(e.body, null, 2))}</pre></details></td></tr>`;
  }

  function collectorPage(table) {
    const rows = document.getElementById("collector-rows");
    const status = document.getElementById("collector-status");
    const params = new URLSearchParams(location.search);
    const query = new URLSearchParams({destination: table.dataset.destination, limit: "200"});
    for (const key of ["name", "session_id", "client_id"]) {
      if (params.get(key)) query.set(key, params.get(key));
    }
    let shown = null;

    function showRows(events) {
      const open = new Set([...rows.querySelectorAll("details[open]")].map((d) => d.dataset.id));
      rows.innerHTML = events.map(eventRow).join("") ||
        '<tr><td colspan="5" class="muted">Nothing received yet. Browse the store in another tab.</td></tr>';
      for (const details of rows.querySelectorAll("details")) details.open = open.has(details.dataset.id);
    }

    async function refresh() {
      try {
        const [events, stats] = await Promise.all(
          [getJSON("/_collector/events.json?" + query), getJSON("/_collector/stats.json")]);
        for (const label of document.querySelectorAll("[data-stats]")) {
          const s = stats[label.dataset.stats];
          label.textContent = `${s.accepted} accepted · ${s.duplicates} repeats · ${s.rejected} rejected`;
        }
        const text = JSON.stringify(events);
        if (text !== shown) {
          shown = text;
          showRows(events);
        }
        status.textContent = `${events.length} shown · updated ${new Date().toLocaleTimeString([], {hour12: false})}`;
      } catch (err) {
        status.textContent = `Could not load events: ${err.message}`;
      }
    }

    document.getElementById("collector-reset").addEventListener("click", async () => {
      if (!confirm("Forget every received event?")) return;
      await fetch("/_collector/reset", {method: "POST"});
      refresh();
    });
    refresh();
    setInterval(refresh, COLLECTOR_REFRESH_MS);
  }

  function start() {
    if (cartUI() === "drawer" && !document.getElementById("app")) cartDrawer();
    setTimeout(fillSlots, LATE_SECTION_DELAY_MS);
    const collector = document.getElementById("collector");
    if (collector) collectorPage(collector);
  }

  window.demoStore = {renderSection, esc, uuid4, postJSON, getJSON};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

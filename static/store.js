// Demo store behaviour: late recommendation sections, and the live "Received events" page.
// renderSection() must produce exactly the markup of demo_store/pages.py:section_html().
(function () {
  "use strict";

  const SECTIONS_URL = "/api/storefront/v3/headless/sections";
  const LATE_SECTION_DELAY_MS = 300;
  const COLLECTOR_REFRESH_MS = 2000;
  const ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"};

  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const attributes = (pairs) => pairs.map(([name, value]) => `${name}="${esc(value)}"`).join(" ");

  function cardLink(url, title, price, color) {
    return `<a class="card-link" href="${esc(url)}"><span class="swatch" style="--swatch: ${esc(color)}"></span>` +
      `<span class="card-title">${esc(title)}</span><span class="card-price">${esc(price)}</span></a>`;
  }

  function sectionItem(product) {
    return `<li class="glood-product" data-glood-product-id="${esc(product.productId)}"` +
      ` data-glood-variant-id="${esc(product.variantId)}">\n` +
      `${cardLink(product.url, product.title, "$" + product.price, product.color)}\n` +
      `<form action="/cart/add" method="post"><input type="hidden" name="id" value="${esc(product.variantId)}">` +
      '<input type="hidden" name="quantity" value="1">' +
      '<button type="submit" data-glood-add-to-cart>Add to cart</button></form>\n' +
      "</li>\n";
  }

  /** A section of the sections API as the markup of the tracker contract. */
  function renderSection(section, elementId) {
    const pairs = [["class", "glood-section"], ["id", elementId], ["data-glood-section", section.id],
      ["data-glood-serve-id", section.sectionServeId]];
    if (section.requestId) pairs.push(["data-glood-request-id", section.requestId]);
    pairs.push(["data-glood-recommendation-type", section.recommendationType]);
    if (section.page) pairs.push(["data-glood-page", section.page]);
    if (section.parent) {
      pairs.push(["data-glood-parent-product-id", section.parent.productId],
        ["data-glood-parent-variant-id", section.parent.variantId || ""]);
    }
    const items = section.products.map(sectionItem).join("");
    return `<section ${attributes(pairs)}>\n<h2>${esc(section.title)}</h2>\n<ul>\n${items}</ul>\n</section>`;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  async function getJSON(url) {
    const response = await fetch(url, {cache: "no-store"});
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  /** Fill a `[data-section-slot]` placeholder from the sections API, as a widget does after load. */
  async function fillSlot(slot) {
    const {sections} = await postJSON(SECTIONS_URL, {
      page_type: slot.dataset.pageType, product_id: slot.dataset.productId || null,
      recommendation_types: [slot.dataset.recommendationType]});
    slot.innerHTML = sections.map((section) => renderSection(section, slot.dataset.elementId)).join("");
  }

  function fillSlots() {
    for (const slot of document.querySelectorAll("[data-section-slot]")) {
      fillSlot(slot).catch((err) => console.warn(`[demo-store] recommendations not loaded: ${err.message}`));
    }
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
    setTimeout(fillSlots, LATE_SECTION_DELAY_MS);
    const collector = document.getElementById("collector");
    if (collector) collectorPage(collector);
  }

  window.demoStore = {renderSection, esc};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

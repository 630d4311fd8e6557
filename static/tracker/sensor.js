/* Glood tracker sensor (main thread, inline in <head>): records DOM facts from the first moment and, when the
   page goes, sends what the worker left ready and keeps what it has not judged. It judges nothing: Python in
   the worker does. After the page has loaded it imports relay.js, which starts the worker. docs/design.md §6. */
(() => {
  const W = window, D = document, N = navigator, P = performance, G = "glood_tracker:";
  const rt = JSON.parse(D.currentScript.dataset.runtime);
  // (randomUUID exists only in secure contexts: a store tried on a LAN address over http gets the fallback.)
  const uid = () => crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, c => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16));
  const ls = f => { try { return f(localStorage) } catch (e) {} };
  const text = id => { const el = D.getElementById(id); return el ? el.textContent : null };
  // k: the state relay.js shares (facts not yet judged, the worker's last hold, what was sent, questions waiting).
  // sent: "<destination> <event id>" of every body handed to the browser (beacon or keepalive fetch) that the worker
  // has not acknowledged yet: the ledger of the handover rule (docs/design.md §6). left: the last fact in the
  // record this page left (0: none); quiet: facts up to it went to another page with that record.
  const k = {rt, page: uid(), pv: uid(), seq: 0, facts: [], posted: 0, sent: new Set(), early: [], waits: {}, asks: 0, rejected: 0, text,
    left: 0, leftAt: 0, quiet: 0, dup: 0, gone: 0, paused: []};
  // The page's start-up facts, captured now (the time origin, visibility and page context at its start), never
  // when it is left: the next page judges the page from them if this page's worker never did.
  k.start = {page: k.page, pv: k.pv, t0: P.timeOrigin + ((P.getEntriesByType("navigation")[0] || {}).activationStart || 0),
    url: location.href, ref: D.referrer, title: D.title, vw: innerWidth, vh: innerHeight, ua: N.userAgent,
    vis: D.visibilityState == "visible", pd: text("glood-page")};
  try { k.prev = sessionStorage.getItem(G + "tab"); sessionStorage.setItem(G + "tab", k.page) } catch (e) {}
  k.toWorker = m => k.worker ? k.worker.postMessage(m) : k.early.push(m);
  k.sendFacts = () => {
    k.queued = 0;
    const f = k.facts.filter(x => x.s > k.posted);
    if (k.worker && f.length) { k.posted = k.seq; k.worker.postMessage({t: "facts", f}) }
  };
  const fact = (kind, o, t) => {
    k.facts.push(Object.assign({s: ++k.seq, t: t || P.timeOrigin + P.now(), k: kind}, o));
    if (k.worker && !k.queued) { k.queued = 1; queueMicrotask(k.sendFacts) }
  };
  k.fact = fact;

  // Sections: found at DOMContentLoaded, then added, removed or re-served (MutationObserver); visibility (IntersectionObserver).
  const SEC = "[data-glood-section]", PROD = "[data-glood-product-id]", keys = new WeakMap(), els = new Map();
  k.els = els;
  let n = 0;
  const ref = el => el ? [el.dataset.gloodProductId, el.dataset.gloodVariantId || null] : null;
  const io = new IntersectionObserver(es => D.prerendering || es.forEach(e => {
    const i = keys.get(e.target), a = r => r ? r.width * r.height : 0;
    i && fact("io", {i, r: [a(e.intersectionRect), a(e.boundingClientRect), a(e.rootBounds)]}, P.timeOrigin + e.time);
  }), {threshold: [0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1]});
  const add = el => {
    if (keys.has(el)) return keys.get(el);
    const i = ++n, a = {};
    keys.set(el, i); els.set(i, el);
    for (const d in el.dataset) d.startsWith("glood") && (a[d] = el.dataset[d]);
    fact("sec", {i, a, p: [...el.querySelectorAll(PROD)].map(ref)});
    io.observe(el);
    return i;
  };
  const forget = (i, el) => { els.delete(i); keys.delete(el); io.unobserve(el); fact("gone", {i}) };
  const scan = root => { root.matches && root.matches(SEC) && add(root); root.querySelectorAll && root.querySelectorAll(SEC).forEach(add) };
  const mo = new MutationObserver(rs => {
    for (const r of rs) r.type == "attributes" ? keys.has(r.target) && (forget(keys.get(r.target), r.target), add(r.target)) : r.addedNodes.forEach(scan);
    for (const [i, el] of els) el.isConnected || forget(i, el);
    const pd = text("glood-page");
    pd != k.pd && fact("pd", {pd: k.pd = pd});
  });

  // Shopper actions: clicks (also middle and modifier clicks) on recommended products, cart forms.
  const click = e => {
    const t = e.target, p = t.closest && t.closest(PROD), s = p && p.closest(SEC);
    s && !t.closest('form[action$="/cart/add"]') && (e.type == "click" || e.button == 1) && fact("click", {i: add(s), p: ref(p), b: e.button});
  };
  const submit = e => {
    const f = e.target, c = f.matches && (f.matches('form[action$="/cart/add"]') ? "add" : f.matches('form[action$="/cart/change"]') && "chg");
    if (!c) return;
    const d = new FormData(f), s = f.closest(SEC);
    fact(c, {i: s ? add(s) : 0, p: ref(f.closest(PROD)), v: d.get("id"), q: d.get("quantity"), l: d.get("line")});
  };

  // Consent for what is stored or sent before the worker says: Shopify's Customer Privacy API, else require_consent + setConsent().
  // (A Shopify page whose Customer Privacy API is not loaded yet is pending: relay.js loads it.)
  k.shopify = () => {
    const c = W.Shopify && W.Shopify.customerPrivacy;
    if (c) try { return c.analyticsProcessingAllowed() ? "granted" : (c.currentVisitorConsent() || {}).analytics == "no" ? "denied" : "pending" } catch (e) { return "pending" }
    if (W.Shopify) return "pending";
  };
  const allowed = () => k.hold ? k.hold.c == "granted" : !(N.globalPrivacyControl && rt.gpc)
    && (k.shopify() || (k.given != null ? (k.given ? "granted" : "denied") : ((W.gloodTrackerConfig || {}).require_consent ?? rt.rc) ? "pending" : "granted")) == "granted";

  // Sending: a beacon, or with headers a keepalive fetch (it outlives the page like a beacon); true when the browser
  // took it. What it took is in the ledger (k.sent) until the worker acknowledges it (a hold's `ack`).
  const sentKey = (b, i) => b.d + " " + i;
  k.isSent = b => b.i.some(i => k.sent.has(sentKey(b, i)));
  k.mark = (b, on) => b.i.forEach(i => on ? k.sent.add(sentKey(b, i)) : k.sent.delete(sentKey(b, i)));
  k.send = (b, answered) => {
    if (!b.h) return N.sendBeacon(b.u, new Blob([b.x], {type: "application/json"}));
    fetch(b.u, {method: "POST", body: b.x, headers: b.h, keepalive: true, credentials: "omit", mode: "cors"})
      .then(r => answered && answered(r.status, r.headers.get("Retry-After")), e => answered && answered(null, null));
    return true;
  };

  // Leaving (hidden or pagehide). The handover rule (docs/design.md §6): every event goes out at most once while
  // pages live and at least once overall. The sensor sends the bodies of the worker's last hold not already in the
  // ledger, then keeps one record for whichever page comes next: the start-up facts, the judge's state, the facts
  // not judged yet, and the ledger (the ids this page sent that the stored backlog or those facts may still hold).
  const RECORD = G + "facts:" + k.page;
  k.keep = (more = 0) => ls(s => {
    const h = k.hold;
    // The stored backlog is what the hold's bodies carried: gone with them when every one went.
    k.all && s.removeItem(G + "outbox:" + k.page);
    if (h && !k.facts.length && k.all) return s.removeItem(RECORD); // nothing left to hand over
    const r = {v: 1, seen: Date.now(), boot: k.start, st: h && h.st, f: k.facts, x: 0, sent: [...k.sent], dup: k.dup + more, quiet: k.quiet};
    while (JSON.stringify(r).length > 65536 && r.f.length) { r.f = r.f.slice(0, -1); r.x = k.facts.length - r.f.length }
    s.setItem(RECORD, JSON.stringify(r));
    k.left = k.seq; k.leftAt = r.seen; // written: facts up to k.left and the backlog now belong to the record
  });
  const leave = () => {
    // Gone already (pagehide comes before the last visibilitychange): the record may be another page's by now.
    if (D.prerendering || k.stopped || k.gone) return;
    scan(D);
    if (!allowed()) return;
    const out = [];
    k.all = k.hold && k.hold.all;
    for (const b of k.hold ? k.hold.b : []) {
      if (k.isSent(b)) continue;
      try { if (!k.send(b)) { k.all = 0; continue } } catch (e) { k.all = 0; continue }
      out.push([b.d, b.i]); k.mark(b, 1);
      if (b.f) k.dup += b.i.length; // in flight by the worker's own fetch, its answer unseen: perhaps twice
    }
    // The worker's own fetches of events the hold's bodies do not carry: the stored backlog sends them again.
    k.keep(k.hold ? k.hold.fb || 0 : 0);
    k.toWorker({t: "hide", sent: out, dup: k.dup});
  };
  // Visible again (never left): the record goes, the worker judges everything live.
  const back = () => { ls(s => s.removeItem(RECORD)); k.left = k.dup = 0 };
  // Restored from the back/forward cache: the record this page left is still there (taken back) or another page
  // took it, and with it the facts up to k.left and every event made until then: the worker drops those.
  const restored = () => {
    let taken = false;
    ls(s => { taken = k.left > 0 && s.getItem(RECORD) == null; s.removeItem(RECORD) });
    if (taken) { k.quiet = k.left; k.toWorker({t: "taken", upto: k.left, at: k.leftAt}) }
    k.left = k.dup = k.gone = 0;
    k.resume && k.resume(taken);
  };
  const lock = granted => N.locks ? N.locks.request(G + "tab:" + k.page, () => { granted && granted(); return new Promise(r => k.release = r) }).catch(() => {})
    : granted && granted();
  const idle = () => (W.requestIdleCallback || setTimeout)(() => D.prerendering || k.started++ || import(rt.relay).then(m => m.default(k)), {timeout: 2000});
  k.started = 0;
  k.on = [[D, "click", click], [D, "auxclick", click], [D, "submit", submit],
    [D, "visibilitychange", () => { const v = D.visibilityState == "visible"; fact("vis", {v}); v ? k.gone || back() : leave() }],
    // Gone: from now on nothing is sent (relay.js holds the worker's requests) until a restore says whether the
    // record was taken; the tab lock is released, so another page may take the record.
    [W, "pagehide", () => { leave(); k.gone = 1; k.release && k.release(); k.release = 0 }],
    [W, "pageshow", e => {
      if (!e.persisted) return;
      k.pv = uid(); fact("show", {pv: k.pv});
      // The tab lock is taken back under the adoption lock, so an adopting worker either took the record or sees
      // this page alive.
      N.locks ? N.locks.request(G + "adopt", () => new Promise(done => lock(() => { restored(); done() }))).catch(restored) : restored();
    }]];
  k.obs = [io, mo];

  // The public API: calls are facts like any other (ids made here, at once); questions wait for the worker.
  const api = W.gloodTracker = W.gloodTracker || {}, stub = api.q;
  const ask = m => k.stopped ? Promise.resolve(m == "flush" || m == "pending" ? 0 : null)
    : new Promise(r => { k.waits[++k.asks] = r; k.sendFacts(); k.toWorker({t: "ask", n: k.asks, m}) });
  // Data as JSON text, or the reason it is not JSON (cycles, functions, BigInt, throwing getters). Text, so
  // that however deep it is, posting it to the worker cannot overflow the stack; the worker judges depth.
  const plain = x => {
    try { return JSON.stringify(x, (key, v) => { if (typeof v == "function") throw TypeError(key + " is a function"); return v }) } catch (e) { return e }
  };
  const track = (t, name, data, custom) => {
    const a = plain([name, data ?? null, custom ?? null]);
    if (k.stopped || typeof name != "string" || a instanceof Error) {
      k.stopped || (k.rejected++, console.error("[glood-tracker] track(" + String(name).slice(0, 80) + ") rejected: " + (a instanceof Error ? a : "no name")));
      return null;
    }
    if (k.given === false || k.hold && k.hold.c == "denied") return null; // consent denied: nothing is made
    const e = uid();
    fact("call", {m: "track", a, e}, t);
    return e;
  };
  api.track = (n, d, c) => track(0, n, d, c);
  const call = (m, a) => (a = plain(a)) instanceof Error ? (k.rejected++, console.error("[glood-tracker] " + m + "() rejected: " + a)) : fact("call", {m, a});
  api.setConsent = v => call("consent", [k.given = !!v]);
  api.identify = (id, traits) => call("identify", [id, traits ?? null]);
  api.reset = () => call("reset", []);
  api.onReady = f => api.ready ? queueMicrotask(f) : D.addEventListener("glood:tracker:ready", () => f(), {once: true});
  api.page = d => (d = plain(d)) instanceof Error ? (k.rejected++, console.error("[glood-tracker] page() rejected: " + d)) : fact("pd", {pd: d});
  ["flush", "pending", "status", "stop"].forEach(m => api[m] = () => ask(m).then(v => k[m] ? k[m](v) : v));
  api.ready = false;
  api.version = rt.version;
  k.api = api;
  delete api.q;
  // An older stub's queue: each well-formed entry replayed with its time, each bad one refused on its own.
  const refuse = why => { k.rejected++; console.error("[glood-tracker] gloodTracker.q: " + why) };
  stub == null || (Array.isArray(stub) ? stub : refuse("not an array, ignored") || []).forEach((c, n) =>
    Array.isArray(c) ? track(Number(c[0]) || 0, c[1], c[2], c[3]) : refuse("entry " + n + " is not [time, name, data, customData], refused"));

  k.on.forEach(([o, e, f]) => o.addEventListener(e, f, true));
  lock();
  const watch = () => { k.start.pd = k.pd = text("glood-page"); k.start.title = D.title; scan(D); mo.observe(D.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-glood-serve-id"]}) };
  D.readyState == "loading" ? D.addEventListener("DOMContentLoaded", watch) : watch();
  D.prerendering && D.addEventListener("prerenderingchange", () => { k.start.t0 = P.timeOrigin + P.now(); k.start.vis = D.visibilityState == "visible"; els.forEach(el => { io.unobserve(el); io.observe(el) }); idle() });
  D.readyState == "complete" ? idle() : W.addEventListener("load", idle);
})();

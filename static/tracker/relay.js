// The sensor's second half, imported after the page has loaded: starts the tracker's worker and carries out
// what it asks of the main thread (send requests, write localStorage, answer questions). docs/design.md §6.
// The `ans` codes of tracker/core/protocol.py (static/tracker/protocol.js; a test keeps these in step).
const BEACON_ACCEPTED = 0, NOT_SENT = -1, BEACON_REFUSED = -2;

export default (k) => {
  const D = document, W = window, G = "glood_tracker:", h = D.documentElement.dataset;
  const err = (m) => console.error("[glood-tracker] " + m);
  const snap = () => {
    const o = {};
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key.startsWith(G)) o[key] = localStorage.getItem(key);
      }
    } catch (e) {}
    return o;
  };
  const write = (w) => (w || []).forEach(([key, v]) => {
    try { v == null ? localStorage.removeItem(key) : localStorage.setItem(key, v) } catch (e) { k.toWorker({ t: "fail", k: key }) }
  });
  // A few requests per task: a burst's many beacons in one task made long tasks (up to 690 ms, bench); the rest
  // follow in the next tasks (a body sent meanwhile, by pagehide, is skipped as sent).
  const PER_TASK = 6;
  const answer = (bodies) => {
    // Once the page is gone (pagehide) nothing more is sent: the record it left is the next page's to send, and
    // a restore from the back/forward cache says whether it was taken (k.resume).
    if (k.gone) { k.paused.push(...bodies); return }
    const a = [];
    let sent = false;
    if (bodies.length > PER_TASK) setTimeout(() => !k.stopped && answer(bodies.slice(PER_TASK)), 0);
    for (const b of bodies.slice(0, PER_TASK)) {
      if (k.isSent(b)) { a.push([b.n, NOT_SENT, null]); continue }
      // A keepalive fetch is answered later; one that fails leaves the ledger, so the worker's retry can go.
      const answered = b.h && ((status, retryAfter) => {
        if (!(status >= 200 && status < 300)) k.mark(b, 0);
        k.toWorker({ t: "ans", a: [[b.n, status, retryAfter]] });
      });
      let ok = false;
      try { ok = k.send(b, answered) } catch (e) { err("sending to " + b.u + " failed: " + e) }
      if (ok) { k.mark(b, 1); sent = true }
      // BEACON_REFUSED: the keepalive quota is full; the worker fetches it. A fetch is answered when it is over.
      if (!b.h || !ok) a.push([b.n, ok ? BEACON_ACCEPTED : b.h ? null : BEACON_REFUSED, null]);
    }
    if (a.length) k.toWorker({ t: "ans", a });
    if (sent && k.left) k.keep(); // hidden with a record kept: its ledger follows what was sent since
  };
  k.resume = (taken) => {
    const held = k.paused.splice(0);
    if (!held.length) return;
    // Taken: the events went with the record (the worker drops them on "taken", posted first); else send them now.
    if (taken) k.toWorker({ t: "ans", a: held.map((b) => [b.n, NOT_SENT, null]) });
    else answer(held);
  };
  const on = (m) => {
    switch (m.t) {
      case "send": return answer(m.b);
      case "hold": {
        k.hold = m;
        write(m.w);
        k.facts = k.facts.filter((x) => x.s > m.upto);
        // What the worker has settled is out of its queue and its stored backlog (this hold's writes), and its facts
        // are judged: it can no longer be sent again, so the ledger forgets it (a long session's set stays small).
        for (const x of m.ack || []) k.sent.delete(x);
        return;
      }
      case "ready":
        k.api.ready = true;
        h.gloodTracker = "ready";
        return D.dispatchEvent(new CustomEvent("glood:tracker:ready"));
      case "reply":
        if (k.waits[m.n]) k.waits[m.n](m.v);
        delete k.waits[m.n];
        return;
      case "snap": return k.toWorker({ t: "re", n: m.n, v: snap() });
      case "store":
        write(m.w);
        return k.toWorker({ t: "re", n: m.n });
      case "log": return console[m.l]("[glood-tracker] " + m.m);
      case "error": h.gloodTracker = "error";
    }
  };
  // Shopify's consent banner answers later: a fact like the visitor's setConsent().
  const consent = (e) => {
    const a = e.detail && e.detail.analyticsAllowed;
    const c = a != null ? (a ? "granted" : "denied") : k.shopify();
    if (c && c !== "pending") k.fact("call", { m: "consent", a: [c === "granted"] });
  };
  // Single-page navigation: every History/Navigation API change of URL is a fact (one now, for changes made
  // before the page loaded); the worker decides which are new page views (not a hash, not the same URL).
  const url = () => k.stopped || k.fact("url", { url: location.href, title: D.title, pd: k.text("glood-page") });
  for (const m of ["pushState", "replaceState"]) {
    const original = history[m];
    history[m] = function (...args) {
      const result = original.apply(this, args);
      url();
      return result;
    };
  }
  const added = [[D, "visitorConsentCollected", consent], [W, "popstate", url]];
  if (W.navigation) added.push([W.navigation, "navigatesuccess", url]);
  for (const [target, type, fn] of added) {
    k.on.push([target, type, fn]);
    target.addEventListener(type, fn, true);
  }
  url();
  k.status = (s) => {
    if (s) {
      s.stats.rejected = (s.stats.rejected || 0) + k.rejected;
      s.watched = k.els.size; // sections the sensor observes now (removed ones are released)
    }
    return s;
  };
  k.stop = () => {
    k.stopped = 1;
    k.api.ready = false;
    h.gloodTracker = "stopped";
    k.obs.forEach((o) => o.disconnect());
    if (k.release) k.release();
    k.worker.postMessage({ t: "bye" });
    k.worker.terminate();
    k.on.forEach(([o, e, f]) => o.removeEventListener(e, f, true));
  };

  let ov = null;
  try { ov = W.gloodTrackerConfig ? JSON.parse(JSON.stringify(W.gloodTrackerConfig)) : null } catch (e) { err("window.gloodTrackerConfig is not JSON: " + e) }
  const worker = new Worker(k.rt.worker, { type: "module", name: "glood-tracker" });
  worker.onmessage = (e) => on(e.data);
  worker.onerror = (e) => { err("the tracker's worker failed: " + (e.message || e)); h.gloodTracker = "error" };
  // Shopify's Customer Privacy API is there only once loaded the Shopify way; until it answers, consent waits.
  const S = W.Shopify;
  const privacy = () => S && S.customerPrivacy;
  if (S && !privacy() && S.loadFeatures) {
    S.loadFeatures([{ name: "consent-tracking-api", version: "0.1" }], (error) => {
      const c = error ? null : k.shopify();
      if (error) err("Shopify's consent API did not load (" + error + "); consent stays as the config says");
      if (c && c !== "pending") k.fact("call", { m: "consent", a: [c === "granted"] });
      else if (error && !k.rt.rc) k.fact("call", { m: "consent", a: [true] });
    });
  }
  let sale = null;
  try { sale = privacy() && privacy().saleOfDataAllowed ? !!privacy().saleOfDataAllowed() : null } catch (e) {}
  const sig = {
    shopify: privacy() ? k.shopify() : null, loading: !!S && !privacy(), gpc: navigator.globalPrivacyControl === true,
    sale, webdriver: navigator.webdriver === true, ua: navigator.userAgent,
  };
  worker.postMessage({
    t: "boot", rt: k.rt, page: k.start, quiet: k.quiet, cfg: k.text("glood-tracker-config"), ov, prev: k.prev || null, store: snap(),
    dbg: /[?&]glood_debug=1(&|$)/.test(location.search), sig,
  });
  k.worker = worker;
  k.sendFacts();
  k.early.splice(0).forEach((m) => worker.postMessage(m));
};

// The sensor's second half, imported after the page has loaded: starts the tracker's worker and carries out what it
// asks of the main thread (send requests, write localStorage, answer questions), and keeps the ledger of what was
// sent (the handover rule, docs/design.md §6). Messages: tracker/core/protocol.py (protocol.js).
// @ts-check

// The `ans` codes of tracker/core/protocol.py (protocol.js; a test keeps these in step).
const BEACON_ACCEPTED = 0, NOT_SENT = -1, BEACON_REFUSED = -2;
const PREFIX = "glood_tracker:";
// A few requests per task: a burst's many beacons in one task made long tasks (up to 690 ms, bench); the rest follow
// in the next tasks (a body sent meanwhile, by pagehide, is skipped as sent).
const PER_TASK = 6;

/**
 * The build's runtime files, written in by `python -m tracker build` (the embed's `data-runtime` names only this
 * module and what the sensor needs itself, so that every page's inline embed stays small).
 * @type {import("./protocol.js").BuildRuntime}
 */
const BUILD = /* build: runtime */ ({ worker: "", pyodide: "", index: "", lock: "", stdlib: "", wheel: "" });

/**
 * The tracker's worker. A module worker cannot start from another origin than the page's (a CDN): it then starts
 * from a same-origin blob that imports the worker's module from there (docs/hosting.md). Such a worker has the
 * page's origin but a blob: base URL, so the blob, once the module has run and before any message, makes its
 * fetches of relative URLs (a collector on this origin) resolve against the page's URL. The snapshot's maker
 * (worker.mjs) starts the same way.
 * @param {string} url @param {string} name
 */
const startWorker = (url, name) => {
  const options = /** @type {WorkerOptions} */ ({ type: "module", name });
  const absolute = new URL(url, location.href);
  if (absolute.origin === location.origin) return new Worker(absolute.href, options);
  const source = `import ${JSON.stringify(absolute.href)};const f=self.fetch.bind(self);`
    + `self.fetch=(i,o)=>f(typeof i=="string"?new URL(i,${JSON.stringify(location.href)}).href:i,o);`;
  return new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })), options);
};

/** @typedef {import("./protocol.js").SendRequest} SendRequest */
/** @typedef {import("./protocol.js").HoldRequest} HoldRequest */

/** @param {import("./types").Sensor} sensor */
export default (sensor) => {
  const marks = document.documentElement.dataset;
  /** @param {string} message */
  const error = (message) => console.error("[glood-tracker] " + message);
  const snapshot = () => {
    /** @type {Record<string, string>} */
    const copy = {};
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key && key.startsWith(PREFIX)) copy[key] = localStorage.getItem(key) || "";
      }
    } catch (e) {}
    return copy;
  };
  // The worker, started at the end (below; until then, and if it cannot start, the sensor works without this
  // module). Facts go to it once each and in order; the ones a hold says are judged leave the sensor's list.
  /** @param {import("./protocol.js").ToWorker} message */
  const toWorker = (message) => worker.postMessage(message);
  let posted = 0, queued = false;
  const post = () => {
    queued = false;
    const fresh = sensor.facts.filter((item) => item.s > posted);
    if (fresh.length) {
      posted = fresh[fresh.length - 1].s;
      toWorker({ t: "facts", f: fresh });
    }
  };
  /** @param {number} upto */
  const judged = (upto) => { sensor.facts.splice(0, sensor.facts.filter((item) => item.s <= upto).length) }; // (in order)
  /** @param {[string, string | null][]} writes */
  const write = (writes) => (writes || []).forEach(([key, value]) => {
    try { value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value) } catch (e) { toWorker({ t: "fail", k: key }) }
  });

  // The ledger: "<destination> <event id>" of every body handed to the browser (a beacon, or a keepalive fetch: both
  // outlive the page) that the worker has not acknowledged yet (a hold's `ack`). Nothing in it is sent again.
  /** @type {Set<string>} */
  const ledger = sensor.ledger = new Set();
  /** @param {HoldRequest | SendRequest} body */
  const isSent = (body) => body.i.some((id) => ledger.has(body.d + " " + id));
  /** @param {HoldRequest | SendRequest} body @param {boolean} sent */
  const mark = (body, sent) => body.i.forEach((id) => sent ? ledger.add(body.d + " " + id) : ledger.delete(body.d + " " + id));
  /**
   * A beacon, or with headers a keepalive fetch; true when the browser took it.
   * @param {HoldRequest | SendRequest} body @param {(status: number | null, retryAfter: string | null) => void} [answered]
   */
  const send = (body, answered) => {
    if (!body.h) return navigator.sendBeacon(body.u, new Blob([body.x], { type: "application/json" }));
    fetch(body.u, { method: "POST", body: body.x, headers: body.h, keepalive: true, credentials: "omit", mode: "cors" })
      .then((r) => answered && answered(r.status, r.headers.get("Retry-After")), () => answered && answered(null, null));
    return true;
  };
  let dup = 0, ready = false;
  /** @type {string | undefined} the consent the "warm" mark was last written for */
  let warm;

  // Leaving: the hold's bodies not in the ledger go now, and the worker hears which; the record keeps the ledger for
  // the next page. When every body went, the stored backlog they carried goes too. Not `now` (a send while hidden,
  // the record written again for its ledger): the backlog may have been written again since, so it stays, and so
  // does the record that names what was sent.
  /** @param {boolean} now @returns {import("./types").Handover} */
  const handover = (now) => {
    /** @type {[string, string[]][]} */
    const out = [];
    let all = false;
    if (now) {
      all = !!(sensor.hold && sensor.hold.all);
      for (const body of sensor.hold ? sensor.hold.b : []) {
        if (isSent(body)) continue;
        try { if (!send(body)) { all = false; continue } } catch (e) { all = false; continue }
        out.push([body.d, body.i]); mark(body, true);
        if (body.f) dup += body.i.length; // in flight by the worker's own fetch, its answer unseen: perhaps twice
      }
    }
    if (all) try { localStorage.removeItem(PREFIX + "outbox:" + sensor.start.page) } catch (e) {}
    if (now) toWorker({ t: "hide", sent: out, dup });
    return { all, sent: [...ledger], dup: dup + (sensor.hold ? sensor.hold.fb : 0) };
  };
  /** @type {SendRequest[]} */
  const paused = [];
  /** @param {boolean} taken */
  const restore = (taken) => {
    dup = 0;
    const held = paused.splice(0);
    if (!held.length) return;
    // Taken: the events went with the record (the worker drops them on "taken", posted first); else send them now.
    if (taken) toWorker({ t: "ans", a: held.map((body) => [body.n, NOT_SENT, null]) });
    else answer(held);
  };

  /** @param {SendRequest[]} bodies */
  const answer = (bodies) => {
    // Once the page is gone (pagehide) nothing more is sent: the record it left is the next page's to send, and a
    // restore from the back/forward cache says whether it was taken (onRestore).
    if (sensor.gone) { paused.push(...bodies); return }
    /** @type {import("./protocol.js").Answer[]} */
    const answers = [];
    let sent = false;
    if (bodies.length > PER_TASK) setTimeout(() => !sensor.stopped && answer(bodies.slice(PER_TASK)), 0);
    for (const body of bodies.slice(0, PER_TASK)) {
      if (isSent(body)) { answers.push([body.n, NOT_SENT, null]); continue }
      // A keepalive fetch is answered later; one that fails leaves the ledger, so the worker's retry can go.
      const answered = body.h ? (/** @type {number | null} */ status, /** @type {string | null} */ retryAfter) => {
        if (!(status && status >= 200 && status < 300)) mark(body, false);
        toWorker({ t: "ans", a: [[body.n, status, retryAfter]] });
      } : undefined;
      let ok = false;
      try { ok = send(body, answered) } catch (e) { error("sending to " + body.u + " failed: " + e) }
      if (ok) { mark(body, true); sent = true }
      // BEACON_REFUSED: the keepalive quota is full; the worker fetches it. A fetch is answered when it is over.
      if (!body.h || !ok) answers.push([body.n, ok ? BEACON_ACCEPTED : body.h ? null : BEACON_REFUSED, null]);
    }
    if (answers.length) toWorker({ t: "ans", a: answers });
    if (sent && sensor.kept) sensor.keep(handover(false)); // hidden with a record kept: its ledger follows what was sent since
  };

  /** @param {import("./protocol.js").ToPage} message */
  const receive = (message) => {
    switch (message.t) {
      case "send": return answer(message.b);
      case "hold":
        sensor.hold = message;
        write(message.w);
        // Ready with consent: later pages of this build may start the worker early (its runtime is cached now). A
        // technical mark (the build's relay URL), yet gone with consent like everything the tracker stores.
        if (ready && message.c !== "pending" && warm !== message.c) {
          warm = message.c;
          try {
            if (warm === "granted") localStorage.setItem(PREFIX + "warm", sensor.runtime.relay);
            else localStorage.removeItem(PREFIX + "warm");
          } catch (e) {}
        }
        judged(message.upto);
        // What the worker has settled is out of its queue and its stored backlog (this hold's writes), and its facts
        // are judged: it can no longer be sent again, so the ledger forgets it (a long session's set stays small).
        for (const item of message.ack) ledger.delete(item);
        return;
      case "ready":
        ready = true;
        sensor.api.ready = true;
        marks.gloodTracker = "ready";
        document.dispatchEvent(new CustomEvent("glood:tracker:ready"));
        return;
      case "reply":
        if (waits[message.n]) waits[message.n](message.v);
        delete waits[message.n];
        return;
      case "snap": return toWorker({ t: "re", n: message.n, v: snapshot() });
      case "store":
        write(message.w);
        return toWorker({ t: "re", n: message.n });
      case "claim": return claim(message);
      case "maker": return makeSnapshot(message);
      case "log": return console[message.l]("[glood-tracker] " + message.m);
      case "dbg": if (inspector) inspector.then((module) => module && module.receive(message)); return;
      case "error": marks.gloodTracker = "error";
    }
  };
  // Shopify, as the page had it when this module ran; its Customer Privacy API once loaded (below).
  const shopify = window.Shopify;
  const privacy = () => shopify && shopify.customerPrivacy;
  /**
   * Shopify's Customer Privacy API's answer; undefined on a page without Shopify, "pending" while the API is not
   * loaded (below) or fails.
   * @returns {"granted" | "denied" | "pending" | undefined}
   */
  const shopifyConsent = () => {
    const api = privacy();
    if (api) try {
      if (api.analyticsProcessingAllowed()) return "granted";
      const visitor = api.currentVisitorConsent();
      return visitor && visitor.analytics === "no" ? "denied" : "pending";
    } catch (e) { return "pending" }
    if (shopify) return "pending";
  };
  // The memory snapshot's maker (worker.mjs), which the worker asks for after its first ready: started here, on the
  // main thread, never by the worker itself (a worker's constructor run in the worker held the worker's thread for
  // good in Firefox ESR now and then: the events it had queued were never sent). Its report goes to the worker as it
  // came; a maker still at work when the tracker stops goes with it, and so does one when the page is left
  // (pagehide): a page frozen in the back/forward cache makes nothing; the worker hears "left", and a later page
  // makes it.
  /** @type {Worker | undefined} */
  let maker;
  /** @param {import("./protocol.js").Maker} message */
  const makeSnapshot = (message) => {
    if (sensor.stopped) return;
    const started = maker = startWorker(runtime.worker, "glood-tracker-snapshot");
    /** @param {import("./protocol.js").Made} report */
    const done = (report) => {
      started.terminate();
      if (maker === started) maker = undefined;
      if (!sensor.stopped) toWorker(report);
    };
    started.onmessage = (event) => done(event.data);
    started.onerror = (event) => {
      event.preventDefault(); // the maker's failure is said in status().boot, not as the page's error
      done({ t: "made", made: "failed", make: { error: String(event.message || event) } });
    };
    started.postMessage({ t: "make-snapshot", abs: message.abs, key: message.key });
  };
  // The Web Locks that say the records of gone pages this page's worker took are taken (`claim`, asked under the
  // adoption lock): held while the page lives, let go at pagehide like the sensor's tab lock. A page in the
  // back/forward cache that holds a lock is evicted from it (Chromium) as soon as another page asks for that lock or
  // lists the locks, as every page's adoption does.
  /** @type {(() => void)[]} */
  const claims = [];
  /** @param {import("./protocol.js").Claim} message */
  const claim = (message) => Promise.all(navigator.locks ? message.names.map((name) => new Promise((granted) => {
    navigator.locks.request(name, () => { granted(null); return new Promise((release) => claims.push(() => release(null))) })
      .catch(() => granted(null));
  })) : []).then(() => toWorker({ t: "re", n: message.n }));
  const unclaim = () => claims.splice(0).forEach((release) => release());
  const left = () => {
    unclaim();
    if (!maker) return;
    maker.terminate();
    maker = undefined;
    toWorker({ t: "made", made: "left", make: {} });
  };
  // Shopify's consent banner answers later: a fact like the visitor's setConsent().
  /** @param {Event} event */
  const consent = (event) => {
    const detail = /** @type {CustomEvent} */ (event).detail, allowed = detail && detail.analyticsAllowed;
    const state = allowed != null ? (allowed ? "granted" : "denied") : shopifyConsent();
    if (state && state !== "pending") sensor.fact("call", { m: "consent", a: JSON.stringify([state === "granted"]) });
  };
  // Single-page navigation: every History/Navigation API change of URL is a fact (one now, for changes made before
  // the page loaded); the worker decides which are new page views (not a hash, not the same URL).
  const url = () => sensor.stopped || sensor.fact("url", { url: location.href, title: document.title, pd: sensor.text("glood-page") });
  for (const method of /** @type {const} */ (["pushState", "replaceState"])) {
    const original = history[method];
    history[method] = function (...args) {
      const result = original.apply(this, /** @type {any} */ (args));
      url();
      return result;
    };
  }
  /** @type {[EventTarget, string, (event: any) => void][]} */
  const added = [[document, "visitorConsentCollected", consent], [window, "popstate", url], [window, "pagehide", left]];
  if (window.navigation) added.push([window.navigation, "navigatesuccess", url]);
  for (const [target, type, listener] of added) {
    sensor.listeners.push([target, type, listener]);
    target.addEventListener(type, listener, true);
  }
  url();
  // The API's questions, answered by the worker (those asked before this module ran waited in `sensor.asks`).
  /** @type {Record<number, (value: unknown) => void>} */
  const waits = {};
  let asked = 0;
  /** @param {"flush" | "pending" | "status" | "stop"} method @returns {Promise<unknown>} */
  const ask = (method) => sensor.stopped ? Promise.resolve(method === "flush" || method === "pending" ? 0 : null)
    : new Promise((resolve) => {
      waits[++asked] = resolve;
      post(); // the facts made before the question go first
      toWorker({ t: "ask", n: asked, m: method });
    }).then((value) => { const then = after[method]; return then ? then(value) : value });
  /** @type {{status?: (value: any) => any, stop?: (value: any) => any, flush?: undefined, pending?: undefined}} */
  const after = {
    status: (status) => {
      if (status) {
        status.stats.rejected = (status.stats.rejected || 0) + sensor.rejected;
        status.watched = sensor.sections.size; // sections the sensor observes now (removed ones are released)
      }
      return status;
    },
    stop: (value) => {
      sensor.stopped = true;
      sensor.api.ready = false;
      marks.gloodTracker = "stopped";
      sensor.observers.forEach((observer) => observer.disconnect());
      if (sensor.release) sensor.release();
      worker.postMessage({ t: "bye" });
      worker.terminate();
      if (maker) maker.terminate();
      unclaim();
      sensor.listeners.forEach(([target, type, listener]) => target.removeEventListener(type, listener, true));
      return value;
    },
  };

  // The inspector (docs/inspector.md), only while `?glood_inspect=1` is on for the tab (`=0` ends it): its loader, next
  // to this script's directory, is imported now (after load) and handed the worker's debug messages (`dbg`).
  /** @type {Promise<{receive: (message: import("./protocol.js").Debug) => void} | null> | null} */
  let inspector = null;
  try {
    const flag = /[?&]glood_inspect=([01])(&|$)/.exec(location.search);
    if (flag) flag[1] === "1" ? sessionStorage.setItem("glood_inspect", "1") : sessionStorage.removeItem("glood_inspect");
    if (sessionStorage.getItem("glood_inspect") === "1") {
      inspector = import(new URL("../inspector/loader.js", import.meta.url).href)
        .catch((e) => { error("the inspector did not load: " + e); return null });
    }
  } catch (e) {}

  /** @type {Record<string, unknown> | null} */
  let overrides = null;
  try { overrides = window.gloodTrackerConfig ? JSON.parse(JSON.stringify(window.gloodTrackerConfig)) : null } catch (e) { error("window.gloodTrackerConfig is not JSON: " + e) }
  /** @type {import("./protocol.js").Runtime} */
  const runtime = { ...BUILD, ...sensor.runtime };
  const worker = startWorker(runtime.worker, "glood-tracker");
  worker.onmessage = (event) => receive(event.data);
  worker.onerror = (event) => {
    if (sensor.gone) return; // the page is being left: a worker torn down while it started is no failure (WebKit)
    error("the tracker's worker failed: " + (event.message || event));
    marks.gloodTracker = "error";
  };
  // Shopify's Customer Privacy API is there only once loaded the Shopify way; until it answers, consent waits.
  if (shopify && !privacy() && shopify.loadFeatures) {
    shopify.loadFeatures([{ name: "consent-tracking-api", version: "0.1" }], (failure) => {
      const state = failure ? null : shopifyConsent();
      if (failure) error("Shopify's consent API did not load (" + failure + "); consent stays as the config says");
      if (state && state !== "pending") sensor.fact("call", { m: "consent", a: JSON.stringify([state === "granted"]) });
      else if (failure && !sensor.runtime.rc) sensor.fact("call", { m: "consent", a: "[true]" });
    });
  }
  /** @type {boolean | null} */
  let sale = null;
  try {
    const allowed = privacy();
    sale = allowed && allowed.saleOfDataAllowed ? !!allowed.saleOfDataAllowed() : null;
  } catch (e) {}
  const signals = {
    shopify: privacy() ? shopifyConsent() || null : null, loading: !!shopify && !privacy(),
    gpc: navigator.globalPrivacyControl === true, sale, webdriver: navigator.webdriver === true, ua: navigator.userAgent,
  };
  worker.postMessage({
    t: "boot", rt: runtime, page: sensor.start, quiet: sensor.quiet, cfg: sensor.text("glood-tracker-config"),
    ov: overrides, prev: sensor.previous, store: snapshot(), dbg: /[?&]glood_debug=1(&|$)/.test(location.search), sig: signals,
    insp: !!inspector,
  });
  // The sensor goes through this module from now on. Its facts follow the boot, then each task's new ones in one
  // message; then the questions asked so far.
  sensor.toWorker = toWorker;
  sensor.onLeave = handover;
  sensor.onRestore = restore;
  post();
  sensor.onFact = () => { if (!queued) { queued = true; queueMicrotask(post) } };
  for (const method of /** @type {const} */ (["flush", "pending", "status", "stop"])) sensor.api[method] = () => ask(method);
  sensor.api.onReady = (callback) => ready ? queueMicrotask(callback)
    : document.addEventListener("glood:tracker:ready", () => callback(), { once: true });
  for (const [method, resolve] of sensor.asks.splice(0)) resolve(ask(method));
};

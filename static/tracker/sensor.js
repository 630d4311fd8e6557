/* Glood tracker sensor (main thread, inline in <head>, minified by the build): records DOM facts from the first
   moment and, when the page is left, keeps what the next page needs. It judges nothing: Python in the worker does.
   After the page has loaded it imports relay.js, which starts the worker, posts it the facts and does the sending;
   the two share the `Sensor` interface (types.d.ts). Whatever only matters once relay.js runs lives there: every
   byte here is in every page (docs/decisions.md, "What the inline sensor holds"). Messages and facts:
   tracker/core/protocol.py, docs/design.md §6. */
// @ts-check
(() => {
  const PREFIX = "glood_tracker:";
  const script = /** @type {HTMLScriptElement} */ (document.currentScript);
  /** @type {import("./protocol.js").Runtime} */
  const runtime = JSON.parse(script.dataset.runtime || "{}");
  const origin = performance.timeOrigin, now = () => origin + performance.now();
  // (randomUUID exists only in secure contexts: a store tried on a LAN address over http gets the fallback, the
  // random version 4 UUID every engine ends a blob URL with; the empty Blob stays registered until the page goes.)
  const uuid = () => crypto.randomUUID ? crypto.randomUUID() : URL.createObjectURL(new Blob).slice(-36);
  /** `use()`, or undefined when it throws. @template T @param {() => T} use @returns {T | undefined} */
  const attempt = use => { try { return use() } catch (error) {} };
  /** localStorage (sessionStorage when `session`), or undefined where storage throws.
   * @template T @param {(storage: Storage) => T} use @param {1} [session] @returns {T | undefined} */
  const withStorage = (use, session) => attempt(() => use(session ? sessionStorage : localStorage));
  /** @param {string} id */
  const textOf = id => { const element = document.getElementById(id); return element ? element.textContent : null };
  const pageId = uuid(), pageviewId = uuid();
  const navigation = /** @type {PerformanceNavigationTiming | undefined} */ (performance.getEntriesByType("navigation")[0]);

  const api = window.gloodTracker = window.gloodTracker || /** @type {import("./types").GloodTracker} */ ({}), stub = api.q;
  /** @type {import("./types").Sensor} */
  const sensor = {
    runtime, api,
    // The page's start-up facts, captured now (time origin, visibility, page context at its start), never when it
    // is left: the next page judges the page from them if this page's worker never did.
    start: {page: pageId, pv: pageviewId, t0: origin + (navigation?.activationStart || 0),
      url: location.href, ref: document.referrer, title: document.title, vw: innerWidth, vh: innerHeight,
      ua: navigator.userAgent, vis: document.visibilityState == "visible", pd: textOf("glood-page")},
    previous: null, quiet: 0, left: 0, rejected: 0, facts: [], sections: new Map(), asks: [], listeners: [], observers: [],
    text: textOf,
    // (Numbered in order from 1; relay.js posts them to the worker.)
    fact: (kind, fields, time) => {
      facts.push(/** @type {import("./protocol.js").Fact} */ ({s: ++seq, t: time || now(), k: kind, ...fields}));
      sensor.onFact?.();
    },
    keep: handover => keep(handover),
  };
  const facts = sensor.facts, sections = sensor.sections, fact = sensor.fact;
  let seq = 0, leftAt = 0;
  // This tab's previous page; its cart form post, if it left with one (this page is the answer).
  const POST = PREFIX + "post";
  withStorage(storage => {
    sensor.previous = storage.getItem(PREFIX + "tab"); storage.setItem(PREFIX + "tab", pageId);
    const post = storage.getItem(POST); storage.removeItem(POST); post && fact("post", JSON.parse(post));
  }, 1);

  // Sections: found at DOMContentLoaded, then added, removed or re-served (MutationObserver); visibility (IntersectionObserver).
  const SECTION = "[data-glood-section]", PRODUCT = "[data-glood-product-id]";
  /** @type {WeakMap<Element, number>} */
  const keys = new WeakMap();
  let lastKey = 0, pageData = sensor.start.pd;
  /** @param {Element | null} element @returns {[string, string | null] | null} */
  const productOf = element => element instanceof HTMLElement
    ? [element.dataset.gloodProductId || "", element.dataset.gloodVariantId || null] : null;
  /** @param {DOMRectReadOnly | null} rect */
  const area = rect => rect ? rect.width * rect.height : 0;
  const visibility = new IntersectionObserver(entries => document.prerendering || entries.forEach(entry => {
    const key = keys.get(entry.target);
    key && fact("io", {i: key, r: [area(entry.intersectionRect), area(entry.boundingClientRect), area(entry.rootBounds)]},
      origin + entry.time);
  }), {threshold: [...Array(11).keys()].map(tenth => tenth / 10)}); // 0, 0.1, ..., 1
  /** @param {Element | null} element @returns {Record<string, string>} its `data-glood*` attributes (none without it) */
  const attrsOf = element => {
    return /** @type {Record<string, string>} */ (Object.fromEntries(Object.entries(/** @type {HTMLElement} */ (element)?.dataset || {}).filter(([name]) => name.startsWith("glood"))));
  };
  /** @param {Element} element @returns {number} */
  const watch = element => {
    const known = keys.get(element);
    if (known) return known;
    const key = ++lastKey;
    keys.set(element, key); sections.set(key, element);
    fact("sec", {i: key, a: attrsOf(element), p: [...element.querySelectorAll(PRODUCT)].map(productOf)});
    visibility.observe(element);
    return key;
  };
  /** @param {number} key @param {Element} element */
  const forget = (key, element) => { sections.delete(key); keys.delete(element); visibility.unobserve(element); fact("gone", {i: key}) };
  /** @param {Node} root */
  const scan = root => {
    // (Only elements and documents match or hold elements: other nodes have neither method.)
    /** @type {Element} */ (root).matches?.(SECTION) && watch(/** @type {Element} */ (root));
    /** @type {Element} */ (root).querySelectorAll?.(SECTION).forEach(watch);
  };
  const changes = new MutationObserver(records => {
    for (const record of records) {
      const target = /** @type {Element} */ (record.target);
      if (record.type != "attributes") record.addedNodes.forEach(scan);
      else if (keys.has(target)) { forget(keys.get(target) || 0, target); watch(target) } // re-served: a new render
    }
    for (const [key, element] of sections) element.isConnected || forget(key, element);
    const text = textOf("glood-page");
    text != pageData && fact("pd", {pd: pageData = text});
  });

  // Shopper actions: clicks (also middle and modifier clicks) on recommended products, cart changes.
  const CART_ADD = 'form[action$="/cart/add"]';
  /** @param {Element | null} section @param {Element | null} product */
  const mark = (section, product) => { cause = {i: section ? watch(section) : 0, p: productOf(product)}; setTimeout(settle) };
  // Clicks, middle clicks and submits: a click in a section's product (not on its add-to-cart form) is a `click`;
  // a cart form's submit is followed to its end (below).
  /** @param {Event} event */
  const act = event => {
    const target = /** @type {HTMLFormElement} */ (event.target), section = target.closest?.(SECTION), product = target.closest?.(PRODUCT);
    if (event.type == "submit") {
      const u = target.getAttribute?.("action");
      cartCall(u) && (mark(section, product), submitted = () => event.defaultPrevented || allowed() && withStorage(storage => storage.setItem(POST,
        JSON.stringify({u, b: [...new FormData(target)], a: attrsOf(section), p: productOf(product), pd: pageData})), 1));
    } else section && product && (mark(section, product), !target.closest(CART_ADD) && /** @type {MouseEvent} */ (event).button < 2 // a click (0) or a middle click (1, auxclick)
      && fact("click", {...cause, b: /** @type {MouseEvent} */ (event).button}));
  };
  // A cart form's submit: when the theme intercepts it (defaultPrevented, final once the event is dispatched) its
  // fetch is what counts; a post nobody intercepted leaves the page with it, and the next page, whose cart is the
  // answer, records it (a `post` fact) from sessionStorage.
  /** @type {(() => void) | 0} */
  let submitted = 0;
  const settle = () => {
    const post = submitted;
    cause = {i: 0, p: null}; submitted = 0;
    post && post();
  };
  // Cart changes: Shopify's AJAX Cart API called by fetch or XMLHttpRequest, recorded raw with its answer (an `ajax`
  // fact, judged by tracker/core/cart.py: docs/design.md §6, "Cart changes"). A submit or click in a product marks
  // the calls started while it is dispatched (`cause`, until the next task) with its section and product.
  // (The URL is tested as given, loosely: a call that only looks like one, `/cart/add-ons` or `?next=/cart/add`, is
  // recorded too, and the core, which judges the path exactly, ignores it.)
  const CART = /\/cart\/(add|change|update|clear)\b/;
  /** @type {{i: number, p: [string, string | null] | null}} */
  let cause = {i: 0, p: null};
  /** A call to `target` (a URL, its text or a Request) with `body`, started by `by`: when it is the cart API's, what
   * records its answer (the status, 0 for none; the text, null when not read). The body: text as it is, the entries of
   * what has them (a FormData's or URLSearchParams' [name, value] pairs; a typed array's numbers, which the core
   * ignores), else null (a Blob, a stream: not read).
   * @param {any} target @param {any} [body] @returns {false | ((st: number, r: string | null) => void)} */
  const cartCall = (target, body, by = cause) => {
    const u = String(target?.url || target);
    return CART.test(u) && (b => (/** @type {number} */ st, /** @type {string | null} */ r) => fact("ajax", {u, b, st, r, ...by}))(
      typeof body == "string" ? body : body?.entries ? [...body] : null);
  };
  // The very promise the browser's fetch gave is returned (the same Response, the same error): the sensor reads a
  // clone, taken in its own reaction, which runs before the page's (so the body is still unread). (A Request's own
  // body is not read: b is null.)
  const fetch0 = fetch;
  window.fetch = /** @type {typeof fetch} */ (function (/** @type {Parameters<typeof fetch>} */ ...args) {
    const promise = fetch0.apply(this, args), done = cartCall(args[0], args[1]?.body);
    done && promise.then(response => response.clone().text().then(text => done(response.status, text))).catch(() => done(0, null));
    return promise;
  });
  // An XMLHttpRequest is judged at its load by its final URL (an answer from a cart path), with the body and cause
  // of its object's last send (one listener an object; a request cut short by open() has no load): its text (the
  // "" and "text" response types), else its value as JSON ("json"; a Blob, a buffer or a document give what the
  // core cannot read). A request that failed has no answer to judge. (Not seen: an answer whose object a load
  // listener of the page, added before the sensor's, opens again at once: open() empties it first.)
  const xhr = XMLHttpRequest.prototype, send0 = xhr.send;
  /** @type {WeakMap<XMLHttpRequest, [unknown, typeof cause]>} */
  const sent = new WeakMap();
  xhr.send = function (body) {
    sent.has(this) || this.addEventListener("load", () => {
      const done = cartCall(this.responseURL, .../** @type {[unknown, typeof cause]} */ (sent.get(this))), response = this.response;
      done && done(this.status, typeof response == "string" ? response : JSON.stringify(response));
    });
    sent.set(this, [body, cause]);
    return send0.call(this, body);
  };
  // May the page store what the next page needs (a record, a form post)? The worker's word (its last hold), else the
  // page's: never under Global Privacy Control when the build honours it; on a Shopify page, its Customer Privacy
  // API's (pending, so no, until loaded: relay.js loads it); elsewhere setConsent(), else the require_consent setting.
  /** @type {boolean | undefined} */
  let given;
  const allowed = () => sensor.hold ? sensor.hold.c == "granted" : !(navigator.globalPrivacyControl && runtime.gpc)
    && (window.Shopify ? !!attempt(() => window.Shopify?.customerPrivacy?.analyticsProcessingAllowed())
      : given ?? !(window.gloodTrackerConfig?.require_consent ?? runtime.rc));

  // Leaving (hidden, or pagehide): relay.js sends the bodies of the worker's last hold (and tells the worker), then
  // one record keeps what the next page needs (docs/design.md §6, "The handover rule").
  const RECORD = PREFIX + "facts:" + pageId;
  /** @param {import("./types").Handover} [handover] what relay.js sent (none before it runs) */
  const keep = handover => withStorage(storage => {
    // Every body of the hold went (relay.js removed the stored backlog they carried) and no fact waits: nothing left
    // to hand over.
    if (handover?.all && !facts.length) {
      sensor.kept = false; sensor.left = 0;
      return storage.removeItem(RECORD);
    }
    /** @type {import("./protocol.js").Record} */
    const record = {v: 1, seen: Date.now(), boot: sensor.start, st: sensor.hold?.st, f: facts, x: 0,
      sent: handover?.sent, dup: handover?.dup, quiet: sensor.quiet};
    // Over 64 KiB: the latest facts are cut in proportion (a few passes, never one JSON text per fact).
    let text = JSON.stringify(record);
    while (text.length > 65536 && record.f.length) {
      record.f = record.f.slice(0, Math.min(record.f.length - 1, record.f.length * 6e4 / text.length | 0));
      record.x = facts.length - record.f.length;
      text = JSON.stringify(record);
    }
    storage.setItem(RECORD, text);
    // Written: its facts (up to `left`; not those cut to fit, counted in `x`) and the stored backlog belong to it.
    const last = record.f[record.f.length - 1];
    sensor.kept = true; sensor.left = last ? last.s : sensor.hold?.upto || 0; leftAt = record.seen;
  });
  const leave = () => {
    // Gone already (pagehide comes before the last visibilitychange): the record may be another page's by now.
    if (document.prerendering || sensor.stopped || sensor.gone) return;
    scan(document);
    if (!allowed()) return;
    keep(sensor.onLeave?.(true));
  };
  // Visible again (never left, `taken` false): the record goes; the worker judges everything live. Or restored from
  // the back/forward cache: the record this page left is still there (taken back), or another page took it, and
  // with it the facts up to `left` and every event made until it was written: the worker drops those (told so when
  // it runs; a worker booted later drops the facts by its boot's `quiet` and has made no event before).
  /** @param {boolean} taken */
  const back = taken => {
    withStorage(storage => storage.removeItem(RECORD));
    if (taken) { sensor.quiet = sensor.left; sensor.toWorker?.({t: "taken", upto: sensor.left, at: leftAt}) }
    sensor.kept = false; sensor.left = 0; sensor.gone = false;
    sensor.onRestore?.(taken);
  };
  const restored = () => back(!!sensor.kept && withStorage(storage => storage.getItem(RECORD)) === null);
  /** @param {() => void} [granted] */
  const lock = granted => navigator.locks ? navigator.locks.request(PREFIX + "tab:" + pageId, () => {
    granted?.();
    return new Promise(release => sensor.release = () => release(0));
  }).catch(() => {}) : granted?.();
  // relay.js (and with it the worker) starts once: after the page's load, at idle; or at DOMContentLoaded when an
  // earlier page of this build was ready, so that the runtime is in the HTTP cache and the worker fetches nothing
  // ("warm", written by relay.js; a first visit, and Lighthouse's cold load, keep the start after load).
  const start = () => document.prerendering || started++
    || import(runtime.relay).then(module => module.default(sensor),
      // Not loaded (the network, or the page left meanwhile): the page is marked, the record still kept at leaving.
      () => { document.documentElement.dataset.gloodTracker = "error" });
  const idle = () => (window.requestIdleCallback || setTimeout)(start, {timeout: 2000});
  let started = 0;
  sensor.listeners = [[document, "click", act], [document, "auxclick", act], [document, "submit", act],
    [document, "visibilitychange", () => {
      const visible = document.visibilityState == "visible";
      fact("vis", {v: visible});
      visible ? sensor.gone || back(false) : leave();
    }],
    // Gone: nothing more is sent (relay.js holds the worker's requests) until a restore says whether the record
    // was taken; the tab lock is released, so another page may take the record.
    [window, "pagehide", () => { settle(); leave(); sensor.gone = true; sensor.release?.(); sensor.release = undefined }],
    [window, "pageshow", (/** @type {PageTransitionEvent} */ event) => {
      if (!event.persisted) return;
      fact("show", {pv: uuid()});
      // The tab lock is taken back under the adoption lock, so an adopting worker either took the record or sees
      // this page alive.
      navigator.locks ? navigator.locks.request(PREFIX + "adopt", () => new Promise(done => lock(() => { restored(); done(0) })))
        .catch(restored) : restored();
    }]];
  sensor.observers = [visibility, changes];

  // The public API: each call is a `call` fact made at once (its id too), its arguments as JSON text taken now (text,
  // so that however deep the data is, posting it to the worker cannot overflow the stack; the worker judges it).
  // Refused here, with a console error and counted: track() without a name, and arguments that are not JSON
  // (cycles, functions, BigInt, throwing getters). Questions (flush, pending, status, stop) are relay.js's to
  // answer with the worker: until it runs they wait in `asks`.
  /** @param {string} why */
  const refuse = why => { sensor.rejected++; console.error("[glood-tracker] " + why) };
  /** @param {string} method @param {unknown[]} args @returns {string | undefined} */
  const json = (method, args) => {
    try {
      if (method == "track" && typeof args[0] != "string") throw "no name";
      return JSON.stringify(args, (key, item) => { if (typeof item == "function") throw TypeError(key + " is a function"); return item });
    } catch (error) { refuse(method + "(" + String(args[0]).slice(0, 80) + ") rejected: " + error) }
  };
  /** @param {"track" | "consent" | "identify" | "reset"} method @param {unknown[]} args @param {number} [time]
   * @returns {string | null} the call's id; null when refused, stopped, or for track() once consent is denied */
  const call = (method, args, time) => {
    const text = json(method, args);
    if (!text || sensor.stopped || method == "track" && (given === false || sensor.hold?.c == "denied")) return null;
    const id = uuid();
    fact("call", {m: method, a: text, e: id}, time);
    return id;
  };
  // (The arguments as given: the worker reads missing ones as null.)
  api.track = (...args) => call("track", args);
  api.setConsent = granted => { call("consent", [given = !!granted]) };
  api.identify = (...args) => { call("identify", args) };
  api.reset = () => { call("reset", []) };
  // page(data): a `pd` fact like a new #glood-page (its text is the data's JSON: the argument list's, unwrapped).
  api.page = data => { const text = json("page", [data]); text && fact("pd", {pd: text.slice(1, -1)}) };
  // (Not ready before relay.js runs, which replaces onReady.)
  api.onReady = callback => document.addEventListener("glood:tracker:ready", () => callback(), {once: true});
  for (const method of /** @type {const} */ (["flush", "pending", "status", "stop"]))
    api[method] = () => new Promise(resolve => sensor.asks.push([method, resolve]));
  api.ready = false;
  api.version = runtime.version;
  delete api.q;
  // An older stub's queue ([time, name, data, customData] entries): replayed as track() calls at their own times,
  // each bad entry refused on its own (a queue that is not an array is one bad entry).
  stub == null || /** @type {unknown[]} */ ([]).concat(stub).forEach((entry, index) => Array.isArray(entry)
    ? call("track", entry.slice(1), +entry[0] || 0) : refuse("gloodTracker.q: entry " + index + " is not an array, refused"));

  sensor.listeners.forEach(([target, type, listener]) => target.addEventListener(type, listener, true));
  lock();
  const begin = () => {
    sensor.start.pd = pageData = textOf("glood-page"); sensor.start.title = document.title;
    scan(document);
    changes.observe(document.documentElement, {childList: true, subtree: true, attributeFilter: ["data-glood-serve-id"]} /* (attributes: implied) */);
    withStorage(storage => storage.getItem(PREFIX + "warm")) == runtime.relay && start();
  };
  document.readyState == "loading" ? document.addEventListener("DOMContentLoaded", begin) : begin();
  document.prerendering && document.addEventListener("prerenderingchange", () => {
    sensor.start.t0 = now(); sensor.start.vis = document.visibilityState == "visible";
    sections.forEach(element => { visibility.unobserve(element); visibility.observe(element) });
    idle();
  });
  document.readyState == "complete" ? idle() : window.addEventListener("load", idle);
})();

// The tracker's worker: loads Pyodide and the tracker package, then hands every message to Python as JSON text.
// The first message is the sensor's boot message; messages that arrive while Python loads wait, in order.
// The tracker is the build's wheel (`python -m tracker build`), fetched while Pyodide boots and unpacked into
// /glood: as fast as the old zip, and ~150 ms less than Pyodide's loadPackage/`packages` (docs/performance.md).
// `lock` is the build's lockfile (it also names the wheel), `stdlib` its standard library.
//
// Return visits restore a memory snapshot instead of booting Python: once Python is ready and the page has been
// quiet a while, a throwaway worker (this script again, which the page starts when this worker asks, told to make a
// snapshot) boots Pyodide with the tracker imported, snapshots its whole heap (Pyodide's experimental
// `_makeSnapshot` / `makeMemorySnapshot`), gzips it and stores it in Cache Storage under a key made of the build's
// hashed runtime URLs. A later page restores it (`_loadSnapshot`): Python's state as it was, the tracker imported.
// Anything else (no Cache Storage, nothing stored, another build's snapshot, a corrupt one, a restore that fails)
// boots the normal way, and `status().boot` says which (docs/performance.md, "Python ready on return visits").
// A snapshot holds Python's heap, not the file system: the stdlib zip is installed again by loadPyodide and the
// wheel is unpacked again into /glood (for anything imported later). localStorage `glood_tracker:snapshot` = "off"
// turns snapshots off (neither restored nor made), for measurements.

const CACHE = "glood-tracker-snapshot";
// After the first ready, how long the page's worker waits before it starts a snapshot's maker (the page's own work
// first).
const MAKE_AFTER_MS = 1500;
const OFF_KEY = "glood_tracker:snapshot";

/** What status().boot reports: how Python started and, once tried, how the snapshot was made. */
const boot = {
  snapshot: "off", // restored | missing | other-build | corrupt | refused | unsupported | off
  /** @type {Record<string, number>} */
  ms: {},
  /** @type {string | null} */
  made: null, // making | stored | refused | failed | left (the page was left meanwhile) | consent (waiting for it) | null (not tried)
  /** @type {Record<string, number | string>} */
  make: {},
  ready_at: 0,
  /** @type {string | undefined} what threw while the stored snapshot was looked up (it then counts as missing) */
  lookup_error: undefined,
};

let handle = null;
const early = [];
/** @type {((report: {made: string, make: Record<string, number | string>}) => void) | null} the maker's report's taker */
let reported = null;
self.onmessage = async (event) => {
  if (event.data && event.data.t === "make-snapshot") return make(event.data);
  if (event.data && event.data.t === "made") return reported && reported(event.data);
  const text = JSON.stringify(event.data);
  if (handle) return handle(text);
  early.push(text);
  if (early.length > 1) return;
  const { rt } = event.data;
  try {
    // The runtime starts at once; the hook's module (if any) loads meanwhile.
    // Absolute URLs (relative ones as the page resolves them): Pyodide resolves the wheel against the lockfile's.
    const url = (u) => u && new URL(u, event.data.page.url).href;
    const abs = { pyodide: url(rt.pyodide), index: url(rt.index), lock: url(rt.lock), stdlib: url(rt.stdlib),
      wheel: url(rt.wheel) };
    const wheel = fetchWheel(abs.wheel);
    const off = (event.data.store || {})[OFF_KEY] === "off";
    const runtime = start(abs, off);
    for (const p of [wheel, runtime]) p.catch(() => {}); // awaited below, not unhandled while the hook loads
    // The merchant's before_send hook (config: the URL of a module whose default export takes an event).
    let hook; // undefined (None in Python) unless the config names a module
    try {
      const cfg = { ...JSON.parse(event.data.cfg || "{}"), ...(event.data.ov || {}) };
      if (cfg.before_send) hook = (await import(new URL(cfg.before_send, event.data.page.url))).default;
    } catch (error) {
      self.postMessage({ t: "log", l: "error", m: `before_send not loaded: ${error}` });
    }
    const pyodide = await runtime;
    const unpacked = performance.now();
    // Restored or not, the wheel's files go to /glood (a snapshot keeps the imported modules, not the files).
    pyodide.unpackArchive(await wheel, "wheel", { extractDir: "/glood" });
    if (boot.snapshot !== "restored") pyodide.runPython("import sys; sys.path.insert(0, '/glood')");
    const start_ = pyodide.pyimport("tracker.browser").start;
    boot.ms.import = Math.round(performance.now() - unpacked);
    /** @type {string | null} the consent of the worker's last hold (null: none yet) */
    let consent = null;
    let made = false, ready = false;
    const post = (out) => {
      const message = JSON.parse(out);
      self.postMessage(message);
      if (message.t === "hold") consent = message.c;
      if (message.t === "ready") ready = true;
      // After the first ready with consent granted (the holds say it): a visitor who denied or has not answered
      // gets nothing of ours stored, not even this cache, and no CPU spent on it.
      if (!ready || made || off || consent === null) return;
      if (consent !== "granted") boot.made = "consent"; // waits for consent
      else {
        made = true;
        boot.made = null;
        setTimeout(() => requestSnapshot(abs).catch((error) => {
          boot.made = "failed";
          boot.make.error = String(error);
        }), MAKE_AFTER_MS);
      }
    };
    const py = start_(early.shift(), post, hook, () => JSON.stringify(boot));
    start_.destroy();
    boot.ms.ready = Math.round(performance.now()); // since the worker started
    boot.ready_at = Math.round(performance.timeOrigin + performance.now()); // epoch ms (the bench subtracts the page's)
    handle = (t) => py(t);
    self.addEventListener("message", (e) => e.data && e.data.t === "bye" && py.destroy());
    while (early.length) handle(early.shift());
  } catch (error) {
    self.postMessage({ t: "log", l: "error", m: `the tracker's runtime did not start: ${error}` });
    self.postMessage({ t: "error" });
  }
};

/** @param {string} url */
const fetchWheel = (url) => fetch(url).then((r) => {
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  return r.arrayBuffer();
});

/** The Cache Storage key of this build's snapshot: every runtime URL is content-hashed, so they name the build. */
const keyOf = (abs) => new URL(`glood-tracker-snapshot/${encodeURIComponent(
  [abs.pyodide, abs.lock, abs.stdlib, abs.wheel, import.meta.url].join(" "))}`, abs.index).href;

const options = (abs) => ({ indexURL: abs.index, lockFileURL: abs.lock, stdLibURL: abs.stdlib });

/** Pyodide, restored from this build's snapshot when there is a good one, else booted; `boot` says which. */
async function start(abs, off) {
  const began = performance.now();
  const { loadPyodide } = await import(abs.pyodide);
  if (!off) {
    const stored = await lookup(keyOf(abs));
    if (stored) {
      try {
        const pyodide = await loadPyodide({ ...options(abs), _loadSnapshot: stored.bytes });
        boot.snapshot = "restored";
        boot.ms.runtime = Math.round(performance.now() - began);
        return pyodide;
      } catch (error) {
        boot.snapshot = "corrupt";
        self.postMessage({ t: "log", l: "warn", m: `the stored snapshot did not restore (${error}); booting` });
        forget(keyOf(abs));
      }
    }
  }
  const pyodide = await loadPyodide(options(abs));
  boot.ms.runtime = Math.round(performance.now() - began);
  return pyodide;
}

/** The snapshot stored for `key` ({bytes}: a Promise, read and unzipped while Pyodide's files load), or null;
 * sets boot.snapshot to why not. */
async function lookup(key) {
  let cache;
  try {
    if (!self.caches) {
      boot.snapshot = "unsupported";
      return null;
    }
    cache = await caches.open(CACHE);
  } catch (error) {
    boot.snapshot = "refused"; // storage blocked (private browsing, site data refused)
    return null;
  }
  const found = performance.now();
  // (A lookup that throws counts as nothing stored; status().boot.lookup_error says what threw.)
  const failed = (/** @type {string} */ step) => (/** @type {unknown} */ error) => {
    boot.lookup_error = `${step}: ${error}`;
    return undefined;
  };
  const response = await cache.match(key).catch(failed("match"));
  if (!response || !response.body) {
    const keys = await cache.keys().catch(failed("keys"));
    boot.snapshot = keys && keys.length ? "other-build" : "missing";
    return null;
  }
  const expected = Number(response.headers.get("x-glood-bytes"));
  const unzipped = new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  const bytes = unzipped.then((data) => {
    boot.ms.read = Math.round(performance.now() - found);
    if (data.byteLength !== expected) throw new Error(`${data.byteLength} bytes, ${expected} stored`);
    return new Uint8Array(data);
  });
  bytes.catch(() => {}); // awaited by loadPyodide, maybe after it failed: not an unhandled rejection meanwhile
  return { bytes };
}

/** @param {string} key */
function forget(key) {
  caches.open(CACHE).then((cache) => cache.delete(key)).catch(() => {});
}

/** After the first ready: a throwaway worker makes this build's snapshot, unless one is stored; what happened goes
 * to boot.made ("making" meanwhile). The page starts that worker (relay.js, on a `maker` message) and hands its
 * report back (`made`): never this worker, whose thread a nested worker's constructor held for good in Firefox ESR
 * now and then (nothing the tracker had queued was sent after it, status() never answered). The page ends it when
 * it is left (pagehide).
 *
 * No Web Lock keeps two pages from making it at once (two tabs that reach their first ready together both make it,
 * the same bytes under the same key): a page in Chromium's back/forward cache whose worker holds a lock, or asks
 * for one, is taken out of the cache when another page asks for it, and a worker ended at pagehide can keep its
 * lock while the page is frozen. */
async function requestSnapshot(abs) {
  const key = keyOf(abs);
  try {
    const cache = await caches.open(CACHE);
    if (await cache.match(key)) return;
  } catch (error) {
    boot.made = "refused";
    return;
  }
  boot.made = "making";
  const report = await new Promise((resolve) => {
    reported = resolve;
    self.postMessage({ t: "maker", abs, key });
  });
  reported = null;
  Object.assign(boot.make, report.make);
  boot.made = report.made;
}

/** The maker (a throwaway worker): boots Pyodide with the tracker imported, snapshots it, stores it gzipped. */
async function make({ abs, key }) {
  const began = performance.now();
  const report = { t: "made", made: "failed", make: {} };
  try {
    // Another page may have made it since this page's worker looked.
    if (await caches.open(CACHE).then((cache) => cache.match(key)).catch(() => undefined)) {
      report.made = "stored";
      self.postMessage(report);
      return;
    }
    const wheel = fetchWheel(abs.wheel);
    const { loadPyodide } = await import(abs.pyodide);
    const pyodide = await loadPyodide({ ...options(abs), _makeSnapshot: true });
    pyodide.unpackArchive(await wheel, "wheel", { extractDir: "/glood" });
    // Nothing JavaScript may be held by Python but what is reachable from the worker's globals: the tracker is
    // imported, never started, here.
    pyodide.runPython("import sys; sys.path.insert(0, '/glood'); import tracker.browser");
    const raw = pyodide.makeMemorySnapshot();
    report.make.boot_ms = Math.round(performance.now() - began);
    const zipped = await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).blob();
    report.make.bytes = raw.length;
    report.make.stored_bytes = zipped.size;
    const cache = await caches.open(CACHE);
    for (const old of await cache.keys()) if (old.url !== key) await cache.delete(old);
    try {
      await cache.put(key, new Response(zipped, { headers: { "content-type": "application/octet-stream",
        "x-glood-bytes": String(raw.length) } }));
      report.made = "stored";
    } catch (error) {
      report.made = "refused"; // over quota
      report.make.error = String(error);
    }
  } catch (error) {
    report.make.error = String(error);
  }
  report.make.ms = Math.round(performance.now() - began);
  self.postMessage(report);
}

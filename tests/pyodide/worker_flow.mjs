// The tracker's worker flow in Pyodide 314 in Node, as the worker runs it: loadPyodide, the tracker loaded (the
// wheel via the lockfile with loadPackage, as the built worker does, and the archive unpacked with unpackArchive,
// as static/tracker/worker.mjs does), runPython, pyimport("tracker.browser").start, then a sensor's
// messages (facts of every kind, API calls, answers with Retry-After, questions, storage snapshots, adoption of
// an earlier page, consent, a before_send hook, a bad config, a malformed message, errors crossing to
// JavaScript). It checks what the tracker posts back, and lists the standard library modules that were imported.
//
//   node --experimental-wasm-stack-switching tests/pyodide/worker_flow.mjs [--stdlib trimmed.zip] [--modules out.json]
//
// Without --stdlib the flow runs once on Pyodide's own python_stdlib.zip. With --stdlib it runs on Pyodide's
// zip, then again with loadPyodide's `stdLibURL` pointing at the given zip (a trimmed standard library,
// tracker/build/stdlib.py), and fails unless the second run passes too and imported every module the first did.
// --modules writes the first run's imported modules (sorted JSON) for tracker/build/stdlib_keep.txt.
// Nothing goes to the network: the tracker's requests are answered here, and any other http(s) fetch fails.
// Exit code 0 when every run passed, 1 when one failed, 3 when the set-up is wrong.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32, deflateRawSync } from "node:zlib";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const INDEX = join(ROOT, "node_modules", "pyodide") + sep;
const COLLECTOR = "https://collector.test"; // glood_url of the flow's config: answered by the fetch stub below

function fail(message) {
  console.error(`worker flow: ${message}`);
  process.exit(3);
}

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return null;
  if (!argv[i + 1]) fail(`${name} needs a value`);
  return argv[i + 1];
};
const trimmed = option("--stdlib");
const modulesOut = option("--modules");
if (!existsSync(join(INDEX, "pyodide.mjs"))) fail("node_modules/pyodide is missing: run bash scripts/setup.sh");
if (trimmed && !existsSync(trimmed)) fail(`${trimmed}: no such file`);

// -- the tracker: what the browser loads (tracker/__init__.py, core/, browser/; as tracker/build/wheel.py) ----
const SHIPPED = ["tracker/__init__.py", "tracker/core/", "tracker/browser/"];
function readTree(rel, files) {
  for (const entry of readdirSync(join(ROOT, rel)).sort()) {
    if (entry === "__pycache__") continue;
    const child = join(rel, entry);
    if (statSync(join(ROOT, child)).isDirectory()) readTree(child, files);
    else if (entry.endsWith(".py")) files.push(child.split(sep).join("/"));
  }
  return files;
}
const shipped = readTree("tracker", []).filter((rel) => SHIPPED.some((s) => rel === s || rel.startsWith(s)))
  .map((rel) => [rel, readFileSync(join(ROOT, rel))]);
const VERSION = /^__version__ = "([^"]+)"/m.exec(readFileSync(join(ROOT, "tracker", "__init__.py"), "utf8"))?.[1] ?? "0";

function zip(entries) { // [[name, Buffer]] -> Buffer (deflated entries, DOS time 1980-01-01, as demo_store/assets.py)
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, "utf8");
    // Python's zipfile (demo_store/assets.py) flags UTF-8 only for non-ASCII names; an unflagged name is read
    // back as cp437 (encodings.cp437), so the flow must see such names too.
    const flags = /^[\x00-\x7f]*$/.test(name) ? 0 : 0x0800;
    const packed = deflateRawSync(data, { level: 9 });
    const sum = crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(8, 8); local.writeUInt16LE(0, 10); local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(sum, 14); local.writeUInt32LE(packed.length, 18); local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26); local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(0x0314, 4); // made on Unix
    central.writeUInt32LE(0o100644 * 0x10000, 38); // -rw-r--r--, as demo_store/assets.py central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8); central.writeUInt16LE(8, 10); central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14); central.writeUInt32LE(sum, 16); central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24); central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
// The archive static/tracker/worker.mjs unpacks (demo_store/assets.py serves it) ...
const archiveBytes = zip(shipped);
// ... an ArrayBuffer, as the worker's `(await fetch(...)).arrayBuffer()`
const archive = archiveBytes.buffer.slice(archiveBytes.byteOffset, archiveBytes.byteOffset + archiveBytes.length);
// ... and the wheel named in a copy of Pyodide's lockfile, which the built worker loads (tracker/build/).
const PACKAGE = "glood-tracker";
const wheelName = `glood_tracker-${VERSION}-py3-none-any.whl`;
const distInfo = `glood_tracker-${VERSION}.dist-info`;
const wheelFiles = [...shipped,
  [`${distInfo}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: glood-tracker\nVersion: ${VERSION}\n`)],
  [`${distInfo}/WHEEL`, Buffer.from("Wheel-Version: 1.0\nGenerator: worker_flow\nRoot-Is-Purelib: true\nTag: py3-none-any\n")]];
wheelFiles.push([`${distInfo}/RECORD`, Buffer.from(wheelFiles.map(([name, data]) =>
  `${name},sha256=${createHash("sha256").update(data).digest("base64url")},${data.length}\n`).join("") + `${distInfo}/RECORD,,\n`)]);
const wheel = zip(wheelFiles);
const lockDir = mkdtempSync(join(tmpdir(), "glood-flow-"));
process.on("exit", () => rmSync(lockDir, { recursive: true, force: true }));
writeFileSync(join(lockDir, wheelName), wheel);
const lock = JSON.parse(readFileSync(join(INDEX, "pyodide-lock.json"), "utf8"));
lock.packages[PACKAGE] = { name: PACKAGE, version: VERSION, file_name: wheelName, install_dir: "site",
                           sha256: createHash("sha256").update(wheel).digest("hex"), package_type: "package",
                           imports: ["tracker"], depends: [], unvendored_tests: false };
writeFileSync(join(lockDir, "pyodide-lock.json"), JSON.stringify(lock));

// -- the worker scope: fetch (the tracker's requests), navigator.locks -------------------------------------
const realFetch = globalThis.fetch;
const refused = [];
const requests = [];
globalThis.fetch = async (url, options = {}) => {
  const href = String(url?.url ?? url);
  if (href.startsWith(COLLECTOR + "/")) {
    requests.push({ url: href, headers: Object.fromEntries(new Headers(options.headers || {})), body: options.body });
    const visit = `visit-${requests.length}`;
    return new Response(JSON.stringify({ visit_id: visit, token: `token-${visit}` }),
                        { status: 200, headers: { "content-type": "application/json" } });
  }
  if (/^(https?|wss?):/i.test(href)) {
    refused.push(href);
    throw new Error(`worker flow: network fetch refused: ${href}`);
  }
  return realFetch(url, options);
};
const heldLocks = new Set();
const locks = {
  async query() { return { held: [...heldLocks].map((name) => ({ name, mode: "exclusive" })), pending: [] }; },
  async request(name, callback) {
    while (heldLocks.has(name)) await new Promise((r) => setTimeout(r, 5));
    heldLocks.add(name);
    try { return await callback({ name, mode: "exclusive" }); } finally { heldLocks.delete(name); }
  },
};
// navigator is set only once Pyodide has started (Node 20 has none, and Pyodide would take its presence for a
// browser), and taken away before the next start.
function workerScope() {
  if (!globalThis.navigator) globalThis.navigator = { locks, flowMade: true };
  else if (!globalThis.navigator.locks) Object.defineProperty(globalThis.navigator, "locks", { value: locks });
}
function leaveWorkerScope() {
  if (globalThis.navigator?.flowMade) delete globalThis.navigator;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T0 = Date.now();

// -- one run --------------------------------------------------------------------------------------------
async function run(label, stdLibURL) {
  const problems = [];
  const check = (ok, what) => { if (!ok) problems.push(what); };
  const t0 = performance.now();
  const config = { indexURL: INDEX, lockFileURL: join(lockDir, "pyodide-lock.json"), stdout: () => {}, stderr: () => {} };
  if (stdLibURL) config.stdLibURL = stdLibURL;
  const { loadPyodide } = await import(pathToFileURL(join(INDEX, "pyodide.mjs")).href);
  let pyodide;
  try {
    pyodide = await loadPyodide(config);
  } catch (error) {
    return { label, problems: [`loadPyodide failed: ${error?.message ?? error}`], modules: [] };
  }
  workerScope();
  const stderr = [];
  pyodide.setStderr({ batched: (line) => stderr.push(line) });
  // Every import asked for from here on (the audit hook sees failed ones too).
  pyodide.runPython(`
import sys
_glood_asked = set()
def _glood_audit(event, args):
    if event == "import":
        _glood_asked.add(args[0])
sys.addaudithook(_glood_audit)
`);
  // Both ways a worker gets the tracker: the wheel through the lockfile (the built worker, tracker/build/),
  // and the archive unpacked (static/tracker/worker.mjs today; unpacked aside, the wheel's copy is used).
  const loadErrors = [];
  await pyodide.loadPackage(PACKAGE, { messageCallback: () => {}, errorCallback: (m) => loadErrors.push(m) });
  check(!loadErrors.length, `loadPackage(${PACKAGE}) failed: ${loadErrors.join(" | ")}`);
  pyodide.unpackArchive(archive, "zip", { extractDir: "/glood" });
  check(pyodide.FS.analyzePath("/glood/tracker/core/worker.py").exists, "unpackArchive left no tracker");
  pyodide.runPython("import sys; sys.path.append('/glood')");
  const start = pyodide.pyimport("tracker.browser").start;
  check(/site-packages/.test(pyodide.runPython("import tracker; tracker.__file__")), "the tracker is not the wheel's");

  // A sensor per page: applies storage writes, answers questions, sendBeacon-style answers for bodies.
  const pages = [];
  function page(name, boot, hook, answer) {
    const state = { name, posted: [], py: null };
    const post = (text) => {
      const m = JSON.parse(text);
      state.posted.push(m);
      if (m.t === "snap" || m.t === "store") {
        for (const [key, value] of m.w || []) {
          if (value === null) delete sharedStore[key]; else sharedStore[key] = value;
        }
        const reply = { t: "re", n: m.n, v: m.t === "snap" ? { ...sharedStore } : null };
        setTimeout(() => state.py && state.py(JSON.stringify(reply)), 0);
      } else if (m.t === "hold") {
        for (const [key, value] of m.w || []) {
          if (value === null) delete sharedStore[key]; else sharedStore[key] = value;
        }
      } else if (m.t === "send" && answer) {
        const answers = m.b.map((b, i) => answer(b, i));
        setTimeout(() => state.py && state.py(JSON.stringify({ t: "ans", a: answers })), 1);
      }
    };
    const handler = start(JSON.stringify(boot), post, hook);
    state.py = (text) => handler(text);
    state.destroy = () => handler.destroy();
    pages.push(state);
    return state;
  }
  const sharedStore = {};
  const cfg = (extra) => JSON.stringify({ shop_domain: "flow.myshopify.com", glood_url: COLLECTOR,
                                           glood_public_token: "public-token", flush_interval_ms: 300, ...extra });
  const pd = (extra) => JSON.stringify({ page_type: "product", product: { id: "p1", variant_id: "v1" },
                                         cart: { lines: [{ variant_id: "v1", product_id: "p1", quantity: 2 }] },
                                         ...extra });
  const bootOf = (id, extra) => ({
    t: "boot", cfg: cfg({}), dbg: false,
    page: { page: id, pv: `pv-${id}`, t0: T0, url: `https://shop.test/products/p1?utm_source=flow&id=${id}`,
            ref: "https://search.test/?q=shoes", title: "Shoes — flow", vw: 1280, vh: 800, ua: "Mozilla/5.0 flow",
            vis: true, pd: pd({}) },
    store: { ...sharedStore }, sig: { gpc: false, ua: "Mozilla/5.0 flow" },
    rt: { archive: "/tracker.zip", pyodide: "pyodide.mjs", index: "/" }, ...extra,
  });

  // before_send: a JavaScript function, as the worker imports it (edits one event, drops another).
  const hook = (event) => {
    if (event?.name === "drop_me") return null;
    return { ...event, custom_data: { ...(event?.custom_data || {}), edited: "ünïcödé ✓" } };
  };
  let n = 0;
  const answerCycle = (b, i) => {
    n += 1;
    if (n === 1) return [b.n, 429, "Wed, 21 Oct 2015 07:28:00 GMT"]; // an HTTP-date (email.utils)
    if (n === 2) return [b.n, 503, "1"];
    if (n === 3) return [b.n, null, null]; // a network failure
    if (n === 4) return [b.n, 400, "garbage date"];
    return [b.n, i % 2 ? 202 : 0, null];
  };

  // Page 1: debug, a product page, the hook; every kind of fact and call.
  const a = page("a", bootOf("page-a", { dbg: true }), hook, answerCycle);
  let s = 0;
  const fact = (k, extra) => ({ k, s: ++s, t: Date.now(), ...extra });
  a.py(JSON.stringify({ t: "facts", f: [
    fact("sec", { i: 1, a: { gloodSection: "recs", gloodServeId: "serve-1", gloodParentProductId: "p1" },
                  p: [["p2", "v2"], ["p3", null]] }),
    fact("io", { i: 1, r: [500, 600, 1000000] }),
    fact("vis", { v: true }),
    fact("click", { i: 1, p: ["p2", "v2"] }),
    fact("add", { i: 1, v: "v2", q: "3", p: ["p2", "v2"] }),
    fact("chg", { l: "1", v: "v1", q: "0" }),
    fact("call", { m: "track", a: JSON.stringify(["glood:custom_event", { value: 1.5, list: [1, "two", null] },
                                                  { note: "naïve ☃" }]), e: "evt-1" }),
    fact("call", { m: "track", a: JSON.stringify(["drop_me", {}]) }),
    fact("call", { m: "track", a: JSON.stringify(["x".repeat(300), "not an object"]) }),
    fact("call", { m: "track", a: "[".repeat(2000) + "]".repeat(2000) }), // too deep: rejected unparsed
    fact("call", { m: "identify", a: JSON.stringify(["customer-42", { plan: "gold" }]) }),
    fact("call", { m: "refused", a: JSON.stringify(["track", "bad arguments"]) }),
    fact("call", { m: "nope", a: "[]" }),
    fact("bogus", {}),
    fact("url", { url: "https://shop.test/collections/all#top", title: "All" }),
    fact("url", { url: "https://shop.test/collections/all?page=2", title: "All 2" }),
    fact("pd", { pd: JSON.stringify({ page_type: "collection", collection: { id: "c1" } }) }),
    fact("show", { pv: "pv-page-a-2" }),
    fact("gone", { i: 1 }),
  ] }));
  a.py("{not json");
  a.py(JSON.stringify({ t: "what" }));
  a.py(JSON.stringify({ t: "fail" }));
  a.py(JSON.stringify({ t: "ask", n: 1, m: "status" }));
  a.py(JSON.stringify({ t: "ask", n: 2, m: "pending" }));
  await sleep(1500); // view timers (1 s), the flush timer, holds, answers and retries
  a.py(JSON.stringify({ t: "ask", n: 3, m: "flush" }));
  await sleep(400);
  a.py(JSON.stringify({ t: "hide", sent: [["glood", ["evt-1"]]] }));
  a.py(JSON.stringify({ t: "facts", f: [fact("call", { m: "reset", a: "[]" })] }));
  a.py(JSON.stringify({ t: "ask", n: 4, m: "stop" }));
  await sleep(100);

  // Page 2: a later page of the same visit adopts page 1's records (page 1's lock is free); consent first,
  // then given; the earlier page named in `prev`.
  const b = page("b", bootOf("page-b", { prev: "page-a", cfg: cfg({ require_consent: true, transport: "fetch" }),
                                         page: { ...bootOf("page-b").page, pd: JSON.stringify({ page_type: "cart",
                                           cart: { lines: [] } }) } }), undefined, (bd) => [bd.n, 200, null]);
  heldLocks.add("glood_tracker:tab:page-b");
  b.py(JSON.stringify({ t: "facts", f: [fact("call", { m: "track", a: JSON.stringify(["glood:waiting", {}]) }),
                                        fact("call", { m: "consent", a: "[true]" })] }));
  await sleep(800);
  b.py(JSON.stringify({ t: "ask", n: 1, m: "status" }));
  b.py(JSON.stringify({ t: "facts", f: [fact("call", { m: "consent", a: "[false]" })] }));
  b.py(JSON.stringify({ t: "bye" }));

  // Page 3: Global Privacy Control, a bot filtered, a home page with bad page data.
  const c = page("c", bootOf("page-c", { sig: { gpc: true, webdriver: true, ua: "HeadlessChrome" },
                                         cfg: cfg({ filter_bots: true }),
                                         page: { ...bootOf("page-c").page, pd: "{broken" } }), null, null);
  c.py(JSON.stringify({ t: "facts", f: [fact("call", { m: "consent", a: "[true]" })] }));

  // Page 4: a configuration that is refused, and a boot that is not JSON.
  page("d", bootOf("page-d", { cfg: "[1, 2]" }), undefined, null);
  page("e", bootOf("page-e", { cfg: cfg({ max_batch: "many" }) }), undefined, null);
  await sleep(300);
  start.destroy();
  for (const p of pages) p.destroy();

  // Errors as the worker sees them: a Python exception crossing to JavaScript (its traceback formatted),
  // an exception in a task the loop reports, a warning.
  try {
    pyodide.runPython("def _glood_fail():\n    raise ValueError('flow: bad')\n_glood_fail()");
    check(false, "a Python exception did not reach JavaScript");
  } catch (error) {
    check(/ValueError: flow: bad/.test(String(error?.message)), `traceback not formatted: ${error?.message}`);
  }
  await pyodide.runPythonAsync(`
import asyncio, warnings
async def _glood_boom():
    raise RuntimeError("flow: task failed")
_glood_task = asyncio.ensure_future(_glood_boom())
await asyncio.sleep(0.01)
del _glood_task
warnings.warn("flow: a warning")
`);
  await sleep(50);

  // What the pages got.
  const kinds = (p) => p.posted.map((m) => m.t);
  const logs = (p, level) => p.posted.filter((m) => m.t === "log" && m.l === level).map((m) => m.m);
  const bodies = (p) => p.posted.filter((m) => m.t === "send").flatMap((m) => m.b);
  const events = (p) => bodies(p).concat(p.posted.filter((m) => m.t === "hold").flatMap((m) => m.b))
    .flatMap((body) => { try { const x = JSON.parse(body.x); return x.events || [x.event]; } catch { return []; } });
  // Glood's body: {event: {name, ...}}; Genlook's: {events: [{event: name, ...}]}
  const names = (p) => new Set(events(p).map((e) => (typeof e?.event === "string" ? e.event : e?.name)).filter(Boolean));
  for (const p of [a, b]) {
    check(kinds(p).includes("ready"), `page ${p.name}: no ready message`);
    check(kinds(p).includes("hold"), `page ${p.name}: no hold message`);
    check(!logs(p, "error").some((m) => /Error:|Traceback|ModuleNotFound|ImportError/.test(m)),
          `page ${p.name}: an exception was logged: ${logs(p, "error").join(" | ")}`);
  }
  check(kinds(a).includes("send"), "page a: nothing to send");
  const replies = a.posted.filter((m) => m.t === "reply").map((m) => m.n);
  check([1, 2, 3, 4].every((r) => replies.includes(r)), `page a: replies ${replies}`);
  const status = a.posted.find((m) => m.t === "reply" && m.n === 1)?.v;
  check(status && typeof status.client_id === "string" && status.consent === "granted", `page a: status ${JSON.stringify(status)}`);
  const errorsA = logs(a, "error").join("\n");
  for (const expected of ["not JSON", "unknown message", "rejected", "unknown call", "unknown fact kind"]) {
    check(errorsA.includes(expected), `page a: no error log "${expected}"`);
  }
  check(logs(a, "log").length > 0, "page a: no debug logs");
  const namesA = names(a);
  for (const expected of ["page_viewed", "product_viewed", "product_added_to_cart", "product_removed_from_cart"]) {
    check([...namesA].some((x) => x.includes(expected)), `page a: no ${expected} sent (${[...namesA].join(", ")})`);
  }
  check(requests.some((r) => /init/.test(r.url)), `no init request (${requests.map((r) => r.url).join(", ")})`);
  const [d, e] = pages.slice(3);
  for (const p of [d, e]) {
    check(kinds(p).includes("error") && logs(p, "error").some((m) => m.startsWith("not started")),
          `page ${p.name}: a bad config was not refused: ${JSON.stringify(p.posted)}`);
  }
  const text = stderr.join("\n");
  check(/flow: task failed/.test(text), `the failed task was not reported on stderr: ${text.slice(0, 400)}`);
  check(/flow: a warning/.test(text), "the warning was not shown");
  check(!/ModuleNotFoundError|ImportError/.test(text), `an import failed: ${text.slice(0, 2000)}`);

  // The zip in use is the one given: a module only the full standard library has (xml) is there or not.
  const hasXml = pyodide.runPython("import importlib.util; importlib.util.find_spec('xml') is not None");
  check(hasXml === !stdLibURL, `xml ${hasXml ? "is" : "is not"} importable: is stdLibURL in effect?`);

  const [modules, failed] = pyodide.runPython(
    "[sorted(sys.modules), sorted(n for n in _glood_asked if n not in sys.modules)]").toJs();
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`worker flow (${label}): ${problems.length ? "FAILED" : "passed"} in ${seconds} s; ` +
              `${modules.length} modules imported, ${events(a).length + events(b).length} events in bodies, ` +
              `${requests.length} requests answered`);
  if (failed.length) console.log(`worker flow (${label}): imports that failed (optional ones): ${failed.join(" ")}`);
  requests.length = 0;
  leaveWorkerScope();
  return { label, problems, modules, failed };
}

const results = [await run("Pyodide's python_stdlib.zip", null)];
if (modulesOut) writeFileSync(modulesOut, JSON.stringify(results[0].modules, null, 1) + "\n");
if (trimmed) {
  const second = await run(`stdLibURL=${trimmed}`, trimmed);
  const missing = results[0].modules.filter((m) => !second.modules.includes(m));
  if (missing.length) second.problems.push(`not imported with the trimmed zip: ${missing.join(" ")}`);
  results.push(second);
}
let code = 0;
for (const { label, problems } of results) {
  for (const p of problems) console.error(`worker flow (${label}): ${p}`);
  if (problems.length) code = 1;
}
if (refused.length) {
  console.error(`worker flow: network fetches were refused (they must not happen):\n  ${refused.join("\n  ")}`);
  code = Math.max(code, 3);
}
process.exit(code);

// The tracker's worker: loads Pyodide and the tracker package, then hands every message to Python as JSON text.
// The first message is the sensor's boot message; messages that arrive while Python loads wait, in order.
// The tracker is the build's wheel (`python -m tracker build`), fetched while Pyodide boots and unpacked into
// /glood: as fast as the old zip, and ~150 ms less than Pyodide's loadPackage/`packages` (docs/performance.md).
// `lock` is the build's lockfile (it also names the wheel), `stdlib` its standard library.
let handle = null;
const early = [];
self.onmessage = async (event) => {
  const text = JSON.stringify(event.data);
  if (handle) return handle(text);
  early.push(text);
  if (early.length > 1) return;
  const { rt } = event.data;
  try {
    // The runtime starts at once; the hook's module (if any) loads meanwhile.
    // Absolute URLs (relative ones as the page resolves them): Pyodide resolves the wheel against the lockfile's.
    const url = (u) => u && new URL(u, event.data.page.url).href;
    const wheel = fetch(url(rt.wheel)).then((r) => {
      if (!r.ok) throw new Error(`${rt.wheel} answered ${r.status}`);
      return r.arrayBuffer();
    });
    const runtime = import(url(rt.pyodide)).then(({ loadPyodide }) => loadPyodide({ indexURL: url(rt.index),
      lockFileURL: url(rt.lock), stdLibURL: url(rt.stdlib) }));
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
    pyodide.unpackArchive(await wheel, "wheel", { extractDir: "/glood" });
    pyodide.runPython("import sys; sys.path.insert(0, '/glood')");
    const start = pyodide.pyimport("tracker.browser").start;
    const py = start(early.shift(), (out) => self.postMessage(JSON.parse(out)), hook);
    start.destroy();
    handle = (t) => py(t);
    self.addEventListener("message", (e) => e.data && e.data.t === "bye" && py.destroy());
    while (early.length) handle(early.shift());
  } catch (error) {
    self.postMessage({ t: "log", l: "error", m: `the tracker's runtime did not start: ${error}` });
    self.postMessage({ t: "error" });
  }
};

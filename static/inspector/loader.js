// The inspector's loader (docs/inspector.md): imported by relay.js, after the page's load event, only while
// `?glood_inspect=1` is on for the tab. It keeps every debug message of the tracker's worker (`dbg`, from the
// first moment: the worker judges every fact the sensor buffered) until the Python app listens, then loads
// PyScript with the app. The build writes its config (URLs of PyScript, the app, the Pyodide interpreter the
// tracker's worker uses, the tracker's wheel) in place of the marker below.
// @ts-check

/** @type {{pyscript: string, pyscript_css: string, app: string, css: string, interpreter: string, wheel: string, plugins: string[], version: string}} */
const CONFIG = /*BUILD:CONFIG*/null;

/** Debug messages as JSON text, in order; and who listens (the Python app, once it runs). */
const log = /** @type {string[]} */ ([]);
const listeners = /** @type {Set<(text: string) => void>} */ (new Set());

/** A debug message of the worker (relay.js hands each one here). @param {unknown} message */
export const receive = (message) => {
  const text = JSON.stringify(message);
  log.push(text);
  listeners.forEach((listener) => { try { listener(text) } catch (e) { console.error("[glood-inspector]", e) } });
};

const absolute = (/** @type {string} */ url) => new URL(url, location.href).href;
const started = performance.now();

/** What the Python app reads: the messages so far, a way to listen, when the loader started, its config. */
const api = {
  log, started, config: CONFIG,
  /** @param {(text: string) => void} listener */
  listen(listener) { listeners.add(listener); return () => listeners.delete(listener) },
};
Object.defineProperty(window, "gloodInspector", { value: api, configurable: true });

const root = document.createElement("div");
root.id = "glood-inspector";
root.dataset.state = "loading";
root.setAttribute("role", "complementary");
root.setAttribute("aria-label", "Glood tracker inspector");
root.textContent = "Inspector: loading Python…";

for (const href of [CONFIG.pyscript_css, CONFIG.css]) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = absolute(href);
  document.head.append(link);
}
// PyScript reads the config of the first <script type="py" config> when it is imported: the script comes first.
const script = document.createElement("script");
script.type = "py";
script.src = absolute(CONFIG.app);
script.setAttribute("config", JSON.stringify({
  interpreter: absolute(CONFIG.interpreter), packages: [absolute(CONFIG.wheel)], plugins: CONFIG.plugins,
}));
script.addEventListener("py:error", () => { root.dataset.state = "error" });
document.body.append(root, script);
// The demo store's header toggle (`data-glood-inspect-toggle`): on, it turns the inspector off for the tab.
for (const toggle of document.querySelectorAll("a[data-glood-inspect-toggle]")) {
  toggle.setAttribute("href", "?glood_inspect=0");
  toggle.setAttribute("aria-pressed", "true");
  toggle.textContent = "Inspector on";
}
// PyScript composes the hooks of workers started from Python into a function made from text once its interpreter is
// up ('unsafe-eval', which a strict Content-Security-Policy such as the demo store's refuses). The inspector starts no
// worker: PyScript's one worker hook is removed at PyScript's first progress event, as its interpreter starts loading.
addEventListener("py:progress", () => {
  const core = /** @type {any} */ (globalThis)[Symbol.for("@pyscript/core")];
  if (core) core.hooks.worker.onBeforeRunAsync.clear();
}, { once: true });
import(absolute(CONFIG.pyscript)).catch((error) => {
  root.dataset.state = "error";
  root.textContent = "Inspector: PyScript did not load (" + error + ")";
});

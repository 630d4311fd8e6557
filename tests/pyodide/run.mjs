// Run the core's unit tests (tests/unit/test_core_*.py) inside Pyodide 314 (Python 3.14) in Node, with the
// npm `pyodide` package from node_modules/ (the runtime the browser worker uses), to catch constructs that only
// work in the CPython the unit tests otherwise run in.
//
//   node --experimental-wasm-stack-switching tests/pyodide/run.mjs [extra pytest args]
//   (or: bash scripts/pyodide_tests.sh [extra pytest args])
//
// pytest and its dependencies are wheels downloaded from PyPI at set-up (scripts/setup.sh, pinned in
// tests/pyodide/requirements.txt) into .cache/pyodide-wheels/; nothing is fetched here: any network fetch
// (e.g. Pyodide reaching for its CDN) is refused and fails the run. The repository's tracker/ package,
// tests/unit/test_core_*.py with the helper modules beside them, and pyproject.toml (pytest's settings) are
// copied into Pyodide's in-memory file system under /repo. The exit code is pytest's.
//
// The stack-switching flag (JSPI) lets tests block on asyncio's loop in Pyodide (see glood_pyodide.py).
// A test that kills the interpreter (a fatal Pyodide error: pytest cannot report it) is named, the run goes on
// without it in a fresh Pyodide, and the exit code is then at least 1.
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WHEELS = process.env.PYODIDE_WHEELS_DIR || join(ROOT, ".cache", "pyodide-wheels");
const INDEX = join(ROOT, "node_modules", "pyodide") + sep;
const REPO = "/repo"; // where the repository's files go in Pyodide's file system
const SUPPORT = "/glood-pyodide"; // the pytest plugin (tests/pyodide/glood_pyodide.py)

function fail(message) {
  console.error(`pyodide tests: ${message}`);
  process.exit(3); // pytest's "internal error" code: the run itself could not happen
}

// No network: everything Pyodide needs is on disk. Pyodide in Node reads local paths with fs, so fetch is
// only ever used for http(s) URLs, and any such attempt is a bug in this set-up.
const realFetch = globalThis.fetch;
const refused = [];
globalThis.fetch = async (url, ...rest) => {
  const href = String(url?.url ?? url);
  if (/^(https?|wss?):/i.test(href)) {
    refused.push(href);
    throw new Error(`pyodide tests: network fetch refused: ${href}`);
  }
  return realFetch(url, ...rest);
};

// The pinned wheels: name==version per line of tests/pyodide/requirements.txt.
const pins = readFileSync(join(ROOT, "tests", "pyodide", "requirements.txt"), "utf8")
  .split("\n").map((line) => line.replace(/#.*/, "").trim()).filter(Boolean)
  .map((line) => {
    const m = /^([A-Za-z0-9._-]+)==([^\s;]+)/.exec(line);
    if (!m) fail(`tests/pyodide/requirements.txt: cannot read "${line}"`);
    return { name: m[1], version: m[2] };
  });
const available = existsSync(WHEELS) ? readdirSync(WHEELS) : [];
const wheels = pins.map(({ name, version }) => {
  const stem = `${name.replace(/[-_.]+/g, "_").toLowerCase()}-${version}-`;
  const file = available.find((f) => f.endsWith(".whl") && f.toLowerCase().startsWith(stem));
  if (!file) fail(`no wheel for ${name}==${version} in ${relative(ROOT, WHEELS) || WHEELS}: run bash scripts/setup.sh`);
  return { name, version, path: join(WHEELS, file) };
});
if (!existsSync(join(INDEX, "pyodide.mjs"))) fail("node_modules/pyodide is missing: run bash scripts/setup.sh");

const FATAL_RERUNS = 5; // at most this many tests may kill Pyodide before the run gives up
const seconds = (ms) => (ms / 1000).toFixed(1);
const { loadPyodide } = await import(pathToFileURL(join(INDEX, "pyodide.mjs")).href);

function readTree(rel, files) {
  for (const entry of readdirSync(join(ROOT, rel))) {
    if (entry === "__pycache__") continue;
    const child = join(rel, entry);
    if (statSync(join(ROOT, child)).isDirectory()) readTree(child, files);
    else if (!entry.endsWith(".pyc")) files.push(child);
  }
  return files;
}
// What goes to /repo: the tracker package, pytest's settings, and from tests/unit the core's test modules
// and the helper modules beside them (strategies.py, a conftest.py); the demo store's tests (they need
// Starlette) stay out.
const unit = join("tests", "unit");
const unitFiles = readdirSync(join(ROOT, unit))
  .filter((f) => f.endsWith(".py") && (!f.startsWith("test_") || f.startsWith("test_core_")));
if (!unitFiles.some((f) => f.startsWith("test_core_"))) fail("no tests/unit/test_core_*.py found");
const repoFiles = [...readTree("tracker", []), "pyproject.toml", ...unitFiles.map((f) => join(unit, f))];

// One Pyodide: boot, install the wheels, copy the files, run pytest. Resolves to pytest's exit code, or to
// {fatal, nodeid} when Pyodide died (then it cannot be used any more).
async function session(args) {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: INDEX, stdout: () => {}, stderr: () => {} });
  // Python's output passes through unbuffered (pytest's progress dots, then its summary line).
  const passthrough = (stream) => ({
    isatty: Boolean(stream.isTTY),
    write: (bytes) => { stream.write(bytes); return bytes.length; },
  });
  pyodide.setStdout(passthrough(process.stdout));
  pyodide.setStderr(passthrough(process.stderr));
  const booted = performance.now();

  // loadPackage resolves even when a package failed; the version check below is what proves it worked.
  const loadErrors = [];
  await pyodide.loadPackage(wheels.map((w) => w.path), {
    messageCallback: () => {},
    errorCallback: (message) => loadErrors.push(message),
  });
  if (loadErrors.length) fail(`loading wheels failed:\n  ${loadErrors.join("\n  ")}`);

  const FS = pyodide.FS;
  for (const rel of repoFiles) {
    const target = `${REPO}/${rel.split(sep).join("/")}`;
    FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    FS.writeFile(target, readFileSync(join(ROOT, rel)));
  }
  FS.mkdirTree(SUPPORT);
  FS.writeFile(`${SUPPORT}/glood_pyodide.py`, readFileSync(join(ROOT, "tests", "pyodide", "glood_pyodide.py")));

  let current = null;
  pyodide.registerJsModule("glood_pyodide_host", { started: (nodeid) => { current = nodeid; } });
  pyodide.globals.set("pins", pyodide.toPy(Object.fromEntries(wheels.map((w) => [w.name, w.version]))));
  pyodide.globals.set("pytest_args", pyodide.toPy(args));
  try {
    pyodide.runPython(`
import importlib.metadata, os, sys
for name, version in pins.items():
    found = importlib.metadata.version(name)
    if found != version:
        raise RuntimeError(f"{name} {found} is installed, {version} is pinned")
import pytest
os.chdir(${JSON.stringify(REPO)})
sys.path[:0] = [${JSON.stringify(REPO)}, ${JSON.stringify(SUPPORT)}]
sys.dont_write_bytecode = True

def run_pytest():
    return int(pytest.main(list(pytest_args)))
`);
  } catch (error) {
    fail(`setting up Python failed: ${error?.message ?? error}`);
  }
  const ready = performance.now();

  // Through callPromising a test may block on the event loop (asyncio.run) by stack switching.
  let code;
  try {
    code = await pyodide.globals.get("run_pytest").callPromising();
  } catch (error) {
    process.stdout.write("\n");
    return { fatal: String(error?.message ?? error).split("\n")[0], nodeid: current };
  }
  console.log(`pyodide tests: Pyodide ${pyodide.version} booted in ${seconds(booted - t0)} s, wheels and ` +
              `files in ${seconds(ready - booted)} s, pytest ran in ${seconds(performance.now() - ready)} s`);
  return code;
}

// pytest's own options: only the core's tests; no cache to write; the plugin (threads, crash reports);
// capture at sys level, so the Python stack Pyodide prints when it dies is not swallowed by fd capture.
const base = ["tests/unit", "-q", "-k", "core", "-p", "no:cacheprovider", "-p", "glood_pyodide", "--capture=sys"];
const started = performance.now();
const killers = [];
let code;
for (;;) {
  const result = await session([...base, ...killers.flatMap((k) => ["--deselect", k.nodeid]), ...process.argv.slice(2)]);
  if (typeof result === "number") { code = result; break; }
  if (!result.nodeid) fail(`Pyodide died outside any test: ${result.fatal}`);
  killers.push(result);
  console.error(`pyodide tests: Pyodide died in ${result.nodeid}: ${result.fatal}`);
  if (killers.length > FATAL_RERUNS) fail(`${killers.length} tests killed Pyodide; giving up`);
  console.error("pyodide tests: running the rest in a fresh Pyodide, without it");
}
if (killers.length) {
  console.log(`pyodide tests: FAILED: ${killers.length} test(s) killed Pyodide (a fatal error, not in pytest's ` +
              `summary above):\n${killers.map((k) => `  ${k.nodeid}: ${k.fatal}`).join("\n")}`);
  if (code === 0) code = 1;
}
if (refused.length) {
  console.error(`pyodide tests: network fetches were refused (they must not happen):\n  ${refused.join("\n  ")}`);
  if (code === 0) code = 3;
}
console.log(`pyodide tests: ${seconds(performance.now() - started)} s in all; exit code ${code}`);
process.exit(code);

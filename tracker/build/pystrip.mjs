// Runs tracker/build/pystrip.py's strip_files inside Pyodide's Python (3.14, the browser worker's), in Node:
//
//   node tracker/build/pystrip.mjs PYODIDE_DIR REQUEST.json RESULT.json
//
// PYODIDE_DIR holds pyodide.mjs and the runtime (node_modules/pyodide or static/vendor/pyodide). REQUEST.json is
// {"files": {name: source}, "keep_docstrings": [...]}; RESULT.json gets {"files", "failed", "python"} (see
// pystrip.strip_files_json). Nothing is fetched: any http(s) fetch is refused. Exit code 0 when RESULT.json is
// written, 1 otherwise (the message on stderr). Called by tracker.build.pystrip.pyodide_stripper.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [indexDir, request, result] = process.argv.slice(2);
if (!indexDir || !request || !result) {
  console.error("usage: node pystrip.mjs PYODIDE_DIR REQUEST.json RESULT.json");
  process.exit(2);
}
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, ...rest) => {
  const href = String(url?.url ?? url);
  if (/^(https?|wss?):/i.test(href)) throw new Error(`pystrip: network fetch refused: ${href}`);
  return realFetch(url, ...rest);
};
try {
  const index = indexDir.endsWith(sep) ? indexDir : indexDir + sep;
  const { loadPyodide } = await import(pathToFileURL(join(index, "pyodide.mjs")).href);
  const pyodide = await loadPyodide({ indexURL: index, stdout: () => {}, stderr: (line) => console.error(line) });
  const here = dirname(fileURLToPath(import.meta.url));
  pyodide.FS.mkdirTree("/glood-pystrip");
  pyodide.FS.writeFile("/glood-pystrip/glood_pystrip.py", readFileSync(join(here, "pystrip.py")));
  pyodide.FS.writeFile("/glood-pystrip/request.json", readFileSync(request));
  pyodide.runPython(`
import sys
sys.path.insert(0, "/glood-pystrip")
import glood_pystrip
glood_pystrip.strip_files_json("/glood-pystrip/request.json", "/glood-pystrip/result.json")
`);
  writeFileSync(result, pyodide.FS.readFile("/glood-pystrip/result.json"));
} catch (error) {
  console.error(`pystrip: ${error?.stack ?? error}`);
  process.exit(1);
}

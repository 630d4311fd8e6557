#!/usr/bin/env bash
# Run the core's unit tests (tests/unit/test_core_*.py) inside Pyodide: Node with the vendored npm `pyodide`
# (Python 3.14, the runtime of the browser worker), to catch what works only in the CPython of the unit tests.
# Extra arguments go to pytest inside Pyodide, e.g. `bash scripts/pyodide_tests.sh -x -k worker`.
# Set-up (idempotent): node_modules/pyodide and the pinned wheels in .cache/pyodide-wheels/ (scripts/setup.sh).
# PYODIDE_TESTS_TIMEOUT (seconds, default 1200) bounds the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The worker's tests block on asyncio's loop in Pyodide (WebLoop), which needs WebAssembly stack switching
# (JSPI): behind a V8 flag in Node 20 (the old API) and 22+ (the new one).
v8_options=$(node --v8-options)
if grep -q -- '--experimental-wasm-jspi ' <<<"$v8_options"; then
  jspi=--experimental-wasm-jspi
elif grep -q -- '--experimental-wasm-stack-switching ' <<<"$v8_options"; then
  jspi=--experimental-wasm-stack-switching
else
  echo "pyodide tests: this node ($(node --version)) has no WebAssembly stack switching flag" >&2
  exit 3
fi
exec timeout -k 30 "${PYODIDE_TESTS_TIMEOUT:-1200}" node "$jspi" tests/pyodide/run.mjs "$@"

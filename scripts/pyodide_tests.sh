#!/usr/bin/env bash
# Run the core's unit tests (tests/unit/test_core_*.py) inside Pyodide: Node with the vendored npm `pyodide`
# (Python 3.14, the runtime of the browser worker), to catch what works only in the CPython of the unit tests.
# Before them, the worker flow on the trimmed standard library (tests/pyodide/worker_flow.mjs): the tracker
# booted and driven through a sensor's messages on Pyodide's python_stdlib.zip, then again with `stdLibURL`
# pointing at the zip tracker/build/stdlib.py trims (tracker/build/stdlib_keep.txt) and strips of docstrings
# and comments (as the build does; --require-strip: failing when stripping cannot run), which must pass and
# import every module the first run did. PYODIDE_STDLIB_CHECK=0 leaves that out.
# Extra arguments go to pytest inside Pyodide, e.g. `bash scripts/pyodide_tests.sh -x -k worker`.
# Set-up (idempotent): node_modules/pyodide and the pinned wheels in .cache/pyodide-wheels/ (scripts/setup.sh).
# PYODIDE_TESTS_TIMEOUT (seconds, default 1200) bounds the pytest run; the worker flow has 300 s.
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
status=0
if [ "${PYODIDE_STDLIB_CHECK:-1}" != 0 ]; then
  trimmed=$(mktemp -d)
  trap 'rm -rf "$trimmed"' EXIT
  if .venv/bin/python -m tracker.build.stdlib trim --require-strip node_modules/pyodide/python_stdlib.zip \
      "$trimmed/python_stdlib.zip"; then
    timeout -k 30 300 node "$jspi" tests/pyodide/worker_flow.mjs --stdlib "$trimmed/python_stdlib.zip" || status=$?
  else
    status=3
  fi
fi
code=0
timeout -k 30 "${PYODIDE_TESTS_TIMEOUT:-1200}" node "$jspi" tests/pyodide/run.mjs "$@" || code=$?
# pytest's exit code first (2 = interrupted, which scripts/test.sh looks for), else the worker flow's.
[ "$code" != 0 ] || code=$status
exit "$code"

#!/usr/bin/env bash
# Set up (if needed, including Debian's Chromium) and run every test: unit and end-to-end, and the core's
# unit tests inside Pyodide too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
# Every test in CPython, then the core's unit tests inside Pyodide (scripts/pyodide_tests.sh; PYODIDE_TESTS=0
# leaves that out). The command fails when either fails; an interrupted pytest (exit code 2) stops here.
status=0
# The tracker and the demo store type-check (mypy --strict) and, with the benchmark and the tests, lint (ruff)
# clean, as configured in pyproject.toml.
.venv/bin/mypy || status=$?
.venv/bin/ruff check tracker demo_store bench tests || status=$?
# The page's scripts (sensor.js, relay.js) type-check against the protocol's typedefs (tsconfig.json).
node_modules/.bin/tsc -p tsconfig.json || status=$?
pytest_status=0
.venv/bin/python -m pytest "$@" || pytest_status=$?
[ "$status" != 0 ] || status=$pytest_status
if [ "$pytest_status" != 2 ] && [ "${PYODIDE_TESTS:-1}" != 0 ]; then
  bash scripts/pyodide_tests.sh || { rc=$?; [ "$status" != 0 ] || status=$rc; }
fi
exit "$status"

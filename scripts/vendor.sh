#!/usr/bin/env bash
# Vendor Pyodide and PyScript (pinned in package.json / package-lock.json) from the
# npm registry into static/vendor/, so the browser loads them from our own origin.
set -euo pipefail
cd "$(dirname "$0")/.."
lock_sum=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
stamp=static/vendor/.stamp-$lock_sum
if [ -f "$stamp" ] && [ -f static/vendor/pyodide/pyodide.mjs ] && [ -f static/vendor/pyscript/core.js ]; then
  exit 0
fi
echo "setup: vendoring pyodide and @pyscript/core from the npm registry"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
test -f node_modules/pyodide/pyodide.mjs
test -f node_modules/@pyscript/core/dist/core.js
rm -rf static/vendor && mkdir -p static/vendor/pyodide static/vendor/pyscript
# Pyodide: the runtime files only (no maps, typings, consoles)
for f in pyodide.mjs pyodide.js pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip pyodide-lock.json package.json; do
  cp "node_modules/pyodide/$f" static/vendor/pyodide/
done
# PyScript: dist/ without source maps
cp node_modules/@pyscript/core/dist/* static/vendor/pyscript/
rm -f static/vendor/pyscript/*.map
touch "$stamp"

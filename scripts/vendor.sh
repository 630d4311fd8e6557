#!/usr/bin/env bash
# Vendor Pyodide (pinned in package.json / package-lock.json) from the
# npm registry into static/vendor/, so the browser loads it from our own origin (and install terser, which
# minifies the inline sensor, typescript, which type-checks the page's scripts, and puppeteer-core, which drives Firefox ESR in tests/engines/).
# Each package keeps its package.json (the demo store serves it under /static/vendor/<name>@<version>/,
# immutable), and text and wasm files get precompressed .zst and .gz variants (served as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
lock_sum=$(cat package.json package-lock.json scripts/vendor.sh | sha256sum | cut -c1-16)
stamp=static/vendor/.stamp-$lock_sum
if [ -f "$stamp" ] && [ -f static/vendor/pyodide/pyodide.mjs ] && [ -x node_modules/.bin/terser ] \
    && [ -f node_modules/puppeteer-core/package.json ] && [ -x node_modules/.bin/tsc ]; then
  exit 0
fi
echo "setup: vendoring pyodide from the npm registry"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
test -f node_modules/pyodide/pyodide.mjs
test -x node_modules/.bin/terser
test -f node_modules/puppeteer-core/package.json
test -x node_modules/.bin/tsc
# Build aside (node_modules/ is git-ignored and on the same file system) and swap at the end, so a
# running store never sees a half-filled directory.
next=node_modules/.glood-vendor-next
old=node_modules/.glood-vendor-old
rm -rf "$next" && mkdir -p "$next/pyodide"
# Pyodide: the runtime files only (no maps, typings, consoles)
for f in pyodide.mjs pyodide.js pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip pyodide-lock.json package.json; do
  cp "node_modules/pyodide/$f" "$next/pyodide/"
done
# Precompress once here rather than per request (python_stdlib.zip is compressed already).
# zstd -19 keeps the 8 MiB window browsers accept; a variant is kept only when it saves at least 10%.
shopt -s nullglob
for f in "$next"/*/*.wasm "$next"/*/*.mjs "$next"/*/*.js "$next"/*/*.json "$next"/*/*.css; do
  size=$(stat -c %s "$f")
  [ "$size" -ge 1024 ] || continue
  gzip -9 -n -c "$f" >"$f.gz"
  if command -v zstd >/dev/null 2>&1; then zstd -19 -q -c "$f" >"$f.zst"; fi
  for variant in "$f.gz" "$f.zst"; do
    if [ -f "$variant" ] && [ $(( $(stat -c %s "$variant") * 10 )) -gt $(( size * 9 )) ]; then rm -f "$variant"; fi
  done
done
touch "$next/.stamp-$lock_sum"
rm -rf "$old"
if [ -d static/vendor ]; then mv static/vendor "$old"; fi
mv "$next" static/vendor
rm -rf "$old"

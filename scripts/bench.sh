#!/usr/bin/env bash
# Set up (if needed, including Debian's Chromium) and run the tracker benchmark: boot (tracker page against the
# page without the tracker), main-thread cost, bytes, per-event cost, a 10,000-event burst and delivery
# (navigations, pages left early). Prints a table and writes JSON to bench-results/.
# Options: --quick, --runs N, --navigations N, --left-pages N, --burst N, --only PART (repeatable), --help.
# `--only lighthouse` runs Shopify's app-listing check instead (mobile Lighthouse with and without the
# tracker, ~9 min); it installs the pinned lighthouse into bench/lighthouse/node_modules with `npm ci`
# on its first run (needs Node >= 18.20 and the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m bench "$@"

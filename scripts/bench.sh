#!/usr/bin/env bash
# Set up (if needed, including Debian's Chromium) and run the tracker benchmark: boot (tracker page against the
# page without the tracker), main-thread cost, bytes, per-event cost, a 10,000-event burst and delivery
# (navigations, pages left early). Prints a table and writes JSON to bench-results/.
# Options: --quick, --runs N, --navigations N, --left-pages N, --burst N, --only PART (repeatable), --help.
# `--only lighthouse` runs Shopify's app-listing check instead (mobile Lighthouse with and without the
# tracker, ~9 min); it installs the pinned lighthouse into bench/lighthouse/node_modules with `npm ci`
# on its first run (needs Node >= 18.20 and the npm registry).
# `--only peers` measures the tracker beside PostHog, Segment, Snowplow and Amplitude (pinned in bench/peers, `npm ci`
# there on first use), all served offline from the demo store's origin: Playwright desktop and 4x CPU, cold and
# return visits, and mobile Lighthouse, on home, collection and product (~15 min; --peers-runs N,
# --peers-lighthouse-runs N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m bench "$@"

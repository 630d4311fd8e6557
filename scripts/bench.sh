#!/usr/bin/env bash
# Set up (if needed, including Debian's Chromium) and run the tracker benchmark:
# prints a table and writes JSON to bench-results/. Options: --quick, --runs N, --navigations N, --help.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m bench "$@"

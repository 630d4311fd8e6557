#!/usr/bin/env bash
# Set up (if needed, including Debian's Chromium) and run every test: unit and end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest "$@"

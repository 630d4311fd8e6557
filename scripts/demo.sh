#!/usr/bin/env bash
# Set up (if needed) and start the demo store with the tracker on http://127.0.0.1:8000
# (--cdn-port 8001: the tracker's build also served on port 8001, as a CDN, and loaded from there; --help lists all)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m demo_store "$@"

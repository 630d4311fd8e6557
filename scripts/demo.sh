#!/usr/bin/env bash
# Set up (if needed) and start the demo store with the tracker on http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m demo_store "$@"

#!/usr/bin/env bash
# Idempotent set-up for a new machine: Python venv, the vendored browser runtime,
# and (with --browser) Debian's Chromium, Firefox ESR and WebKitGTK for the end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

if [ "$want_browser" = 1 ]; then
  # Debian's browsers, each only when missing: chromium (tests/e2e, Playwright), firefox-esr and WebKitGTK's
  # WebDriver (it pulls the engine and MiniBrowser) under Xvfb (tests/engines).
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
  [ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
  [ -x /usr/bin/Xvfb ] || missing+=(xvfb)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian's ${missing[*]}"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[demo,build,test]"
  rm -f .venv/.installed-*; touch "$stamp"
fi

# Selenium drives WebKitGTK in tests/engines/. Not in pyproject's extras: selenium 4.52.0 requires a certifi newer
# than the package index has, so it goes in with --no-deps beside its dependencies, each pinned here (with theirs).
selenium_pin=selenium==4.52.0
selenium_deps=(trio==0.35.0 trio-websocket==0.12.2 "urllib3[socks]==2.8.0" websocket-client==1.9.2
  typing_extensions==4.16.0 certifi==2026.10.19.post1 outcome==1.3.0.post0 sniffio==1.3.1 wsproto==1.3.2
  pysocks==1.7.1)
selenium_stamp=.venv/.selenium-$(echo "$selenium_pin ${selenium_deps[*]}" | sha256sum | cut -c1-16)
if [ "$want_browser" = 1 ] && [ ! -f "$selenium_stamp" ]; then
  echo "setup: installing selenium (drives WebKitGTK)"
  .venv/bin/pip install -q --disable-pip-version-check "${selenium_deps[@]}"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps "$selenium_pin"
  rm -f .venv/.selenium-*; touch "$selenium_stamp"
fi

bash scripts/vendor.sh

# The tracker's build (what a merchant hosts, served by the demo store under /dist/): wheel, lockfile, hashed
# runtime, embed.html, the Shopify block and manifest.json; only when missing or its sources changed.
.venv/bin/python -m tracker build --out dist --if-stale

# Wheels the core's tests need inside Pyodide (scripts/pyodide_tests.sh): from PyPI, pinned with hashes in
# tests/pyodide/requirements.txt, for Pyodide 314's Python 3.14 (pure wheels, and hypothesis's wasm build).
wheels=.cache/pyodide-wheels
wheels_stamp=$wheels/.stamp-$(cat tests/pyodide/requirements.txt | sha256sum | cut -c1-16)
if [ ! -f "$wheels_stamp" ]; then
  echo "setup: downloading the wheels for the Pyodide test run"
  rm -rf "$wheels" && mkdir -p "$wheels"
  .venv/bin/pip download -q --disable-pip-version-check -d "$wheels" -r tests/pyodide/requirements.txt \
    --require-hashes --no-deps --only-binary=:all: --python-version 3.14 \
    --platform pyemscripten_2026_0_wasm32 --platform any
  touch "$wheels_stamp"
fi

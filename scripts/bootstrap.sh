#!/usr/bin/env bash
# Installs what the local stack and the tools need, into a cache outside the clone.
# Idempotent: a second run only checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mkdir -p "$CACHE"

if [ ! -x "$VENV/bin/python" ]; then
  log "creating Python environment in $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import moto, cryptography, yaml, jsonschema, openapi_spec_validator' 2>/dev/null \
   || [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  log "installing scripts/requirements.txt (moto, cryptography, cargo-lambda, SAM CLI, cfn-lint, ...)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[ "$node_major" -ge 20 ] || { log "Node.js 20 or newer (with npm) is needed: found ${node_major/#0/none}"; exit 1; }

if [ ! -f "$FIREBASE_JS" ]; then
  log "installing firebase-tools@$FIREBASE_TOOLS_VERSION (about 40 s)"
  mkdir -p "$CACHE/firebase"
  npm install --prefix "$CACHE/firebase" --ignore-scripts --no-audit --no-fund \
    "firebase-tools@$FIREBASE_TOOLS_VERSION" >/dev/null
fi

if [ ! -x "$POSTRUST_BIN" ]; then
  log "building postrust-server $POSTRUST_VERSION (about 10-15 minutes on 2 cores, once)"
  # --locked pins what its authors tested; if a pinned crate was yanked, resolve anew.
  CARGO_TARGET_DIR="$CACHE/postrust-target" cargo install --locked -q postrust-server \
      --version "$POSTRUST_VERSION" --root "$CACHE/postrust" \
    || CARGO_TARGET_DIR="$CACHE/postrust-target" cargo install -q postrust-server \
      --version "$POSTRUST_VERSION" --root "$CACHE/postrust"
  rm -rf "$CACHE/postrust-target"
fi

# The browser test (scripts/test.sh asks with --browser) drives Debian's Chromium.
if [ "${1:-}" = --browser ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian's chromium (the example page's browser test)"
    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
  else
    log "chromium is missing: apt-get install chromium (the browser test needs it)"; exit 1
  fi
fi

[ -x "$PG_BIN/initdb" ] || { log "PostgreSQL 15 is missing: apt-get install postgresql-15"; exit 1; }
log "bootstrap complete (cache: $CACHE)"

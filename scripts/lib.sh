# Shared by the project's scripts: where heavy installs are cached (outside the clone,
# reused by later runs) and the pinned versions.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TIKTOK_CONNECTIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tiktok-connections}"
POSTRUST_VERSION=3.1.0
FIREBASE_TOOLS_VERSION=15
VENV="$CACHE/venv"
POSTRUST_BIN="$CACHE/postrust/bin/postrust"
FIREBASE_JS="$CACHE/firebase/node_modules/firebase-tools/lib/bin/firebase.js"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# `npm ci` in the current directory with the download cache outside the clone; skipped
# when node_modules already matches package-lock.json.
npm_ci_cached() {
  if cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
    return 0
  fi
  npm_config_cache="$CACHE/npm" npm ci --no-audit --no-fund --prefer-offline || return
  cp package-lock.json node_modules/.installed-lock.json
}

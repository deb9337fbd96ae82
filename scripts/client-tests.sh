#!/usr/bin/env bash
# The tests that call the API over HTTP as its clients do, run by scripts/serve.sh once
# the API is ready (scripts/test.sh starts it):
#   1. tests/smoke.py: every route at its production path, each answer checked against
#      openapi.yaml (Python, standard library and jsonschema);
#   2. clients/typescript: the generated types are current, the client type-checks, and
#      the end-to-end test runs through it with the official Firebase JS SDK;
#   3. examples/web: the connect page, driven in headless Chromium;
#   4. no credential in any line the functions logged meanwhile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
: "${LOCAL_API_URL:?run by scripts/serve.sh}"

log "smoke test: every route over HTTP"
SMOKE_BASE_URL="$LOCAL_API_URL" "$STACK_PYTHON" tests/smoke.py

log "typed client: generated types, type check, end-to-end test with the Firebase JS SDK"
(
  cd clients/typescript
  npm_ci_cached >/dev/null
  npm run --silent check:generated
  npm run --silent typecheck
  API_BASE_URL="$LOCAL_API_URL" npm run --silent test:e2e
)

log "example page in headless Chromium"
(
  cd examples/web
  npm_ci_cached >/dev/null
  WEB_BASE_URL="$LOCAL_WEB_URL" SCREENSHOT_DIR="$STACK_DIR/screenshots" PHOTO_BASE_URL="$STACK_PHOTO_URL" \
    TIKTOK_URL="$STACK_TIKTOK_URL" STACK_PG_URL="$STACK_PG_URL" \
    NODE_EXTRA_CA_CERTS="$EXTRA_CA_CERTS" npm run --silent test:browser
  mkdir -p "$ROOT/target/screenshots" && cp "$STACK_DIR"/screenshots/*.png "$ROOT/target/screenshots/"
)

"$STACK_PYTHON" tests/check_leaks.py
"$STACK_PYTHON" tests/check_metrics.py

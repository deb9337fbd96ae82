#!/usr/bin/env bash
# Serves the functions as API Gateway does, inside the local stack (run it through
# scripts/with-stack.sh, as scripts/run.sh and scripts/test.sh do):
#   1. builds every function (and the example page) first, so no request waits for a build;
#   2. `cargo lambda watch` runs the functions on a private port;
#   3. scripts/local_gateway.py serves the API on $LOCAL_API_URL (routes and catch-all as
#      template.yaml's REST API; CORS is the functions') and the example page on $LOCAL_WEB_URL;
#   4. prints "API ready on ..." once a request answers.
#
#   scripts/serve.sh                 serve until Ctrl-C
#   scripts/serve.sh COMMAND [ARG]   run COMMAND once the API is ready, then stop
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
: "${STACK_DIR:?run through scripts/with-stack.sh}"
export PATH="$VENV/bin:$PATH"

functions=()
for manifest in functions/*/Cargo.toml; do functions+=(-p "$(basename "$(dirname "$manifest")")"); done
log "building the functions"
# The same build `cargo lambda watch` runs (the functions' own features), done up front.
cargo build --quiet "${functions[@]}"
if [ -f examples/web/package.json ]; then
  log "building the example page"
  (cd examples/web && npm_ci_cached >/dev/null && npm run --silent build >/dev/null)
fi

WATCH_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
API_PORT="${LOCAL_API_URL##*:}"
WEB_PORT="${LOCAL_WEB_URL##*:}"
mkdir -p "$STACK_DIR/logs"
pids=()
interactive=0
[ $# -gt 0 ] || interactive=1
stop() {
  for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$interactive" = 0 ] || rm -f "$ROOT/.stack/env"
}
trap stop EXIT
trap 'exit 130' INT TERM
# Its own CORS is off: the functions answer for CORS, as deployed.
cargo lambda watch --disable-cors --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" \
  --env-file "$STACK_DIR/stack.env" >"$STACK_DIR/logs/watch.log" 2>&1 &
pids+=($!)
python3 scripts/local_gateway.py "$API_PORT" "$WEB_PORT" "http://127.0.0.1:$WATCH_PORT" \
  >"$STACK_DIR/logs/gateway.log" 2>&1 &
pids+=($!)

# Ready when a function answers through the gateway (401 without a session).
for _ in $(seq 1 240); do
  status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$LOCAL_API_URL/api/v1/social-connections/connections" || true)"
  [ "$status" = 401 ] && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 40 "$STACK_DIR"/logs/*.log >&2; log "serving failed"; exit 1; }
  done
  sleep 0.5
done
[ "$status" = 401 ] || { tail -n 40 "$STACK_DIR/logs/watch.log" >&2; log "the API did not answer"; exit 1; }
# TikTok's webhooks (the fake's sender) go to the API, as TikTok's go to the registered
# callback URL: a removal in TikTok's settings, a post moving on.
curl -sf -o /dev/null -X POST "$STACK_TIKTOK_URL/_fake/webhooks/target" \
  -d "{\"url\": \"$LOCAL_API_URL/api/v1/webhooks/tiktok\"}" \
  || { log "the TikTok fake did not take the webhook URL"; exit 1; }

# For a second shell (run.sh only): cargo-lambda on PATH and the addresses the scripts
# and examples use. Not the stack's keys or its fake AWS credentials, which would follow
# the developer into a deploy; removed when serving stops.
if [ "$interactive" = 1 ]; then
  mkdir -p "$ROOT/.stack"
  { echo "export PATH='$VENV/bin':\"\$PATH\""
    grep -E '^(FIREBASE_AUTH_EMULATOR_HOST|FIREBASE_PROJECT_ID|STACK_TIKTOK_URL|LOCAL_API_URL|LOCAL_WEB_URL)=' \
      "$STACK_DIR/stack.env" | sed 's/^/export /'
    echo "export LOCAL_WATCH_PORT='$WATCH_PORT'"; } >"$ROOT/.stack/env"
fi
echo "API ready on $LOCAL_API_URL"
[ -f examples/web/public/app.js ] && echo "Example page: $LOCAL_WEB_URL/connect.html"
[ "$interactive" = 0 ] || echo "In another shell: source .stack/env, then scripts/id-token.sh or scripts/invoke.sh"

if [ $# -gt 0 ]; then
  # The functions' own invoke address (the scheduled ones have no route: a test invokes
  # them there, as EventBridge does).
  export LOCAL_WATCH_PORT="$WATCH_PORT"
  "$@"
else
  # Until Ctrl-C, or until the watcher or the gateway stops.
  wait -n "${pids[@]}"
fi

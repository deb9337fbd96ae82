#!/usr/bin/env bash
# Sets up what is missing, starts the local stack, builds and serves every function as
# API Gateway does (scripts/serve.sh) on http://localhost:9000 and the example connect
# page on http://localhost:8080, until Ctrl-C. Prints "API ready on ..." when requests
# answer, and writes .stack/env for a second shell (the addresses, cargo-lambda on PATH).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The usual ports when free, so a frontend's settings (the API's URL, connectAuthEmulator,
# the registered redirect URI) do not change between runs.
for pair in API:9000 WEB:8080 AUTH:9099 TIKTOK:9098; do
  name="STACK_${pair%%:*}_PORT" port="${pair##*:}"
  if port_free "$port"; then export "$name=${!name:-$port}"
  else log "port $port is taken: ${pair%%:*} gets another one (see below)"; fi
done
exec "$ROOT/scripts/with-stack.sh" bash -c '
  echo "Firebase Auth emulator: http://$FIREBASE_AUTH_EMULATOR_HOST (project $FIREBASE_PROJECT_ID)"
  echo "TikTok fake: $STACK_TIKTOK_URL (its control API: README, \"The TikTok fake\")"
  exec "$0/scripts/serve.sh"' "$ROOT"

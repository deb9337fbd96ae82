#!/usr/bin/env bash
# Starts the local stack and serves the functions with `cargo lambda watch` on
# http://127.0.0.1:9000, until Ctrl-C. The stack's settings (and the emulator/fake
# addresses) are printed once it is ready.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
export PATH="$VENV/bin:$PATH"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The Auth emulator and the TikTok fake on fixed ports when they are free.
port_free 9099 && export STACK_AUTH_PORT="${STACK_AUTH_PORT:-9099}"
port_free 9098 && export STACK_TIKTOK_PORT="${STACK_TIKTOK_PORT:-9098}"
exec "$ROOT/scripts/with-stack.sh" bash -c '
  echo "Local stack settings: $STACK_DIR/stack.env"
  echo "Firebase Auth emulator: http://$FIREBASE_AUTH_EMULATOR_HOST (project $FIREBASE_PROJECT_ID)"
  echo "TikTok fake: $STACK_TIKTOK_URL"
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${INVOKE_PORT:-9000}" --env-file "$STACK_DIR/stack.env"
'

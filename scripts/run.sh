#!/usr/bin/env bash
# Starts the local stack and serves the functions with `cargo lambda watch` on
# http://127.0.0.1:9000, until Ctrl-C. The stack's settings (and the emulator/fake
# addresses) are printed once it is ready.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
export PATH="$VENV/bin:$PATH"
exec "$ROOT/scripts/with-stack.sh" bash -c '
  echo "Local stack settings: $STACK_DIR/stack.env"
  echo "Firebase Auth emulator: http://$FIREBASE_AUTH_EMULATOR_HOST (project $FIREBASE_PROJECT_ID)"
  echo "TikTok fake: $STACK_TIKTOK_URL"
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${INVOKE_PORT:-9000}" --env-file "$STACK_DIR/stack.env"
'

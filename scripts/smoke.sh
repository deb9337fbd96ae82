#!/usr/bin/env bash
# Starts the local stack and `cargo lambda watch`, then calls every route over HTTP at
# its production path (tests/smoke.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export PATH="$VENV/bin:$PATH"
PORT="${SMOKE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
"$ROOT/scripts/with-stack.sh" bash -c '
  set -euo pipefail
  mkdir -p "$STACK_DIR/logs"
  AWS_LAMBDA_LOG_LEVEL=TRACE cargo lambda watch --invoke-address 127.0.0.1 --invoke-port '"$PORT"' --env-file "$STACK_DIR/stack.env" \
    >"$STACK_DIR/logs/watch.log" 2>&1 &
  watch_pid=$!
  trap "kill $watch_pid 2>/dev/null || true; pkill -P $watch_pid 2>/dev/null || true" EXIT
  for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:'"$PORT"'/" && break; sleep 1; done
  SMOKE_BASE_URL="http://127.0.0.1:'"$PORT"'" python3 "$PWD/tests/smoke.py" || { tail -n 40 "$STACK_DIR/logs/watch.log" >&2; exit 1; }
  # The functions logged at TRACE through all of it: no credential in any line.
  "$STACK_PYTHON" "$PWD/tests/check_leaks.py"
'

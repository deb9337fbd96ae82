#!/usr/bin/env bash
# Starts the local stack and serves the functions (scripts/serve.sh), then calls every
# route over HTTP at its production path (tests/smoke.py) and checks the functions'
# logs for credentials. scripts/test.sh runs this and the client tests together.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/with-stack.sh" env AWS_LAMBDA_LOG_LEVEL=TRACE "$ROOT/scripts/serve.sh" bash -c '
  SMOKE_BASE_URL="$LOCAL_API_URL" "$STACK_PYTHON" tests/smoke.py && "$STACK_PYTHON" tests/check_leaks.py'

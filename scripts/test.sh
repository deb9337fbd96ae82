#!/usr/bin/env bash
# Runs every test: unit tests, handler tests with API Gateway events, and integration
# tests against the local stack (started here and stopped on exit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
log "building tests"
cargo test --workspace --no-run --quiet
"$ROOT/scripts/with-stack.sh" cargo test --workspace "$@"
# template.yaml, openapi.yaml, the watch router and events/ agree.
"$VENV/bin/python" "$ROOT/tests/api_contract.py"

#!/usr/bin/env bash
# Runs every test: unit tests, handler tests with API Gateway events, and integration
# tests against the local stack (started here and stopped on exit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
log "building the functions and the tests"
cargo build --workspace --quiet
cargo test --workspace --no-run --quiet
# The tests, then the log leak check over every line they logged (same stack run).
"$ROOT/scripts/with-stack.sh" bash -c 'cargo test --workspace "$@" && "$STACK_PYTHON" tests/check_leaks.py' _ "$@"
# template.yaml, openapi.yaml, the watch router and events/ agree.
"$VENV/bin/python" "$ROOT/tests/api_contract.py"

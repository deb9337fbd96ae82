#!/usr/bin/env bash
# Runs every test: unit tests, handler tests with API Gateway events, integration tests
# against the local stack (started here and stopped on exit), and the client tests over
# HTTP (scripts/client-tests.sh: smoke, typed TypeScript client, browser).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh" --browser
# The shared crate's modules depend one way: a module cycle fails here, before building.
python3 "$ROOT/tests/module_layers.py"
log "building the functions and the tests"
cargo build --workspace --quiet
cargo test --workspace --no-run --quiet
# The tests, then the log leak check and the metric lines check over every line they
# logged (same stack run).
"$ROOT/scripts/with-stack.sh" bash -c 'cargo test --workspace "$@" && "$STACK_PYTHON" tests/check_leaks.py && "$STACK_PYTHON" tests/check_metrics.py' _ "$@"
# template.yaml, openapi.yaml, the watch router and events/ agree.
"$VENV/bin/python" "$ROOT/tests/api_contract.py"
# The API over HTTP as its clients call it (a new stack, the functions served as
# deployed, logging at TRACE for the leak check): smoke test, typed client with the
# Firebase JS SDK, the example page in Chromium.
"$ROOT/scripts/with-stack.sh" env AWS_LAMBDA_LOG_LEVEL=TRACE "$ROOT/scripts/serve.sh" "$ROOT/scripts/client-tests.sh"

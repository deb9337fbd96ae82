#!/usr/bin/env bash
# The benchmark: release builds of every function and of a hello-world floor, measured
# under a minimal Lambda Runtime API against the local stack. Writes
# bench/results/{bench.json,bench.md,cold-start.svg}. `--check` fails when a target is
# missed by more than the noise margin (CI). `--scale`: the database benchmark at a
# million connections instead (scripts/scale_bench.py; bench/results/scale.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${1:-}" = "--scale" ]; then
  # The database at 1,000 and 1,000,000 connections (not part of the test command).
  shift
  PG_BIN="$PG_BIN" exec python3 "$ROOT/scripts/scale_bench.py" "$@"
fi
"$ROOT/scripts/bootstrap.sh"
log "building release binaries (LTO: several minutes the first time)"
cargo build --release --quiet -p bench --bins
cargo build --release --quiet --bins $(for f in functions/*/; do printf -- '-p %s ' "$(basename "$f")"; done)

# The Python stack it replaces, for the import-time comparison (optional).
BASELINE="$CACHE/python-baseline"
if [ -z "${BENCH_SKIP_PYTHON:-}" ] && [ -z "${CI:-}" ]; then
  if [ ! -x "$BASELINE/bin/python" ] || ! "$BASELINE/bin/python" -c 'import fastapi, mangum, firebase_admin, supabase, httpx' 2>/dev/null; then
    log "installing the Python baseline (fastapi, mangum, firebase-admin, supabase, httpx)"
    python3 -m venv "$BASELINE" && "$BASELINE/bin/pip" install -q fastapi mangum firebase-admin supabase cryptography httpx \
      || log "Python baseline unavailable; its comparison is skipped"
  fi
  [ -x "$BASELINE/bin/python" ] && export BENCH_PYTHON_BASELINE="$BASELINE/bin/python"
fi
exec "$ROOT/scripts/with-stack.sh" "${CARGO_TARGET_DIR:-$ROOT/target}/release/bench" "$@"

#!/usr/bin/env bash
# Starts the local stack on free loopback ports, runs the given command with the
# stack's settings in its environment, and stops everything on exit, even on failure.
#
#   scripts/with-stack.sh cargo test --workspace
#
# The stack: PostgreSQL 15 (ephemeral cluster, Supabase's roles, supabase/migrations),
# postrust as PostgREST, the Firebase Auth emulator, moto for Secrets Manager and S3, the
# TikTok fake, and an https host for the photos posts name (scripts/photo_server.py). Run scripts/bootstrap.sh once first (scripts/test.sh and run.sh do).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 2; }

RUN="$(mktemp -d "${TMPDIR:-/tmp}/tiktok-stack.XXXXXX")"
chmod 755 "$RUN"
PIDS=()
PG_STARTED=0

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$PG_STARTED" = 1 ]; then as_postgres "$PG_BIN/pg_ctl" -D "$RUN/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" != 0 ] && [ -n "${CI:-}" ]; then
    for f in "$RUN"/*.log "$RUN"/pglog/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; } >&2; done
  fi
  [ -n "${KEEP_STACK:-}" ] || rm -rf "$RUN"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r PG_PORT PGRST_PORT AUTH_PORT HUB_PORT LOGGING_PORT MOTO_PORT TIKTOK_PORT API_PORT WEB_PORT PHOTO_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
PY
)

# Fixed ports on request (scripts/run.sh asks for the Auth emulator's usual 9099, so a
# frontend's connectAuthEmulator setting does not change between runs).
AUTH_PORT="${STACK_AUTH_PORT:-$AUTH_PORT}"
TIKTOK_PORT="${STACK_TIKTOK_PORT:-$TIKTOK_PORT}"
# Where scripts/serve.sh serves the API and the example page (not started here).
API_PORT="${STACK_API_PORT:-$API_PORT}"
WEB_PORT="${STACK_WEB_PORT:-$WEB_PORT}"
REDIRECT_URIS="http://localhost:3000/connect/tiktok,http://localhost:8080/connect.html"
[ "$WEB_PORT" = 8080 ] || REDIRECT_URIS="$REDIRECT_URIS,http://localhost:$WEB_PORT/connect.html"
PROJECT_ID="${FIREBASE_PROJECT_ID:-demo-tiktok-connections}"
JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
SERVICE_KEY="$(python3 - "$JWT_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"role": "service_role", "iss": "supabase", "exp": int(time.time()) + 86400 * 3650}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)"
ENCRYPTION_KEY_VALUE="$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
TIKTOK_CLIENT_KEY_VALUE="local-client-key"
TIKTOK_CLIENT_SECRET_VALUE="local-client-secret-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

# --- PostgreSQL -------------------------------------------------------------------
log "PostgreSQL on 127.0.0.1:$PG_PORT"
mkdir -p "$RUN/pg" "$RUN/pgsock" "$RUN/pglog"
if [ "$(id -u)" = 0 ]; then chown postgres "$RUN/pg" "$RUN/pgsock" "$RUN/pglog"; fi
as_postgres "$PG_BIN/initdb" -D "$RUN/pg" -U postgres -A trust --no-sync -E UTF8 >"$RUN/initdb.log" 2>&1
as_postgres "$PG_BIN/pg_ctl" -D "$RUN/pg" -l "$RUN/pglog/postgres.log" -w -t 60 \
  -o "-p $PG_PORT -h 127.0.0.1 -k $RUN/pgsock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC -c max_connections=200" \
  start >/dev/null
PG_STARTED=1
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
psql -q -v ON_ERROR_STOP=1 "$PG_URL" -f "$ROOT/scripts/sql/supabase-roles.sql" >"$RUN/migrate.log" 2>&1
for migration in "$ROOT"/supabase/migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$PG_URL" -f "$migration" >>"$RUN/migrate.log" 2>&1 \
    || { cat "$RUN/migrate.log" >&2; exit 1; }
done

# --- PostgREST (postrust) ---------------------------------------------------------
PGRST_DB_URI="postgres://authenticator@127.0.0.1:$PG_PORT/postgres" \
PGRST_DB_ANON_ROLE=anon PGRST_JWT_SECRET="$JWT_SECRET" PGRST_DB_SCHEMAS=public \
PGRST_SERVER_HOST=127.0.0.1 PGRST_SERVER_PORT="$PGRST_PORT" \
PGRST_DB_ERRORS_VERBATIM=true PGRST_COMPAT_MODE=true \
  "$POSTRUST_BIN" >"$RUN/postgrest.log" 2>&1 &
PIDS+=($!)

# --- Firebase Auth emulator -------------------------------------------------------
mkdir -p "$RUN/firebase/tmp" "$RUN/firebase/config"
cat >"$RUN/firebase/firebase.json" <<JSON
{"emulators": {"auth": {"host": "127.0.0.1", "port": $AUTH_PORT},
  "hub": {"host": "127.0.0.1", "port": $HUB_PORT},
  "logging": {"host": "127.0.0.1", "port": $LOGGING_PORT},
  "ui": {"enabled": false}, "singleProjectMode": true}}
JSON
(cd "$RUN/firebase" && CI=1 NO_UPDATE_NOTIFIER=1 TMPDIR="$RUN/firebase/tmp" XDG_CONFIG_HOME="$RUN/firebase/config" \
  exec node "$FIREBASE_JS" emulators:start --only auth --project "$PROJECT_ID") >"$RUN/firebase.log" 2>&1 &
PIDS+=($!)

# --- Secrets Manager (moto) and the TikTok fake -----------------------------------
# From the run directory: moto's request recorder (the benchmark's) writes its file there.
(cd "$RUN" && exec "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT") >"$RUN/moto.log" 2>&1 &
PIDS+=($!)
TIKTOK_FAKE_REDIRECT_URIS="$REDIRECT_URIS" python3 "$ROOT/scripts/tiktok_fake" "$TIKTOK_PORT" "$TIKTOK_CLIENT_KEY_VALUE" "$TIKTOK_CLIENT_SECRET_VALUE" \
  >"$RUN/tiktok.log" 2>&1 &
PIDS+=($!)
# The app's verified media domain for photos (https, its own certificate authority).
"$VENV/bin/python" "$ROOT/scripts/photo_server.py" "$PHOTO_PORT" "$RUN/photos" >"$RUN/photos.log" 2>&1 &
PIDS+=($!)

wait_for() { # name url pattern seconds
  local deadline=$(( $(date +%s) + $4 ))
  until curl -fsS --max-time 2 "$2" 2>/dev/null | grep -Eq "$3"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$1 did not start; its log:"; tail -n 40 "$RUN/$1.log" >&2 || true; exit 1
    fi
    sleep 0.3
  done
}
wait_for postgrest "http://127.0.0.1:$PGRST_PORT/" "" 60
wait_for moto "http://127.0.0.1:$MOTO_PORT/moto-api/" "" 30
wait_for tiktok "http://127.0.0.1:$TIKTOK_PORT/health" ok 30
wait_for firebase "http://127.0.0.1:$AUTH_PORT/" '"ready": *true' 120
deadline=$(( $(date +%s) + 30 ))
until [ -f "$RUN/photos/ca.pem" ] && curl -fsS --max-time 2 --cacert "$RUN/photos/ca.pem" \
    "https://127.0.0.1:$PHOTO_PORT/_calls" 2>/dev/null | grep -q calls; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "photos did not start; its log:"; tail -n 40 "$RUN/photos.log" >&2 || true; exit 1
  fi
  sleep 0.3
done
# The media bucket, as template.yaml makes it (moto serves S3 on the same endpoint).
MEDIA_BUCKET_NAME="tiktok-media-local"
"$VENV/bin/python" - "http://127.0.0.1:$MOTO_PORT" "$MEDIA_BUCKET_NAME" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="local", aws_secret_access_key="local")
s3.create_bucket(Bucket=sys.argv[2])
PY
log "stack ready"

cat >"$RUN/stack.env" <<ENV
SUPABASE_REST_URL='http://127.0.0.1:$PGRST_PORT'
SUPABASE_SERVICE_KEY='$SERVICE_KEY'
ENCRYPTION_KEY='$ENCRYPTION_KEY_VALUE'
TIKTOK_CLIENT_KEY='$TIKTOK_CLIENT_KEY_VALUE'
TIKTOK_CLIENT_SECRET='$TIKTOK_CLIENT_SECRET_VALUE'
TIKTOK_API_BASE_URL='http://127.0.0.1:$TIKTOK_PORT'
TIKTOK_AUTH_BASE_URL='http://127.0.0.1:$TIKTOK_PORT'
TIKTOK_REDIRECT_URIS='$REDIRECT_URIS'
FIREBASE_PROJECT_ID='$PROJECT_ID'
FIREBASE_AUTH_EMULATOR_HOST='127.0.0.1:$AUTH_PORT'
AWS_REGION='us-east-1'
AWS_ACCESS_KEY_ID='local'
AWS_SECRET_ACCESS_KEY='local'
AWS_EC2_METADATA_DISABLED='true'
AWS_ENDPOINT_URL_SECRETS_MANAGER='http://127.0.0.1:$MOTO_PORT'
AWS_ENDPOINT_URL_S3='http://127.0.0.1:$MOTO_PORT'
MEDIA_BUCKET='$MEDIA_BUCKET_NAME'
MEDIA_URL_PREFIXES='https://127.0.0.1:$PHOTO_PORT/photos/'
EXTRA_CA_CERTS='$RUN/photos/ca.pem'
STACK_PHOTO_URL='https://127.0.0.1:$PHOTO_PORT'
STACK_PG_URL='$PG_URL'
STACK_TIKTOK_URL='http://127.0.0.1:$TIKTOK_PORT'
STACK_MOTO_URL='http://127.0.0.1:$MOTO_PORT'
STACK_PYTHON='$VENV/bin/python'
STACK_DIR='$RUN'
LOCAL_API_URL='http://localhost:$API_PORT'
LOCAL_WEB_URL='http://localhost:$WEB_PORT'
ALLOWED_ORIGINS='http://localhost:3000,http://localhost:$WEB_PORT'
AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH='true'
ENV
set -a
source "$RUN/stack.env"
set +a
"$@"

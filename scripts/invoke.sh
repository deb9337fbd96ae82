#!/usr/bin/env bash
# Sends one events/ file to the function running under scripts/run.sh, with the Firebase
# ID token placeholder filled in by a fresh emulator token (scripts/id-token.sh) and any
# other REPLACE_WITH_NAME placeholder from the environment variable NAME.
#
#   source .stack/env
#   scripts/invoke.sh list-connections events/list-connections/ok.json
#   OPEN_ID=... scripts/invoke.sh tiktok-test events/tiktok-test/account-id.json
#   OPEN_ID=... scripts/invoke.sh tiktok-webhook events/tiktok-webhook/authorization-removed.json
#     (signed here with TIKTOK_CLIENT_SECRET from .stack/env; CLIENT_KEY defaults to
#     TIKTOK_CLIENT_KEY)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 FUNCTION EVENT_FILE" >&2; exit 2; }
: "${LOCAL_WATCH_PORT:?start scripts/run.sh, then: source .stack/env}"
here="$(cd "$(dirname "$0")" && pwd)"
# The filled-in event holds an ID token: removed on exit.
event="$(mktemp)"
trap 'rm -f "$event"' EXIT
if grep -q REPLACE_WITH_FIREBASE_ID_TOKEN "$2"; then
  FIREBASE_ID_TOKEN="$("$here/id-token.sh")"
  export FIREBASE_ID_TOKEN
fi
python3 - "$2" "$event" <<'PY'
import hashlib, hmac, json, os, re, sys, time
env = dict(os.environ)
env.setdefault("CLIENT_KEY", env.get("TIKTOK_CLIENT_KEY", ""))
text = open(sys.argv[1]).read()
# A webhook delivery is signed here, over its body as sent (TikTok-Signature).
sign = "REPLACE_WITH_SIGNATURE" in text
if sign:
    env.setdefault("SIGNATURE", "unsigned")
    if not env.get("TIKTOK_CLIENT_SECRET"):
        sys.exit("invoke: set TIKTOK_CLIENT_SECRET (source .stack/env) to sign " + sys.argv[1])
missing = sorted({name for name in re.findall(r"REPLACE_WITH_([A-Z_]+)", text) if not env.get(name)})
if missing:
    sys.exit("invoke: set " + ", ".join(missing) + " (placeholders of " + sys.argv[1] + ")")
text = re.sub(r"REPLACE_WITH_([A-Z_]+)", lambda m: env[m.group(1)], text)
if sign:
    event = json.loads(text)
    t = str(int(time.time()))
    mac = hmac.new(env["TIKTOK_CLIENT_SECRET"].encode(), f"{t}.{event['body']}".encode(), hashlib.sha256)
    event["headers"]["tiktok-signature"] = f"t={t},s={mac.hexdigest()}"
    text = json.dumps(event, indent=2)
open(sys.argv[2], "w").write(text)
PY
cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LOCAL_WATCH_PORT" --data-file "$event"

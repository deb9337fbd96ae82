#!/usr/bin/env bash
# Sends one events/ file to the function running under scripts/run.sh, with the Firebase
# ID token placeholder filled in by a fresh emulator token (scripts/id-token.sh) and any
# other REPLACE_WITH_NAME placeholder from the environment variable NAME.
#
#   source .stack/env
#   scripts/invoke.sh list-connections events/list-connections/ok.json
#   OPEN_ID=... scripts/invoke.sh tiktok-test events/tiktok-test/account-id.json
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
import os, re, sys
text = open(sys.argv[1]).read()
missing = sorted({name for name in re.findall(r"REPLACE_WITH_([A-Z_]+)", text) if not os.environ.get(name)})
if missing:
    sys.exit("invoke: set " + ", ".join(missing) + " (placeholders of " + sys.argv[1] + ")")
open(sys.argv[2], "w").write(re.sub(r"REPLACE_WITH_([A-Z_]+)", lambda m: os.environ[m.group(1)], text))
PY
cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LOCAL_WATCH_PORT" --data-file "$event"

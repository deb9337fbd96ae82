#!/usr/bin/env bash
# Prints a fresh Firebase ID token (valid one hour) for a user of the local Auth
# emulator, creating the user on first use: for curl, the events/ files and Postman.
#
#   source .stack/env            # written by scripts/run.sh
#   scripts/id-token.sh [EMAIL] [PASSWORD]     (default dev@example.com / local-password)
set -euo pipefail
: "${FIREBASE_AUTH_EMULATOR_HOST:?start scripts/run.sh, then: source .stack/env}"
exec python3 - "${1:-dev@example.com}" "${2:-local-password}" <<'PY'
import json, os, sys, urllib.error, urllib.request

email, password = sys.argv[1], sys.argv[2]
base = f"http://{os.environ['FIREBASE_AUTH_EMULATOR_HOST']}/identitytoolkit.googleapis.com/v1/accounts"

def call(action):
    body = json.dumps({"email": email, "password": password, "returnSecureToken": True}).encode()
    request = urllib.request.Request(f"{base}:{action}?key=local", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as err:
        return json.load(err)
    except urllib.error.URLError as err:
        sys.exit(f"id-token: the Auth emulator at {os.environ['FIREBASE_AUTH_EMULATOR_HOST']} "
                 f"does not answer ({err.reason}): is scripts/run.sh running?")

answer = call("signInWithPassword")
if "idToken" not in answer and answer.get("error", {}).get("message", "").startswith("EMAIL_NOT_FOUND"):
    answer = call("signUp")
if "idToken" not in answer:
    sys.exit(f"id-token: the emulator refused: {answer.get('error', {}).get('message', answer)}")
print(answer["idToken"])
PY

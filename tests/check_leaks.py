#!/usr/bin/env python3
"""Fails if any credential appears in any log line the run produced.

Reads every log file under $STACK_DIR/logs (the test processes' logs at TRACE, and the
functions' output under `cargo lambda watch` in the smoke test) and looks for: every
access and refresh token the TikTok fake issued, the Fernet key(s), the service key,
the TikTok client secret, and the credentials the tests made (Firebase ID tokens,
private keys) recorded under $STACK_DIR/secrets; and any presigned S3 URL (its
`X-Amz-Signature`) or TikTok upload URL (its `upload_token`), which are credentials for
as long as they work. Run inside scripts/with-stack.sh."""

import json
import os
import pathlib
import sys
import urllib.request

run = pathlib.Path(os.environ["STACK_DIR"])
with urllib.request.urlopen(os.environ["STACK_TIKTOK_URL"] + "/_fake/issued") as r:
    secrets = set(json.load(r)["tokens"])
for name in ("SUPABASE_SERVICE_KEY", "TIKTOK_CLIENT_SECRET"):
    secrets.add(os.environ[name])
secrets.update(k.strip() for k in os.environ["ENCRYPTION_KEY"].split(","))
for path in (run / "secrets").glob("*"):
    text = path.read_text()
    if "PRIVATE KEY" in text:
        # Any long line of the key's body.
        secrets.update(line for line in text.splitlines() if len(line) > 40 and "PRIVATE" not in line)
    else:
        secrets.add(text.strip())
secrets = {s for s in secrets if len(s) >= 16}

logs = sorted((run / "logs").glob("*.log"))
lines = 0
leaks = []
for log in logs:
    for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
        lines += 1
        for secret in secrets:
            if secret in line:
                leaks.append(f"{log.name}:{number}: contains a credential ({secret[:6]}...)")
        for marker in ("X-Amz-Signature=", "X-Amz-Credential=", "upload_token="):
            if marker in line:
                leaks.append(f"{log.name}:{number}: contains a signed URL ({marker})")
if not logs or lines == 0:
    print("check_leaks: no log lines were captured", file=sys.stderr)
    sys.exit(1)
if leaks:
    print("\n".join(leaks[:20]), file=sys.stderr)
    sys.exit(1)
print(f"check_leaks: {lines} log lines in {len(logs)} files, {len(secrets)} credentials, no leak")

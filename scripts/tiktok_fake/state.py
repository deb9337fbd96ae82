"""The fake's state (every account, token, code, video and publish, behind one lock), its
settings, and what every part uses: TikTok's id and token formats, the envelope, the
recorded answer shapes of tests/fixtures/tiktok/."""

import json
import os
import re
import secrets
import threading
import time


LOCK = threading.Lock()
ACCOUNTS = {}  # open_id -> account dict
ACCESS = {}  # access token -> (open_id, expires_at)
REFRESH = {}  # refresh token -> open_id (current tokens only)
RETIRED = {}  # refresh token -> open_id (rotated or invalidated: refused, but attributed)
FAULTS = {}  # (open_id, endpoint) -> [response, ...]
CALLS = []  # {"endpoint", "open_id", ...}
ISSUED = []  # every token the fake ever issued (the log leak check reads them)
CODES = {}  # authorization code -> {client_key, redirect_uri, challenge, scope, open_id, expires_at, used}
CODE_TTL = 600
VIDEOS = {}  # open_id -> [video], newest first
VERIFIED_PREFIXES = ["https://media.example.com/verified/"]  # PULL_FROM_URL prefixes the app verified
PUBLISHES = {}  # publish_id -> publish record (see publish_init)
UPLOADS = {}  # upload_id -> publish_id
RATES = {}  # (access token, bucket) -> times of the requests counted in the last minute
DISPLAY_CALLS = {}  # Display API endpoint -> times of its requests in the last minute (app-wide)
DISPLAY_RPM = {"rpm": 600}  # TikTok's limit per Display API endpoint: 600 a minute, a sliding window (/_fake/display_rpm: the benchmark's load)
LATENCY = {"ms": 0}  # added before every answer to a bearer call (/_fake/latency: the benchmark's TikTok)


class SETTINGS:
    """Set once at start (server.main)."""
    client_key = ""
    client_secret = ""
    upload_host = ""  # host:port of the upload listener


def log_id():
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


def new_open_id():
    """An open_id as TikTok's: `-` or `_`, `000`, then 32 URL-safe characters (which may
    hold `-` and `_`), e.g. -000sr6ziSORMWi9D4IFqm6ADJtH4KS3gO6e."""
    return secrets.choice("-_") + "000" + secrets.token_urlsafe(24)


def new_token(kind):
    """An access (`act`) or refresh (`rft`) token as TikTok's: act.<...>!5096.va; the `!`
    and the dots are part of the token."""
    return f"{kind}.{secrets.token_urlsafe(45)}!{secrets.randbelow(9000) + 1000}.va"


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "tiktok")


def fixture(name):
    """A recorded answer shape (tests/fixtures/tiktok/<name>.json) as a scripted response:
    its status, headers and body (kept as the file has it, numbers digit for digit)."""
    if not re.fullmatch(r"[a-z0-9_-]+", name or ""):
        raise ValueError("fixture names are lowercase words")
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        shape = json.load(f)
    answer = shape["answer"]
    return {"status": answer["status"], "headers": answer.get("headers") or {}, "body": answer["body"]}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def utf16_len(text):
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def json_body(raw):
    """A request body as JSON: {} when empty, None when it is not JSON."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None


def envelope(data):
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}}

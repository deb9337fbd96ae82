#!/usr/bin/env python3
"""A TikTok API v2 fake for the local stack (TikTok has no emulator).

Follows TikTok's documented v2 contract where it is documented, and says where it
assumes (no status is documented for OAuth errors: 400 for invalid_grant, 401 for
invalid_client are assumptions; revoke errors are undocumented: 400 invalid_request for
an unknown or expired token is an assumption; refresh tokens always rotate, per the
newer pages):
- GET /v2/user/info/?fields=...  with `Authorization: Bearer <access token>`; answers the
  envelope {"data": {"user": {...}}, "error": {"code", "message", "log_id"}}; error codes
  and statuses: access_token_invalid 401, scope_not_authorized 401, invalid_params 400,
  rate_limit_exceeded 429, internal_error 500. Only the fields the granted scopes allow.
- POST /v2/oauth/token/ (form: client_key, client_secret, grant_type=refresh_token,
  refresh_token): rotates the refresh token; the previous one stops working at once.
  Errors: {"error", "error_description", "log_id"} (invalid_grant, invalid_client, ...).
- POST /v2/oauth/revoke/ (form: client_key, client_secret, token): ends the grant.
- POST /v2/video/list/?fields=... (JSON {cursor, max_count}; scope video.list): the
  account's videos newest first; `cursor` is a Unix timestamp in milliseconds (videos
  posted before it), `max_count` 1-20 (default 10; else invalid_params), `has_more`.
- POST /v2/video/query/?fields=... (JSON {filters: {video_ids}}, at most 20): those
  videos, cover URLs renewed.
- The authorization-code grant with PKCE: POST /v2/oauth/token/ with
  grant_type=authorization_code, code, redirect_uri, code_verifier. Codes come from the
  user's consent (the control call /_fake/consent plays it, given the authorize URL's
  parameters); each is bound to the client key, the redirect URI and the S256 challenge
  (base64url as RFC 7636 writes it, or hex as TikTok's desktop guide asks), used once,
  and expires after 10 minutes. A used, unknown or expired code, or another redirect
  URI: invalid_grant; a verifier that does not match the challenge: invalid_request
  "Code verifier or code challenge is invalid." (as seen from TikTok).

Test control under /_fake/ (JSON): create accounts, expire tokens, script faults per
account and endpoint, read the calls each account received.
Standard library only. Usage: tiktok_fake.py PORT CLIENT_KEY CLIENT_SECRET
"""

import base64
import hashlib
import json
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SCOPE_FIELDS = {
    "user.info.basic": ["open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name"],
    "user.info.profile": ["bio_description", "profile_deep_link", "is_verified", "username"],
    "user.info.stats": ["follower_count", "following_count", "likes_count", "video_count"],
}
ALL_FIELDS = {f for fields in SCOPE_FIELDS.values() for f in fields}

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
VIDEO_FIELDS = {"id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                "share_count", "view_count"}


def log_id():
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


def retire_refresh(open_id):
    for old in [t for t, oid in REFRESH.items() if oid == open_id]:
        RETIRED[old] = REFRESH.pop(old)


def new_account(open_id, p):
    """An account as /_fake/accounts (or a consent) makes it; `p` may set its scope,
    token lifetimes and profile fields."""
    return {
        "open_id": open_id,
        "scope": p.get("scope", "user.info.basic,user.info.profile,user.info.stats"),
        "access_ttl": int(p.get("access_ttl", 7200)),
        "refresh_ttl": int(p.get("refresh_ttl", 15552000)),
        "profile": {
            "open_id": open_id, "union_id": "u" + open_id,
            "display_name": "Creator " + open_id[:6],
            "avatar_url": "https://p16.tiktokcdn.com/avatar/" + open_id + ".jpeg",
            "avatar_url_100": None, "avatar_large_url": None,
            "username": "creator_" + open_id[:6].strip("-"), "bio_description": "Hello",
            "profile_deep_link": "https://www.tiktok.com/@x", "is_verified": False,
            "follower_count": 1200, "following_count": 30, "likes_count": 45000, "video_count": 12,
            **p.get("profile", {}),
        },
    }


def s256(verifier):
    """The S256 challenge of a verifier, in both encodings TikTok's guides name."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return {base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), digest.hex()}


def issue_tokens(account):
    now = time.time()
    access = "act." + secrets.token_urlsafe(24)
    refresh = "rft." + secrets.token_urlsafe(24)
    ACCESS[access] = (account["open_id"], now + account["access_ttl"])
    ISSUED.extend([access, refresh])
    retire_refresh(account["open_id"])
    REFRESH[refresh] = account["open_id"]
    account["refresh_expires_at"] = now + account["refresh_ttl"]
    account["refresh_token"] = refresh
    return {
        "access_token": access,
        "expires_in": account["access_ttl"],
        "open_id": account["open_id"],
        "refresh_expires_in": account["refresh_ttl"],
        "refresh_token": refresh,
        "scope": account["scope"],
        "token_type": "Bearer",
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tiktok-fake"

    def setup(self):
        super().setup()
        # Answers leave at once (no Nagle delay between the head and the body).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: keep the run's logs short
        pass

    # -- plumbing ---------------------------------------------------------------------
    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, payload, headers=None):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def fault(self, open_id, endpoint):
        """Plays the next scripted response for this account and endpoint, if any."""
        with LOCK:
            queue = FAULTS.get((open_id, endpoint))
            response = queue.pop(0) if queue else None
        if response is None:
            return False
        time.sleep(response.get("delay_ms", 0) / 1000)
        if response.get("drop"):
            self.close_connection = True
            self.connection.close()
            return True
        body = response.get("body", {})
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send(response.get("status", 500), raw, response.get("headers"))
        return True

    def envelope_error(self, status, code, message):
        self.send(status, {"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}})

    def oauth_error(self, status, error, description):
        self.send(status, {"error": error, "error_description": description, "log_id": log_id()})

    # -- TikTok -----------------------------------------------------------------------
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/v2/user/info/":
            return self.user_info(url)
        if url.path == "/_fake/calls":
            open_id = parse_qs(url.query).get("open_id", [None])[0]
            with LOCK:
                calls = [c for c in CALLS if open_id is None or c["open_id"] == open_id]
            return self.send(200, {"calls": calls})
        if url.path.startswith("/_fake/accounts/"):
            open_id = url.path.rsplit("/", 1)[1]
            with LOCK:
                account = ACCOUNTS.get(open_id)
                state = None if account is None else {
                    "open_id": open_id,
                    "refresh_token": account["refresh_token"],
                    "valid_access_tokens": [t for t, (oid, exp) in ACCESS.items() if oid == open_id and exp > time.time()],
                }
            return self.send(200 if state else 404, state or {"error": "no such account"})
        if url.path == "/_fake/issued":
            with LOCK:
                return self.send(200, {"tokens": list(ISSUED)})
        if url.path == "/health":
            return self.send(200, {"ok": True})
        self.envelope_error(404, "invalid_params", "Unknown path")

    def user_info(self, url):
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        fields = parse_qs(url.query).get("fields", [""])[0]
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": "user_info", "open_id": open_id, "fields": fields})
        if open_id and self.fault(open_id, "user_info"):
            return
        if not entry or entry[1] <= time.time():
            return self.envelope_error(401, "access_token_invalid",
                                       "The access token is invalid or not found in the request.")
        requested = [f.strip() for f in fields.split(",") if f.strip()]
        if not requested or any(f not in ALL_FIELDS for f in requested):
            return self.envelope_error(400, "invalid_params", "The fields parameter is missing or invalid.")
        with LOCK:
            account = ACCOUNTS[open_id]
            granted = [s.strip() for s in account["scope"].split(",")]
            allowed = {f for s in granted for f in SCOPE_FIELDS.get(s, [])}
            profile = dict(account["profile"])
        if any(f not in allowed for f in requested):
            return self.envelope_error(401, "scope_not_authorized",
                                       "The user did not authorize the scope required for completing this request.")
        user = {f: profile.get(f) for f in requested if f in profile}
        self.send(200, {"data": {"user": user}, "error": {"code": "ok", "message": "", "log_id": log_id()}})

    def do_POST(self):
        url = urlparse(self.path)
        raw = self.body()
        if url.path in ("/v2/oauth/token/", "/v2/oauth/revoke/"):
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            if form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
                return self.oauth_error(401, "invalid_client", "Client key or secret is invalid.")
            if url.path == "/v2/oauth/token/":
                return self.token(form)
            return self.revoke(form)
        if url.path in ("/v2/video/list/", "/v2/video/query/"):
            return self.videos(url, raw)
        if url.path.startswith("/_fake/"):
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                return self.send(400, {"error": "not json"})
            return self.admin(url.path, payload)
        self.envelope_error(404, "invalid_params", "Unknown path")

    def token(self, form):
        if form.get("grant_type") == "authorization_code":
            return self.code_grant(form)
        if form.get("grant_type") != "refresh_token":
            return self.oauth_error(400, "unsupported_grant_type", "Unsupported grant type.")
        refresh = form.get("refresh_token", "")
        with LOCK:
            open_id = REFRESH.get(refresh) or RETIRED.get(refresh)
            CALLS.append({"endpoint": "token", "open_id": open_id})
        if open_id and self.fault(open_id, "token"):
            return
        with LOCK:
            account = ACCOUNTS.get(open_id) if open_id else None
            if account is None or account["refresh_expires_at"] <= time.time() or REFRESH.get(refresh) != open_id:
                grant = None
            else:
                grant = issue_tokens(account)
        if grant is None:
            return self.oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
        self.send(200, grant)

    def videos(self, url, raw):
        """The account's videos: a list page or a query, with the fields asked for."""
        endpoint = "video_list" if url.path == "/v2/video/list/" else "video_query"
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        fields = [f.strip() for f in parse_qs(url.query).get("fields", [""])[0].split(",") if f.strip()]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": endpoint, "open_id": open_id, "body": body})
        if open_id and self.fault(open_id, endpoint):
            return
        if not entry or entry[1] <= time.time():
            return self.envelope_error(401, "access_token_invalid",
                                       "The access token is invalid or not found in the request.")
        if not isinstance(body, dict) or not fields or any(f not in VIDEO_FIELDS for f in fields):
            return self.envelope_error(400, "invalid_params", "The fields parameter or the body is invalid.")
        with LOCK:
            if "video.list" not in [s.strip() for s in ACCOUNTS[open_id]["scope"].split(",")]:
                return self.envelope_error(401, "scope_not_authorized",
                                           "The user did not authorize the scope required for completing this request.")
            videos = list(VIDEOS.get(open_id, []))
        pick = lambda v: {f: v[f] for f in fields if f in v}
        if endpoint == "video_query":
            ids = (body.get("filters") or {}).get("video_ids")
            if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
                return self.envelope_error(400, "invalid_params", "video_ids must hold 1 to 20 ids.")
            found = [dict(v, cover_image_url=v["cover_image_url"] + "?renewed=" + str(int(time.time())))
                     for v in videos if v["id"] in ids]
            data = {"videos": [pick(v) for v in found]}
        else:
            max_count = body.get("max_count", 10)
            cursor = body.get("cursor")
            if not isinstance(max_count, int) or not 1 <= max_count <= 20 \
                    or (cursor is not None and not isinstance(cursor, int)):
                return self.envelope_error(400, "invalid_params", "max_count must be 1 to 20.")
            before = [v for v in videos if cursor is None or v["create_time"] * 1000 < cursor]
            page = before[:max_count]
            next_cursor = page[-1]["create_time"] * 1000 if page else (cursor or int(time.time() * 1000))
            data = {"videos": [pick(v) for v in page], "cursor": next_cursor,
                    "has_more": len(before) > len(page)}
        self.send(200, {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}})

    def code_grant(self, form):
        code = form.get("code", "")
        with LOCK:
            entry = CODES.get(code)
            open_id = entry["open_id"] if entry else None
            verifier_ok = bool(entry) and entry["challenge"] in s256(form.get("code_verifier", ""))
            CALLS.append({"endpoint": "token_code", "open_id": open_id, "verifier_ok": verifier_ok,
                          "redirect_uri": form.get("redirect_uri")})
            if entry is None or entry["used"] or entry["expires_at"] <= time.time() \
                    or entry["client_key"] != form.get("client_key") \
                    or entry["redirect_uri"] != form.get("redirect_uri"):
                grant = "invalid_grant"
            elif not verifier_ok:
                grant = "invalid_verifier"
            else:
                entry["used"] = True
                account = ACCOUNTS[open_id]
                account["scope"] = entry["scope"]
                grant = issue_tokens(account)
        if grant == "invalid_grant":
            return self.oauth_error(400, "invalid_grant", "Authorization code is expired or invalid.")
        if grant == "invalid_verifier":
            return self.oauth_error(400, "invalid_request", "Code verifier or code challenge is invalid.")
        self.send(200, grant)

    def revoke(self, form):
        token = form.get("token", "")
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": "revoke", "open_id": open_id, "token": token})
        if open_id and self.fault(open_id, "revoke"):
            return
        if open_id is None or entry[1] <= time.time():
            return self.oauth_error(400, "invalid_request", "Access token is invalid.")
        with LOCK:
            for t in [t for t, (oid, _) in ACCESS.items() if oid == open_id]:
                del ACCESS[t]
            retire_refresh(open_id)
        self.send(200, {})

    # -- test control -----------------------------------------------------------------
    def consent(self, p):
        """The user consents on TikTok's page: given the authorize URL's parameters and
        the account consenting (`open_id`, made if new), the code TikTok would put on the
        redirect, and the redirect itself. Called with LOCK held."""
        q = p.get("query") or {k: v[0] for k, v in parse_qs(urlparse(p.get("authorize_url", "")).query).items()}
        if q.get("client_key") != CLIENT_KEY:
            return self.send(400, {"error": "client_key is not this app's"})
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                or not q.get("code_challenge") or not q.get("redirect_uri") or not q.get("state"):
            return self.send(400, {"error": "authorize URL lacks response_type=code, S256 PKCE, redirect_uri or state"})
        open_id = p.get("open_id") or "-" + secrets.token_hex(16)
        if open_id not in ACCOUNTS:
            ACCOUNTS[open_id] = new_account(open_id, p)
            ACCOUNTS[open_id]["refresh_token"] = None
            ACCOUNTS[open_id]["refresh_expires_at"] = 0
        code = "code." + secrets.token_urlsafe(24)
        CODES[code] = {"client_key": q["client_key"], "redirect_uri": q["redirect_uri"],
                       "challenge": q["code_challenge"], "scope": q.get("scope", "user.info.basic"),
                       "open_id": open_id, "expires_at": time.time() + CODE_TTL, "used": False}
        ISSUED.append(code)
        separator = "&" if "?" in q["redirect_uri"] else "?"
        redirect = (q["redirect_uri"] + separator + "code=" + code + "&scopes=" + q.get("scope", "")
                    + "&state=" + q["state"])
        return self.send(200, {"code": code, "open_id": open_id, "redirect": redirect})

    def admin(self, path, p):
        with LOCK:
            if path == "/_fake/accounts":
                open_id = p.get("open_id") or "-" + secrets.token_hex(16)
                account = new_account(open_id, p)
                ACCOUNTS[open_id] = account
                return self.send(200, issue_tokens(account))
            if path == "/_fake/consent":
                return self.consent(p)
            open_id = p.get("open_id")
            if open_id not in ACCOUNTS:
                return self.send(404, {"error": "no such account"})
            if path == "/_fake/expire_access":
                for t, (oid, _) in list(ACCESS.items()):
                    if oid == open_id:
                        ACCESS[t] = (oid, 0)
                return self.send(200, {})
            if path == "/_fake/deauthorize":
                # The user removed the app in TikTok's settings: every token is dead.
                for t in [t for t, (oid, _) in ACCESS.items() if oid == open_id]:
                    del ACCESS[t]
                retire_refresh(open_id)
                return self.send(200, {})
            if path == "/_fake/invalidate_refresh":
                retire_refresh(open_id)
                return self.send(200, {})
            if path == "/_fake/faults":
                FAULTS.setdefault((open_id, p["endpoint"]), []).extend(p["responses"])
                return self.send(200, {})
            if path == "/_fake/videos":
                # `count` videos, an hour apart, the newest `newest` (Unix seconds).
                newest = int(p.get("newest", time.time()))
                made = []
                for i in range(int(p.get("count", 1))):
                    vid = str(7300000000000000000 + secrets.randbelow(10 ** 15))
                    made.append({
                        "id": vid, "create_time": newest - 3600 * i, "title": f"Video {i}",
                        "video_description": f"Description {i}", "duration": 15 + i,
                        "cover_image_url": f"https://p16.tiktokcdn.com/cover/{vid}.jpeg",
                        "share_url": f"https://www.tiktok.com/@x/video/{vid}",
                        "embed_link": f"https://www.tiktok.com/embed/v2/{vid}",
                        "embed_html": "<blockquote></blockquote>", "width": 1080, "height": 1920,
                        "like_count": 100 + i, "comment_count": 10 + i, "share_count": i, "view_count": 1000 + i,
                    })
                VIDEOS[open_id] = sorted(VIDEOS.get(open_id, []) + made, key=lambda v: -v["create_time"])
                return self.send(200, {"videos": made})
            if path == "/_fake/expire_code":
                CODES[p["code"]]["expires_at"] = 0
                return self.send(200, {})
            if path == "/_fake/check_refresh":
                return self.send(200, {"valid": REFRESH.get(p.get("refresh_token")) == open_id})
        return self.send(404, {"error": "unknown control path"})


if __name__ == "__main__":
    port, CLIENT_KEY, CLIENT_SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"tiktok fake on 127.0.0.1:{port}", flush=True)
    server.serve_forever()

#!/usr/bin/env python3
"""A TikTok API v2 fake for the local stack (TikTok has no emulator).

Behaves as the real TikTok answers: recorded live answers first (tests/fixtures/tiktok/
holds each shape, which /_fake/faults can serve as {"fixture": name}), then TikTok's
documents, and says where it assumes (OAuth errors at 400, 401 for invalid_client,
unless the account was made with "oauth_error_status": 200, as TikTok also answers
them; revoke errors are undocumented: invalid_request for an unknown or expired token is
an assumption; refresh tokens always rotate, per the newer pages). As TikTok's: open_ids
like -000sr6ziSORMWi9D4IFqm6ADJtH4KS3gO6e, union_ids UUIDs, tokens act.<...>!5096.va /
rft.<...>!5132.va, error bodies without "data", no Retry-After on 429:
- GET /v2/user/info/?fields=...  with `Authorization: Bearer <access token>`; answers the
  envelope {"data": {"user": {...}}, "error": {"code", "message", "log_id"}}; error codes
  and statuses: access_token_invalid 401, scope_not_authorized 401 (no user.info.basic),
  scope_permission_missed 400 (fields outside the grant, as recorded), invalid_params
  400, rate_limit_exceeded 429, internal_error 500.
- POST /v2/oauth/token/ (form: client_key, client_secret, grant_type=refresh_token,
  refresh_token): rotates the refresh token; the previous one stops working at once.
  Errors: {"error", "error_description", "log_id"} (invalid_grant, invalid_client, ...).
- POST /v2/oauth/revoke/ (form: client_key, client_secret, token): ends the grant.
- POST /v2/video/list/?fields=... (JSON {cursor, max_count}; scope video.list): the
  account's videos newest first; `cursor` is a Unix timestamp in milliseconds (videos
  posted before it; not a non-negative integer: invalid_params), `max_count` an integer
  1-20 (default 10; else, a boolean too, invalid_params), `has_more`; an empty page
  answers cursor 0. Ids are strings, or numbers for videos made with id_type "number".
- POST /v2/video/query/?fields=... (JSON {filters: {video_ids}}, at most 20): those
  videos, cover URLs renewed.
- The consent page: GET /v2/auth/authorize/?client_key&response_type=code&scope
  &redirect_uri&state&code_challenge&code_challenge_method=S256 answers an HTML page (no
  external assets) with the requested scopes, a "Display name" input (id display_name)
  and the buttons Authorize (id authorize) and Cancel (id cancel); its form POSTs
  (x-www-form-urlencoded) to /v2/auth/authorize/ with the query in hidden fields.
  Authorize makes a new account with that display name and a code, then 302 to
  redirect_uri?code&scopes&state; Cancel: 302 to redirect_uri?error=access_denied
  &error_description&state (TikTok's callback parameters). A wrong client_key, no S256
  challenge, or a missing or non-http(s) redirect_uri or state: a 400 HTML page, never
  a redirect.
- The authorization-code grant with PKCE: POST /v2/oauth/token/ with
  grant_type=authorization_code, code, redirect_uri, code_verifier. Codes come from the
  user's consent (the page above, or the control call /_fake/consent, given the authorize
  URL's parameters, which answers {code, open_id, redirect} as JSON and 400 {error} where
  the page would); each is bound to the client key, the redirect URI and the S256 challenge
  (compared as TikTok does, the lowercase hex of SHA-256(verifier); base64url as RFC 7636
  writes it only for a consent with "pkce_encoding": "base64url", or with
  TIKTOK_FAKE_PKCE_ENCODING=base64url), used once, and expires after 10 minutes. A used, unknown or expired code, or another redirect
  URI: invalid_grant; a verifier that does not match the challenge: invalid_request
  "Code verifier or code challenge is invalid." (as seen from TikTok).
- The Content Posting API (bearer token, JSON bodies, the envelope; fault and CALLS names
  creator_info, video_init, inbox_init, content_init, status_fetch, upload):
  POST /v2/post/publish/creator_info/query/ (video.publish; 20 a minute per token): the
  account's posting settings ("creator" on /_fake/accounts, /_fake/consent or
  /_fake/creator: privacy_level_options, comment/duet/stitch_disabled,
  max_video_post_duration_sec, private_account, app_unaudited, max_posts_per_day; the last
  three per account, not app-wide, so parallel tests do not meet).
  POST /v2/post/publish/video/init/ (direct post, video.publish), .../inbox/video/init/
  (video.upload) and .../content/init/ (photos: DIRECT_POST needs video.publish,
  MEDIA_UPLOAD video.upload): 6 a minute per token, counted together; over a limit: 429
  rate_limit_exceeded, without Retry-After (as TikTok: a one-minute sliding window). source_info FILE_UPLOAD follows the media transfer guide's chunk rules
  (MB = 1024*1024, an assumption) else invalid_params; PULL_FROM_URL video_url and photo
  URLs must start with a verified prefix (/_fake/verified_prefixes adds some) else 403
  url_ownership_unverified. Direct posts are checked in this order: the body's shape
  (invalid_params), privacy_level among the options (403 privacy_level_option_mismatch,
  as recorded; unset options are TikTok's: a public account gets no FOLLOWER_OF_CREATOR,
  a private one no PUBLIC_TO_EVERYONE),
  unaudited app and public account (403 unaudited_client_can_only_post_to_private_accounts),
  max_posts_per_day direct inits in 24 h (403 spam_risk_too_many_posts); inbox shares: 5
  pending ones (not PUBLISH_COMPLETE or FAILED) in 24 h (403
  spam_risk_too_many_pending_share); then the URL prefix. The 403 statuses, and checking the
  URL prefix last, are assumptions; reached_active_user_cap and
  spam_risk_user_banned_from_posting are left to scripted faults. The answer: publish_id
  in TikTok's formats (v_pub_file~v2-1.<n>, v_inbox_file~v2.<n>, v_pub_url~v2-1.<n>,
  p_pub_url~v2.<n>), and for FILE_UPLOAD an upload_url valid for an hour on another host
  than the API (as TikTok's open-upload-<region>.tiktokapis.com): a second listener,
  localhost:<TIKTOK_FAKE_UPLOAD_PORT or a free port>, which serves only the uploads.
  PUT /upload/?upload_id&upload_token (no bearer): one chunk of the declared plan, in
  order: Content-Type video/mp4, video/quicktime or video/webm, Content-Range bytes
  FIRST-LAST/TOTAL exactly the next chunk (else 416, an assumption), Content-Length its
  size; other problems 400, an unknown or expired URL 404 (small JSON bodies; the body is
  read in pieces and dropped). 206 while chunks remain, 201 after the last, which publishes
  a direct post (PUBLISH_COMPLETE) or sends a share to the inbox (SEND_TO_USER_INBOX).
  OPTIONS /upload/ answers a browser's CORS preflight. PULL_FROM_URL and photo publishes
  start PROCESSING_DOWNLOAD and are downloaded by the first status fetch (which answers
  the new state; downloaded_bytes a made-up size: an assumption). A public
  (PUBLIC_TO_EVERYONE) direct post gets one post id (an int64 number, as documented).
  POST /v2/post/publish/status/fetch/ {publish_id} (video.publish or video.upload; 30 a
  minute per token): status and only the keys that apply (as recorded): fail_reason
  (when FAILED; "internal" unless set, an assumption), publicaly_available_post_id
  (TikTok's spelling; when there are ids), uploaded_bytes (uploads) or downloaded_bytes;
  an unknown publish_id: 400 invalid_publish_id; another account's: 400
  token_not_authorized_for_specified_publish_id.

Test control under /_fake/ (JSON): create accounts, expire tokens, script faults per
account and endpoint, read the calls each account received; set an account's posting
settings (/_fake/creator), add videos (/_fake/videos {open_id, count?, newest?, omit?,
null?}: `omit` and `null` list the fields TikTok gives none of, absent or null), add
verified URL prefixes, set a publish's state
(/_fake/publish {publish_id, status?, fail_reason?, post_ids?}) and read it (GET
/_fake/publishes/<publish_id>).
Standard library only. Usage: tiktok_fake.py PORT CLIENT_KEY CLIENT_SECRET (and
TIKTOK_FAKE_REDIRECT_URIS in the environment: the redirect URIs registered for the app)
"""

import base64
import hashlib
import html
import json
import math
import os
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

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
# The app's registered redirect URIs (TIKTOK_FAKE_REDIRECT_URIS, comma-separated; the
# local stack passes its TIKTOK_REDIRECT_URIS). Empty: any http(s) URI (standalone use).
REDIRECT_URIS = {u.strip() for u in os.environ.get("TIKTOK_FAKE_REDIRECT_URIS", "").split(",") if u.strip()}
VIDEOS = {}  # open_id -> [video], newest first
VIDEO_FIELDS = {"id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                "share_count", "view_count"}

# -- Content Posting API ------------------------------------------------------------------
MB = 1024 * 1024  # TikTok's "MB" in the media transfer guide (binary: an assumption)
PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
# What TikTok offers when the options are not set: a public account no
# FOLLOWER_OF_CREATOR, a private one no PUBLIC_TO_EVERYONE.
PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
CREATOR_DEFAULTS = {  # an account's posting settings (override with "creator" on /_fake/accounts)
    # None: as TikTok offers them (PUBLIC_OPTIONS or PRIVATE_OPTIONS, by private_account)
    "privacy_level_options": None, "comment_disabled": False, "duet_disabled": False,
    "stitch_disabled": False, "max_video_post_duration_sec": 600, "private_account": False,
    "app_unaudited": False, "max_posts_per_day": 15,
    # False: TikTok's per-token posting rate limits are not applied (the benchmark's load).
    "rate_limited": True,
}
VERIFIED_PREFIXES = ["https://media.example.com/verified/"]  # PULL_FROM_URL prefixes the app verified
PUBLISHES = {}  # publish_id -> publish record (see publish_init)
UPLOADS = {}  # upload_id -> publish_id
RATES = {}  # (access token, bucket) -> times of the requests counted in the last minute
RATE_LIMITS = {"creator_info": 20, "init": 6, "status_fetch": 30}  # per access token per minute
POSTING = {
    "/v2/post/publish/creator_info/query/": "creator_info",
    "/v2/post/publish/video/init/": "video_init",
    "/v2/post/publish/inbox/video/init/": "inbox_init",
    "/v2/post/publish/content/init/": "content_init",
    "/v2/post/publish/status/fetch/": "status_fetch",
}
PUBLISH_STATUSES = {"PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE", "FAILED"}
UPLOAD_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
UPLOAD_TTL = 3600  # upload URLs are valid for an hour
PIECE = MB  # uploads are read in pieces of this size, never kept
DRAIN_LIMIT = 256 * MB  # a refused upload body up to this size is read and dropped; larger: connection closed
PULLED_VIDEO_BYTES = 8 * MB  # what a PULL_FROM_URL video "weighs" once downloaded (assumption)
PULLED_PHOTO_BYTES = 512 * 1024  # per photo (assumption)
MAX_PENDING_SHARES = 5  # inbox shares awaiting the user, per 24 h
VIDEO_FLAGS = ["disable_duet", "disable_comment", "disable_stitch", "brand_content_toggle",
               "brand_organic_toggle", "is_aigc"]
PHOTO_FLAGS = ["disable_comment", "auto_add_music", "brand_content_toggle", "brand_organic_toggle"]


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


def new_publish_id(mode, media, source):
    """A publish_id as TikTok's, by kind: v_pub_file~v2-1.<n> (direct upload),
    v_inbox_file~v2.<n> (inbox), v_pub_url~v2-1.<n> (direct from a URL), p_pub_url~v2.<n>
    (photos); the `~` is part of it."""
    n = str(7600000000000000000 + secrets.randbelow(10 ** 17))
    if media == "photo":
        return "p_pub_url~v2." + n
    if mode == "inbox":
        return ("v_inbox_file~v2." if source == "FILE_UPLOAD" else "v_inbox_url~v2.") + n
    return ("v_pub_file~v2-1." if source == "FILE_UPLOAD" else "v_pub_url~v2-1.") + n


def new_post_id():
    """A public post id: an int64 above 2^53 (TikTok documents list<int64>)."""
    return 7600000000000000000 + secrets.randbelow(10 ** 17)


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tiktok")


def fixture(name):
    """A recorded answer shape (tests/fixtures/tiktok/<name>.json) as a scripted response:
    its status, headers and body (kept as the file has it, numbers digit for digit)."""
    if not re.fullmatch(r"[a-z0-9_-]+", name or ""):
        raise ValueError("fixture names are lowercase words")
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        shape = json.load(f)
    answer = shape["answer"]
    return {"status": answer["status"], "headers": answer.get("headers") or {}, "body": answer["body"]}


def retire_refresh(open_id):
    for old in [t for t, oid in REFRESH.items() if oid == open_id]:
        RETIRED[old] = REFRESH.pop(old)


def new_account(open_id, p):
    """An account as /_fake/accounts (or a consent) makes it; `p` may set its scope,
    token lifetimes, profile fields and posting settings ("creator")."""
    return {
        "open_id": open_id,
        "creator": {**CREATOR_DEFAULTS, **(p.get("creator") or {})},
        # The HTTP status of this account's OAuth errors: TikTok answers them with 400 and
        # with 200 alike (an error at 200 is still an error).
        "oauth_error_status": int(p.get("oauth_error_status", 400)),
        "scope": p.get("scope", "user.info.basic,user.info.profile,user.info.stats"),
        "access_ttl": int(p.get("access_ttl", 7200)),
        "refresh_ttl": int(p.get("refresh_ttl", 15552000)),
        "profile": {
            "open_id": open_id, "union_id": str(uuid.uuid4()),
            "display_name": "Creator " + open_id[:6],
            "avatar_url": "https://p16.tiktokcdn.com/avatar/" + open_id + ".jpeg",
            "avatar_url_100": None, "avatar_large_url": None,
            "username": "creator_" + open_id[4:10].strip("-_"), "bio_description": "Hello",
            "profile_deep_link": "https://www.tiktok.com/@x", "is_verified": False,
            "follower_count": 1200, "following_count": 30, "likes_count": 45000, "video_count": 12,
            **p.get("profile", {}),
        },
    }


def privacy_options(creator):
    """The privacy levels a creator is offered."""
    if creator["privacy_level_options"] is not None:
        return list(creator["privacy_level_options"])
    return list(PRIVATE_OPTIONS if creator["private_account"] else PUBLIC_OPTIONS)


def creator_problem(creator):
    """What is wrong with a "creator" object of a control call, or None."""
    if creator is None:
        return None
    if not isinstance(creator, dict):
        return "creator must be an object"
    for key, value in creator.items():
        if key not in CREATOR_DEFAULTS:
            return "unknown creator setting " + key
        if key == "privacy_level_options":
            if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                return "privacy_level_options must be a list of strings or null"
        elif isinstance(CREATOR_DEFAULTS[key], bool):
            if not isinstance(value, bool):
                return key + " must be a boolean"
        elif not is_int(value) or value < 0:
            return key + " must be a non-negative integer"
    return None


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


def chunk_problem(size, chunk, total):
    """What breaks TikTok's chunk rules (media transfer guide) in a FILE_UPLOAD plan."""
    if size < 5 * MB:
        if chunk != size or total != 1:
            return "A video under 5 MB is sent whole: chunk_size must equal video_size, total_chunk_count 1."
        return None
    if not 5 * MB <= chunk <= 64 * MB:
        return "chunk_size must be at least 5 MB and at most 64 MB."
    if total != size // chunk:
        return "total_chunk_count must be video_size divided by chunk_size, rounded down."
    if total > 1000:
        return "At most 1000 chunks."
    if size - (total - 1) * chunk > 128 * MB:
        return "The last chunk may hold at most 128 MB."
    if size > 64 * MB and total < 2:
        return "A video over 64 MB must be sent in more than one chunk."
    return None


def chunk_range(plan, index):
    """The first and last byte of chunk `index` of a FILE_UPLOAD plan."""
    first = index * plan["chunk_size"]
    last = plan["video_size"] - 1 if index == plan["total_chunk_count"] - 1 else first + plan["chunk_size"] - 1
    return first, last


def video_source(info):
    """(plan, problem) of a video's source_info."""
    if not isinstance(info, dict):
        return None, "source_info is missing."
    if info.get("source") == "FILE_UPLOAD":
        size, chunk, total = (info.get(k) for k in ("video_size", "chunk_size", "total_chunk_count"))
        if not all(is_int(v) and v > 0 for v in (size, chunk, total)):
            return None, "video_size, chunk_size and total_chunk_count must be positive integers."
        problem = chunk_problem(size, chunk, total)
        if problem:
            return None, problem
        return {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": total}, None
    if info.get("source") == "PULL_FROM_URL":
        if not isinstance(info.get("video_url"), str) or not info["video_url"]:
            return None, "video_url is missing."
        return {"source": "PULL_FROM_URL", "video_url": info["video_url"]}, None
    return None, "source must be FILE_UPLOAD or PULL_FROM_URL."


def photo_source(info):
    """(plan, problem) of a photo post's source_info."""
    if not isinstance(info, dict) or info.get("source") != "PULL_FROM_URL":
        return None, "source_info.source must be PULL_FROM_URL."
    images, cover = info.get("photo_images"), info.get("photo_cover_index")
    if not isinstance(images, list) or not 1 <= len(images) <= 35 \
            or not all(isinstance(u, str) and u for u in images):
        return None, "photo_images must hold 1 to 35 URLs."
    if not is_int(cover) or not 0 <= cover < len(images):
        return None, "photo_cover_index must index photo_images."
    return {"source": "PULL_FROM_URL", "photo_images": images, "photo_cover_index": cover}, None


def post_info_problem(info, media):
    """What is wrong with the shape of a post_info object, or None."""
    if not isinstance(info, dict):
        return "post_info is missing."
    limits = {"title": 2200} if media == "video" else {"title": 90, "description": 4000}
    for field, limit in limits.items():
        value = info.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            return field + " must be a string."
        if utf16_len(value) > limit:
            return f"{field} is longer than {limit} characters."
    for flag in VIDEO_FLAGS if media == "video" else PHOTO_FLAGS:
        if info.get(flag) is not None and not isinstance(info[flag], bool):
            return flag + " must be a boolean."
    cover = info.get("video_cover_timestamp_ms")
    if media == "video" and cover is not None and not (is_int(cover) and cover >= 0):
        return "video_cover_timestamp_ms must be a non-negative integer."
    return None


def arrive(record):
    """The media reached TikTok: a direct post is published, an inbox share waits for the
    user. Called with LOCK held."""
    if record["mode"] == "direct":
        record["status"] = "PUBLISH_COMPLETE"
        if record["privacy_level"] == "PUBLIC_TO_EVERYONE" and not record["post_ids"]:
            record["post_ids"] = [new_post_id()]
    else:
        record["status"] = "SEND_TO_USER_INBOX"


def status_data(record):
    """A status fetch's data as TikTok's: only the keys that apply (a PROCESSING_UPLOAD
    answer holds status and uploaded_bytes). Post ids as TikTok documents them (int64
    numbers), or as /_fake/publish set them (numbers or strings). Called with LOCK held."""
    status = record["status"]
    data = {"status": status}
    if status == "FAILED":
        data["fail_reason"] = record["fail_reason"] or "internal"
    if record["source"] == "FILE_UPLOAD" and status != "FAILED":
        data["uploaded_bytes"] = record["uploaded_bytes"]
    elif status != "FAILED" and record["downloaded_bytes"]:
        data["downloaded_bytes"] = record["downloaded_bytes"]
    if status == "PUBLISH_COMPLETE" and record["post_ids"]:
        data["publicaly_available_post_id"] = list(record["post_ids"])
    return data


def take_rate(token, bucket, now):
    """Counts a request against the token's per-minute limit: 0, or the seconds until the
    sliding window frees a slot. Called with LOCK held."""
    times = [t for t in RATES.get((token, bucket), []) if t > now - 60]
    RATES[(token, bucket)] = times
    if len(times) >= RATE_LIMITS[bucket]:
        return max(1, math.ceil(times[0] + 60 - now))
    times.append(now)
    return 0


# How TikTok compares the S256 challenge: the lowercase hex of SHA-256(verifier) (its Login
# Kit guide; integrations report a base64url challenge, as RFC 7636 writes it, refused at
# the exchange). TIKTOK_FAKE_PKCE_ENCODING=base64url, or "pkce_encoding" on /_fake/consent
# for one authorization, plays a TikTok that follows the RFC.
PKCE_ENCODINGS = ("hex", "base64url")
PKCE_ENCODING = os.environ.get("TIKTOK_FAKE_PKCE_ENCODING", "hex")


def s256(verifier, encoding):
    """The S256 challenge of a verifier, in `encoding` (hex or base64url)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return digest.hex()


SCOPE_TEXT = {  # what the consent page says each scope lets the app do
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (username, bio, profile link, verification)",
    "user.info.stats": "Read your statistics (followers, following, likes, video count)",
    "video.list": "Read your public videos",
    "video.publish": "Post content directly to your TikTok account",
    "video.upload": "Upload content to your TikTok inbox as drafts",
}


def authorize_problem(q):
    """What makes an authorize request's parameters unusable, or None."""
    if q.get("client_key") != CLIENT_KEY:
        return "client_key is not this app's"
    if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
            or not q.get("code_challenge") or not q.get("redirect_uri") or not q.get("state"):
        return "authorize URL lacks response_type=code, S256 PKCE, redirect_uri or state"
    # As TikTok: only a redirect URI registered for the app, exactly (no fragment).
    if REDIRECT_URIS and q["redirect_uri"] not in REDIRECT_URIS:
        return "redirect_uri is not registered for this app"
    if "#" in q["redirect_uri"]:
        return "redirect_uri must not have a fragment"
    return None


def with_query(uri, params):
    """`uri` with `params` added to its query, each value URL-encoded."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def grant_consent(q, p):
    """The user consents on TikTok's page to the authorize request `q` (its parameters) as
    the account `p["open_id"]` (made with `p`'s settings if new, see new_account): (None,
    {code, open_id, redirect}) with the code TikTok would put on the redirect, or (problem,
    None). Called with LOCK held."""
    problem = authorize_problem(q)
    if problem:
        return problem, None
    encoding = p.get("pkce_encoding") or PKCE_ENCODING
    if encoding not in PKCE_ENCODINGS:
        return "pkce_encoding must be hex or base64url", None
    open_id = p.get("open_id") or new_open_id()
    if open_id not in ACCOUNTS:
        ACCOUNTS[open_id] = new_account(open_id, p)
        ACCOUNTS[open_id]["refresh_token"] = None
        ACCOUNTS[open_id]["refresh_expires_at"] = 0
    code = "code." + secrets.token_urlsafe(24)
    CODES[code] = {"client_key": q["client_key"], "redirect_uri": q["redirect_uri"],
                   "challenge": q["code_challenge"], "pkce_encoding": encoding,
                   "scope": q.get("scope", "user.info.basic"),
                   "open_id": open_id, "expires_at": time.time() + CODE_TTL, "used": False}
    ISSUED.append(code)
    redirect = with_query(q["redirect_uri"], {"code": code, "scopes": q.get("scope", ""), "state": q["state"]})
    return None, {"code": code, "open_id": open_id, "redirect": redirect}


def page_problem(q):
    """authorize_problem, plus what a browser must not be sent to: a redirect URI that is
    not an absolute http(s) URL, or has spaces or control characters."""
    problem = authorize_problem(q)
    if problem:
        return problem
    uri = q["redirect_uri"]
    if urlparse(uri).scheme not in ("http", "https") or not urlparse(uri).netloc \
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in uri):
        return "redirect_uri is not an absolute http(s) URL"
    return None


PAGE_STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; background: #f1f1f2; color: #161823; margin: 0; }
main { max-width: 26rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 1.5rem 2rem;
       box-shadow: 0 2px 12px rgba(0, 0, 0, .08); }
h1 { font-size: 1.3rem; margin: 0 0 .75rem; }
.logo { font-weight: 800; letter-spacing: -.02em; } .logo span { color: #fe2c55; }
ul { padding-left: 1.2rem; } li small { color: #666; display: block; }
label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
input[type=text] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
                   border: 1px solid #ccc; border-radius: 6px; }
.buttons { display: flex; gap: .75rem; margin-top: 1.25rem; }
button { flex: 1; padding: .6rem; font: inherit; font-weight: 600; border-radius: 6px; cursor: pointer;
         border: 1px solid #ccc; background: #fff; }
button#authorize { background: #fe2c55; border-color: #fe2c55; color: #fff; }
.note { color: #666; font-size: .85rem; word-break: break-all; } .error { color: #b00020; }
"""


def page(title, body):
    """A whole HTML page (`title` is escaped here; `body` must be escaped already)."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"  # no favicon request (a 404 in the browser's console)
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
            f"<body><main><p class=\"logo\">Tik<span>Tok</span> (fake)</p>\n{body}\n</main></body></html>\n")


def consent_page(q):
    """TikTok's consent screen for the authorize request `q`."""
    e = html.escape
    scopes = [s.strip() for s in q.get("scope", "").split(",") if s.strip()]
    items = "".join(f"<li><code>{e(s)}</code><small>{e(SCOPE_TEXT.get(s, 'Unknown scope'))}</small></li>"
                    for s in scopes) or "<li>No scope requested</li>"
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">\n' for k, v in q.items()
                     if k not in ("display_name", "action"))
    heading = f"<h1>{e(q['client_key'])} would like to access your TikTok account</h1>"
    return page("Authorize " + q["client_key"], f"""{heading}
<p>It asks to:</p>
<ul id="scopes">{items}</ul>
<form method="post" action="/v2/auth/authorize/">
{hidden}<label for="display_name">Display name</label>
<input type="text" id="display_name" name="display_name" value="Local Creator" maxlength="100" autocomplete="off">
<div class="buttons">
<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
<button type="submit" id="authorize" name="action" value="authorize">Authorize</button>
</div>
</form>
<p class="note">You will be sent back to {e(q["redirect_uri"])}</p>""")


def error_page(problem):
    return page("Authorization error", f'<h1 class="error">This authorization request is invalid</h1>\n'
                                       f'<p id="problem">{html.escape(problem)}</p>')


def issue_tokens(account):
    now = time.time()
    access = new_token("act")
    refresh = new_token("rft")
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
        if "fixture" in response:  # a recorded answer shape of tests/fixtures/tiktok/
            response = {**fixture(response["fixture"]), **{k: v for k, v in response.items() if k != "fixture"}}
        time.sleep(response.get("delay_ms", 0) / 1000)
        if response.get("drop"):
            self.close_connection = True
            self.connection.close()
            return True
        body = response.get("body", {})
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send(response.get("status", 500), raw, response.get("headers"))
        return True

    def send_html(self, status, text):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        # Nothing but the page's own style: no scripts, no outside assets, no framing.
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def envelope_error(self, status, code, message):
        # Error bodies as TikTok's often are: no "data" key.
        self.send(status, {"error": {"code": code, "message": message, "log_id": log_id()}})

    def oauth_error(self, status, error, description):
        self.send(status, {"error": error, "error_description": description, "log_id": log_id()})

    def oauth_refusal(self, open_id, error, description):
        """An OAuth error about an account's grant, at the status that account's errors
        come with (400, or 200 as TikTok also answers them: see new_account)."""
        with LOCK:
            account = ACCOUNTS.get(open_id) if open_id else None
            status = account["oauth_error_status"] if account else 400
        self.oauth_error(status, error, description)

    # -- TikTok -----------------------------------------------------------------------
    def do_GET(self):
        url = urlparse(self.path)
        if self.server.uploads:  # the upload host serves uploads only
            return self.envelope_error(404, "invalid_params", "Unknown path")
        if url.path == "/v2/user/info/":
            return self.user_info(url)
        if url.path == "/v2/auth/authorize/":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            problem = page_problem(q)
            if problem:
                return self.send_html(400, error_page(problem))
            return self.send_html(200, consent_page(q))
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
        if url.path.startswith("/_fake/publishes/"):
            with LOCK:
                record = PUBLISHES.get(url.path[len("/_fake/publishes/"):])
                record = None if record is None else dict(record, plan=dict(record["plan"]),
                                                         post_ids=list(record["post_ids"]))
            return self.send(200 if record else 404, record or {"error": "no such publish"})
        if url.path == "/_fake/issued":
            with LOCK:
                return self.send(200, {"tokens": list(ISSUED)})
        if url.path == "/health":
            return self.send(200, {"ok": True})
        self.envelope_error(404, "invalid_params", "Unknown path")

    def bearer_call(self, endpoint, record):
        """Records a call made with a bearer access token, plays the account's fault for
        the endpoint, and refuses an unknown or expired token. Returns the token and its
        open_id, or None once an answer has been sent."""
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": endpoint, "open_id": open_id, **record})
        if open_id and self.fault(open_id, endpoint):
            return None
        if not entry or entry[1] <= time.time():
            self.envelope_error(401, "access_token_invalid",
                                "The access token is invalid or not found in the request.")
            return None
        return token, open_id

    def user_info(self, url):
        fields = parse_qs(url.query).get("fields", [""])[0]
        called = self.bearer_call("user_info", {"fields": fields})
        if called is None:
            return
        open_id = called[1]
        requested = [f.strip() for f in fields.split(",") if f.strip()]
        if not requested or any(f not in ALL_FIELDS for f in requested):
            return self.envelope_error(400, "invalid_params", "The fields parameter is missing or invalid.")
        with LOCK:
            account = ACCOUNTS[open_id]
            granted = [s.strip() for s in account["scope"].split(",")]
            allowed = {f for s in granted for f in SCOPE_FIELDS.get(s, [])}
            profile = dict(account["profile"])
        if "user.info.basic" not in granted:
            return self.envelope_error(401, "scope_not_authorized",
                                       "The user did not authorize the scope required for completing this request.")
        if any(f not in allowed for f in requested):
            # As TikTok answers fields outside the grant (recorded): 400, not 401.
            return self.envelope_error(400, "scope_permission_missed", "some fields need additional scopes")
        user = {f: profile.get(f) for f in requested if f in profile}
        self.send(200, envelope({"user": user}))

    def do_POST(self):
        url = urlparse(self.path)
        raw = self.body()
        if self.server.uploads:  # the upload host serves uploads only
            return self.envelope_error(404, "invalid_params", "Unknown path")
        if url.path in ("/v2/oauth/token/", "/v2/oauth/revoke/"):
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            if form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
                return self.oauth_error(401, "invalid_client", "Client key or secret is invalid.")
            if url.path == "/v2/oauth/token/":
                return self.token(form)
            return self.revoke(form)
        if url.path == "/v2/auth/authorize/":
            return self.consent_form({k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()})
        if url.path in ("/v2/video/list/", "/v2/video/query/"):
            return self.videos(url, raw)
        if url.path in POSTING:
            return self.posting(POSTING[url.path], raw)
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
            return self.oauth_refusal(open_id, "invalid_grant", "Refresh token is invalid or expired.")
        self.send(200, grant)

    def videos(self, url, raw):
        """The account's videos: a list page or a query, with the fields asked for."""
        endpoint = "video_list" if url.path == "/v2/video/list/" else "video_query"
        fields = [f.strip() for f in parse_qs(url.query).get("fields", [""])[0].split(",") if f.strip()]
        body = json_body(raw)
        called = self.bearer_call(endpoint, {"body": body})
        if called is None:
            return
        open_id = called[1]
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
            renewed = "?renewed=" + str(int(time.time()))
            found = [dict(v, cover_image_url=v["cover_image_url"] + renewed) if v.get("cover_image_url") else v
                     for v in videos if str(v["id"]) in [str(i) for i in ids]]
            data = {"videos": [pick(v) for v in found]}
        else:
            max_count = body.get("max_count", 10)
            cursor = body.get("cursor")
            # is_int: JSON's true is no count (Python's bool is an int).
            if not is_int(max_count) or not 1 <= max_count <= 20:
                return self.envelope_error(400, "invalid_params", "max_count must be an integer from 1 to 20.")
            if cursor is not None and not (is_int(cursor) and cursor >= 0):
                return self.envelope_error(400, "invalid_params", "cursor must be a non-negative integer.")
            before = [v for v in videos if cursor is None or v["create_time"] * 1000 < cursor]
            page = before[:max_count]
            # An empty page answers cursor 0, as TikTok's does.
            next_cursor = page[-1]["create_time"] * 1000 if page else 0
            data = {"videos": [pick(v) for v in page], "cursor": next_cursor,
                    "has_more": len(before) > len(page)}
        self.send(200, envelope(data))

    # -- Content Posting API ----------------------------------------------------------
    def posting(self, endpoint, raw):
        """The Content Posting API's JSON endpoints: faults, token, scope and rate limit,
        then the endpoint itself."""
        body = json_body(raw)
        called = self.bearer_call(endpoint, {"body": body})
        if called is None:
            return
        token, open_id = called
        if endpoint == "status_fetch":
            needed = {"video.publish", "video.upload"}
        elif endpoint == "inbox_init" or (endpoint == "content_init" and isinstance(body, dict)
                                          and body.get("post_mode") == "MEDIA_UPLOAD"):
            needed = {"video.upload"}
        else:
            needed = {"video.publish"}
        bucket = endpoint if endpoint in RATE_LIMITS else "init"
        with LOCK:
            granted = {s.strip() for s in ACCOUNTS[open_id]["scope"].split(",")}
            limited = ACCOUNTS[open_id]["creator"]["rate_limited"]
            retry = 0 if not (needed & granted and limited) else take_rate(token, bucket, time.time())
        if not needed & granted:
            return self.envelope_error(401, "scope_not_authorized",
                                       "The user did not authorize the scope required for completing this request.")
        if retry:
            # TikTok sends no Retry-After, only the documented one-minute sliding window.
            return self.envelope_error(429, "rate_limit_exceeded", "API rate limit was exceeded, please retry later.")
        if not isinstance(body, dict):
            return self.envelope_error(400, "invalid_params", "The request body is not a JSON object.")
        if endpoint == "creator_info":
            return self.creator_info(open_id)
        if endpoint == "status_fetch":
            return self.status_fetch(open_id, body)
        return self.publish_init(endpoint, open_id, body)

    def creator_info(self, open_id):
        with LOCK:
            account = ACCOUNTS[open_id]
            creator, profile = dict(account["creator"]), account["profile"]
            data = {
                "creator_avatar_url": profile.get("avatar_url"),
                "creator_username": profile.get("username"),
                "creator_nickname": profile.get("display_name"),
                "privacy_level_options": privacy_options(creator),
                **{k: creator[k] for k in ("comment_disabled", "duet_disabled", "stitch_disabled",
                                           "max_video_post_duration_sec")},
            }
        self.send(200, envelope(data))

    def publish_init(self, endpoint, open_id, body):
        """video/init (direct), inbox/video/init (inbox) and content/init (photos, either)."""
        if endpoint == "content_init":
            media = "photo"
            mode = {"DIRECT_POST": "direct", "MEDIA_UPLOAD": "inbox"}.get(body.get("post_mode"))
            if body.get("media_type") != "PHOTO" or mode is None:
                return self.envelope_error(400, "invalid_params",
                                           "media_type must be PHOTO and post_mode DIRECT_POST or MEDIA_UPLOAD.")
            problem = post_info_problem(body.get("post_info"), media)
            plan, source_problem = photo_source(body.get("source_info"))
            urls = plan["photo_images"] if plan else []
        else:
            media, mode = "video", ("direct" if endpoint == "video_init" else "inbox")
            problem = post_info_problem(body.get("post_info"), media) if mode == "direct" else None
            plan, source_problem = video_source(body.get("source_info"))
            urls = [plan["video_url"]] if plan and plan["source"] == "PULL_FROM_URL" else []
        if problem or source_problem:
            return self.envelope_error(400, "invalid_params", problem or source_problem)
        post_info = body.get("post_info") if isinstance(body.get("post_info"), dict) else {}
        privacy = post_info.get("privacy_level") if mode == "direct" else None
        upload = plan["source"] == "FILE_UPLOAD"
        now = time.time()
        with LOCK:
            creator = ACCOUNTS[open_id]["creator"]
            day = [r for r in PUBLISHES.values()
                   if r["open_id"] == open_id and r["mode"] == mode and r["created"] > now - 86400]
            refusal = None
            if mode == "direct":
                if not isinstance(privacy, str) or privacy not in privacy_options(creator):
                    refusal = (403, "privacy_level_option_mismatch",
                               "privacy_level is missing or not one of the creator's privacy_level_options.")
                elif creator["app_unaudited"] and not creator["private_account"]:
                    refusal = (403, "unaudited_client_can_only_post_to_private_accounts",
                               "Unaudited clients can only post to a private account.")
                elif len(day) >= creator["max_posts_per_day"]:
                    refusal = (403, "spam_risk_too_many_posts",
                               "The daily post cap from the API is reached for the current user.")
            elif len([r for r in day if r["status"] not in ("PUBLISH_COMPLETE", "FAILED")]) >= MAX_PENDING_SHARES:
                refusal = (403, "spam_risk_too_many_pending_share",
                           "The user has reached the cap of 5 pending shares within 24 hours.")
            if refusal is None and any(not any(u.startswith(v) for v in VERIFIED_PREFIXES) for u in urls):
                refusal = (403, "url_ownership_unverified",
                           "The domain or URL prefix of the media URL is not verified for this app.")
            if refusal is None:
                publish_id = new_publish_id(mode, media, plan["source"])
                upload_id, upload_token = secrets.token_hex(12), secrets.token_urlsafe(24)
                if upload:
                    ISSUED.append(upload_token)  # a capability: the log leak check looks for it
                PUBLISHES[publish_id] = {
                    "publish_id": publish_id, "open_id": open_id, "mode": mode, "media": media,
                    "source": plan["source"], "plan": plan, "next_chunk": 0 if upload else None,
                    "uploaded_bytes": 0, "downloaded_bytes": 0,
                    "status": "PROCESSING_UPLOAD" if upload else "PROCESSING_DOWNLOAD",
                    "fail_reason": None, "post_ids": [], "privacy_level": privacy, "post_info": post_info,
                    "created": now, "moves_on_fetch": not upload,
                    "upload_id": upload_id if upload else None, "upload_token": upload_token if upload else None,
                    "upload_expires_at": now + UPLOAD_TTL if upload else None,
                }
                if upload:
                    UPLOADS[upload_id] = publish_id
        if refusal:
            return self.envelope_error(*refusal)
        data = {"publish_id": publish_id}
        if upload:
            # As TikTok's (open-upload-<region>.tiktokapis.com), on another host than the
            # API: the fake's upload listener (UPLOAD_HOST).
            data["upload_url"] = f"http://{UPLOAD_HOST}/upload/?upload_id={upload_id}&upload_token={upload_token}"
        self.send(200, envelope(data))

    def status_fetch(self, open_id, body):
        publish_id = body.get("publish_id")
        with LOCK:
            record = PUBLISHES.get(publish_id) if isinstance(publish_id, str) else None
            if record is None:
                data = None
                refusal = (400, "invalid_publish_id", "The publish_id does not exist.")
            elif record["open_id"] != open_id:
                data = None
                refusal = (400, "token_not_authorized_for_specified_publish_id",
                           "The access token is not authorized for the specified publish_id.")
            else:
                if record["moves_on_fetch"]:  # PULL_FROM_URL and photos: downloaded by the first fetch
                    record["moves_on_fetch"] = False
                    plan = record["plan"]
                    record["downloaded_bytes"] = (PULLED_PHOTO_BYTES * len(plan["photo_images"])
                                                  if record["media"] == "photo" else PULLED_VIDEO_BYTES)
                    arrive(record)
                data = status_data(record)
        if data is None:
            return self.envelope_error(*refusal)
        self.send(200, envelope(data))

    def drain(self, length):
        """Reads `length` bytes of the request body in pieces, keeping none: the bytes read."""
        got = 0
        while got < length:
            piece = self.rfile.read(min(PIECE, length - got))
            if not piece:
                break
            got += len(piece)
        return got

    def upload_answer(self, status, error=None, close=False):
        headers = {"Access-Control-Allow-Origin": "*"}
        if close:
            headers["Connection"] = "close"
        self.send(status, b"" if error is None else json.dumps({"error": error}).encode(), headers)

    def do_PUT(self):
        """A chunk of a FILE_UPLOAD video, sent to the upload URL (no bearer: the URL is the
        capability)."""
        url = urlparse(self.path)
        if url.path != "/upload/" or not self.server.uploads:  # the body is left unread: the connection closes
            return self.send(404, {"data": {}, "error": {"code": "invalid_params", "message": "Unknown path",
                                                         "log_id": log_id()}}, {"Connection": "close"})
        query = parse_qs(url.query)
        upload_id = query.get("upload_id", [""])[0]
        upload_token = query.get("upload_token", [""])[0]
        content_range = self.headers.get("Content-Range", "")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        with LOCK:
            record = PUBLISHES.get(UPLOADS.get(upload_id))
            if record is not None and not secrets.compare_digest(record["upload_token"], upload_token):
                record = None
            open_id = record["open_id"] if record else None
            CALLS.append({"endpoint": "upload", "open_id": open_id, "range": content_range})
            scripted = bool(open_id and FAULTS.get((open_id, "upload")))
        if length < 0 or self.headers.get("Transfer-Encoding"):
            return self.upload_answer(400, "Content-Length is missing or invalid.", close=True)
        if scripted:
            if length > DRAIN_LIMIT or self.drain(length) != length:
                self.close_connection = True
            if self.fault(open_id, "upload"):
                return
            return self.upload_answer(409, "Another request took the scripted fault this body was read for.")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        with LOCK:
            chunk, refusal = None, None
            if record is None or record["upload_expires_at"] <= time.time():
                refusal = (404, "The upload URL is unknown or expired.")
            elif content_type not in UPLOAD_TYPES:
                refusal = (400, "Content-Type must be video/mp4, video/quicktime or video/webm.")
            elif record["status"] != "PROCESSING_UPLOAD" or record["next_chunk"] >= record["plan"]["total_chunk_count"]:
                refusal = (400, "The publish awaits no upload (status " + record["status"] + ").")
            elif match is None:
                refusal = (400, "Content-Range must read bytes FIRST-LAST/TOTAL.")
            else:
                chunk = record["next_chunk"]
                first, last = chunk_range(record["plan"], chunk)
                if tuple(int(g) for g in match.groups()) != (first, last, record["plan"]["video_size"]):
                    refusal = (416, f"Expected chunk {chunk}: bytes {first}-{last}/{record['plan']['video_size']}.")
                elif length != last - first + 1:
                    refusal = (400, f"Content-Length must be {last - first + 1}, the chunk's size.")
        if refusal:
            if length > DRAIN_LIMIT or self.drain(length) != length:
                return self.upload_answer(refusal[0], refusal[1], close=True)
            return self.upload_answer(*refusal)
        if self.drain(length) != length:
            return self.upload_answer(400, "The body is shorter than Content-Length.", close=True)
        with LOCK:
            if record["next_chunk"] != chunk or record["status"] != "PROCESSING_UPLOAD":
                refusal = (416, f"Chunk {chunk} was received meanwhile.")
            else:
                record["next_chunk"] += 1
                record["uploaded_bytes"] += length
                done = record["next_chunk"] == record["plan"]["total_chunk_count"]
                if done:
                    arrive(record)
        if refusal:
            return self.upload_answer(*refusal)
        self.upload_answer(201 if done else 206)

    def do_OPTIONS(self):
        """A browser's CORS preflight before it PUTs a chunk to the upload URL."""
        if urlparse(self.path).path != "/upload/" or not self.server.uploads:
            return self.envelope_error(404, "invalid_params", "Unknown path")
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "PUT")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Content-Range")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def consent_form(self, form):
        """The consent page's form: the authorize request's parameters, display_name and
        action (authorize or cancel). Either way back to the redirect URI, as TikTok does."""
        q = {k: v for k, v in form.items() if k not in ("display_name", "action")}
        problem = page_problem(q)
        if problem is None and form.get("action") not in ("authorize", "cancel"):
            problem = "action must be authorize or cancel"
        if problem:
            return self.send_html(400, error_page(problem))
        if form["action"] == "cancel":
            return self.redirect(with_query(q["redirect_uri"], {
                "error": "access_denied", "error_description": "The user denied the authorization request.",
                "state": q["state"]}))
        name = " ".join(form.get("display_name", "").split())[:100]
        with LOCK:
            problem, answer = grant_consent(q, {"profile": {"display_name": name}} if name else {})
            CALLS.append({"endpoint": "consent_page", "open_id": answer and answer["open_id"]})
        if problem:
            return self.send_html(400, error_page(problem))
        self.redirect(answer["redirect"])

    def code_grant(self, form):
        code = form.get("code", "")
        with LOCK:
            entry = CODES.get(code)
            open_id = entry["open_id"] if entry else None
            verifier_ok = bool(entry) and secrets.compare_digest(
                entry["challenge"].encode(), s256(form.get("code_verifier", ""), entry["pkce_encoding"]).encode())
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
            return self.oauth_refusal(open_id, "invalid_grant", "Authorization code is expired or invalid.")
        if grant == "invalid_verifier":
            return self.oauth_refusal(open_id, "invalid_request", "Code verifier or code challenge is invalid.")
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
            return self.oauth_refusal(open_id, "invalid_request", "Access token is invalid.")
        with LOCK:
            for t in [t for t, (oid, _) in ACCESS.items() if oid == open_id]:
                del ACCESS[t]
            retire_refresh(open_id)
        self.send(200, {})

    # -- test control -----------------------------------------------------------------
    def consent(self, p):
        """/_fake/consent: the user consents on TikTok's page (grant_consent), given the
        authorize URL (or its parameters as `query`) and the account consenting
        (`open_id`, made if new). Called with LOCK held."""
        q = p.get("query") or {k: v[0] for k, v in parse_qs(urlparse(p.get("authorize_url", "")).query).items()}
        problem, answer = grant_consent(q, p)
        if problem:
            return self.send(400, {"error": problem})
        return self.send(200, answer)

    def set_publish(self, p):
        """/_fake/publish: sets a publish's status, fail_reason and public post ids (a
        PUBLISH_COMPLETE public direct post without post_ids given gets one). Called with
        LOCK held."""
        record = PUBLISHES.get(p.get("publish_id"))
        if record is None:
            return self.send(404, {"error": "no such publish"})
        status, post_ids = p.get("status"), p.get("post_ids")
        if status is not None and status not in PUBLISH_STATUSES:
            return self.send(400, {"error": "status must be one of " + ", ".join(sorted(PUBLISH_STATUSES))})
        if post_ids is not None and (not isinstance(post_ids, list)
                                     or not all(isinstance(x, (str, int)) for x in post_ids)):
            return self.send(400, {"error": "post_ids must be a list"})
        if status is not None:
            record["moves_on_fetch"] = False  # the test drives it from now on
            if status == "PUBLISH_COMPLETE" and post_ids is None:
                arrive(record)
            record["status"] = status
        if "fail_reason" in p:
            record["fail_reason"] = p["fail_reason"]
        if post_ids is not None:
            record["post_ids"] = list(post_ids)
        return self.send(200, dict(record))

    def admin(self, path, p):
        if path in ("/_fake/accounts", "/_fake/consent", "/_fake/creator"):
            problem = creator_problem(p.get("creator"))
            if problem:
                return self.send(400, {"error": problem})
        with LOCK:
            if path == "/_fake/verified_prefixes":
                prefixes = p.get("prefixes")
                if not isinstance(prefixes, list) or not all(isinstance(x, str) and x for x in prefixes):
                    return self.send(400, {"error": "prefixes must be a list of strings"})
                VERIFIED_PREFIXES.extend(x for x in prefixes if x not in VERIFIED_PREFIXES)
                return self.send(200, {"prefixes": list(VERIFIED_PREFIXES)})
            if path == "/_fake/publish":
                return self.set_publish(p)
            if path == "/_fake/accounts":
                open_id = p.get("open_id") or new_open_id()
                account = new_account(open_id, p)
                if open_id in ACCOUNTS and p.get("creator") is None:
                    account["creator"] = ACCOUNTS[open_id]["creator"]  # a new grant keeps the user's settings
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
                try:
                    for response in p["responses"]:
                        if "fixture" in response:
                            fixture(response["fixture"])
                except (OSError, ValueError, KeyError) as e:
                    return self.send(400, {"error": f"fixture: {e}"})
                FAULTS.setdefault((open_id, p["endpoint"]), []).extend(p["responses"])
                return self.send(200, {})
            if path == "/_fake/videos":
                # `count` videos, an hour apart, the newest `newest` (Unix seconds). Fields
                # TikTok gives none of: `omit` (left out of its answers) and `null` (answered
                # as null); never id or create_time, which the fake pages by.
                omit, null = p.get("omit") or [], p.get("null") or []
                # "number": ids as JSON numbers, as other TikTok APIs send them.
                numeric = p.get("id_type") == "number"
                optional = VIDEO_FIELDS - {"id", "create_time"}
                if not all(isinstance(x, list) and all(isinstance(f, str) and f in optional for f in x)
                           for x in (omit, null)):
                    return self.send(400, {"error": "omit and null must list video fields but id and create_time"})
                newest = int(p.get("newest", time.time()))
                made = []
                for i in range(int(p.get("count", 1))):
                    vid = str(7300000000000000000 + secrets.randbelow(10 ** 15))
                    video = {
                        "id": vid, "create_time": newest - 3600 * i, "title": f"Video {i}",
                        "video_description": f"Description {i}", "duration": 15 + i,
                        "cover_image_url": f"https://p16.tiktokcdn.com/cover/{vid}.jpeg",
                        "share_url": f"https://www.tiktok.com/@x/video/{vid}",
                        "embed_link": f"https://www.tiktok.com/embed/v2/{vid}",
                        "embed_html": "<blockquote></blockquote>", "width": 1080, "height": 1920,
                        "like_count": 100 + i, "comment_count": 10 + i, "share_count": i, "view_count": 1000 + i,
                    }
                    video.update({f: None for f in null})
                    if numeric:
                        video["id"] = int(vid)
                    made.append({f: v for f, v in video.items() if f not in omit})
                VIDEOS[open_id] = sorted(VIDEOS.get(open_id, []) + made, key=lambda v: -v["create_time"])
                return self.send(200, {"videos": made})
            if path == "/_fake/creator":
                ACCOUNTS[open_id]["creator"].update(p.get("creator") or {})
                return self.send(200, {"creator": ACCOUNTS[open_id]["creator"]})
            if path == "/_fake/expire_code":
                CODES[p["code"]]["expires_at"] = 0
                return self.send(200, {})
            if path == "/_fake/check_refresh":
                return self.send(200, {"valid": REFRESH.get(p.get("refresh_token")) == open_id})
        return self.send(404, {"error": "unknown control path"})


def serve(port, uploads):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.uploads = uploads
    return server


if __name__ == "__main__":
    port, CLIENT_KEY, CLIENT_SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = serve(port, uploads=False)
    # TikTok's upload URLs are on another host than its API: a listener of their own
    # (TIKTOK_FAKE_UPLOAD_PORT, else any free port), serving nothing but PUT /upload/.
    upload_server = serve(int(os.environ.get("TIKTOK_FAKE_UPLOAD_PORT", "0")), uploads=True)
    UPLOAD_HOST = "localhost:%d" % upload_server.server_port
    threading.Thread(target=upload_server.serve_forever, daemon=True).start()
    print(f"tiktok fake on 127.0.0.1:{port}, uploads on {UPLOAD_HOST}", flush=True)
    server.serve_forever()

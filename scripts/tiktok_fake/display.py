"""TikTok's Display API: GET /v2/user/info/ and POST /v2/video/list/, /v2/video/query/."""

import secrets
import time
from urllib.parse import parse_qs

from .state import ACCOUNTS, DISPLAY_CALLS, DISPLAY_RPM, LOCK, VIDEOS, envelope, is_int, json_body


def over_display_limit(endpoint):
    """Counts a request of a Display API endpoint (user_info, video_list, video_query):
    True when the app sent 600 in the last 60 seconds already (TikTok's sliding window,
    per endpoint). Called with LOCK held."""
    now = time.time()
    recent = [t for t in DISPLAY_CALLS.get(endpoint, []) if t > now - 60]
    if len(recent) >= DISPLAY_RPM["rpm"]:
        DISPLAY_CALLS[endpoint] = recent
        return True
    DISPLAY_CALLS[endpoint] = recent + [now]
    return False


SCOPE_FIELDS = {
    "user.info.basic": ["open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name"],
    "user.info.profile": ["bio_description", "profile_deep_link", "is_verified", "username"],
    "user.info.stats": ["follower_count", "following_count", "likes_count", "video_count"],
}
ALL_FIELDS = {f for fields in SCOPE_FIELDS.values() for f in fields}
VIDEO_FIELDS = {"id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                "share_count", "view_count"}


class DisplayApi:
    """The Display API's routes (mixed into the request handler)."""

    def user_info(self, url):
        fields = parse_qs(url.query).get("fields", [""])[0]
        called = self.bearer_call("user_info", {"fields": fields})
        if called is None:
            return
        open_id = called[1]
        with LOCK:
            limited = over_display_limit("user_info")
        if limited:
            return self.envelope_error(429, "rate_limit_exceeded", "Too many requests.")
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

    def videos(self, url, raw):
        """The account's videos: a list page or a query, with the fields asked for."""
        endpoint = "video_list" if url.path == "/v2/video/list/" else "video_query"
        fields = [f.strip() for f in parse_qs(url.query).get("fields", [""])[0].split(",") if f.strip()]
        body = json_body(raw)
        called = self.bearer_call(endpoint, {"body": body})
        if called is None:
            return
        open_id = called[1]
        with LOCK:
            limited = over_display_limit(endpoint)
        if limited:
            return self.envelope_error(429, "rate_limit_exceeded", "Too many requests.")
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


def add_videos(open_id, p):
    """/_fake/videos: `count` videos, an hour apart, the newest `newest` (Unix seconds),
    titled `title` (default "Video <i>") with `description` if given.
    Fields TikTok gives none of: `omit` (left out of its answers) and `null` (answered as
    null); never id or create_time, which the fake pages by. `id_type: "number"`: ids as
    JSON numbers, as other TikTok APIs send them. (problem, None) or (None, the videos).
    Called with LOCK held."""
    omit, null = p.get("omit") or [], p.get("null") or []
    numeric = p.get("id_type") == "number"
    optional = VIDEO_FIELDS - {"id", "create_time"}
    if not all(isinstance(x, list) and all(isinstance(f, str) and f in optional for f in x) for x in (omit, null)):
        return "omit and null must list video fields but id and create_time", None
    newest = int(p.get("newest", time.time()))
    made = []
    for i in range(int(p.get("count", 1))):
        vid = str(7300000000000000000 + secrets.randbelow(10 ** 15))
        video = {
            "id": vid, "create_time": newest - 3600 * i, "title": p.get("title", f"Video {i}"),
            "video_description": p.get("description", f"Description {i}"), "duration": 15 + i,
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
    return None, made

"""The Content Posting API's rules: posting settings, the media transfer guide's chunk
plan, source_info and post_info checks, publish ids in TikTok's formats, statuses and
the per-token rate limits."""

import math
import secrets

from .state import RATES, is_int, utf16_len
from .webhooks import publish_events


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
PULLED_VIDEO_BYTES = 8 * MB  # what a PULL_FROM_URL video "weighs" once downloaded (assumption)
PULLED_PHOTO_BYTES = 512 * 1024  # per photo (assumption)
MAX_PENDING_SHARES = 5  # inbox shares awaiting the user, per 24 h
VIDEO_FLAGS = ["disable_duet", "disable_comment", "disable_stitch", "brand_content_toggle",
               "brand_organic_toggle", "is_aigc"]


PHOTO_FLAGS = ["disable_comment", "auto_add_music", "brand_content_toggle", "brand_organic_toggle"]


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
    user; TikTok's webhooks say so. Called with LOCK held."""
    before = record["status"]
    if record["mode"] == "direct":
        record["status"] = "PUBLISH_COMPLETE"
        if record["privacy_level"] == "PUBLIC_TO_EVERYONE" and not record["post_ids"]:
            record["post_ids"] = [new_post_id()]
    else:
        record["status"] = "SEND_TO_USER_INBOX"
    publish_events(record, before)


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

"""The Content Posting API's JSON endpoints: creator info, the three inits, the status
fetch."""

import secrets
import time

from .posting_rules import (MAX_PENDING_SHARES, PULLED_PHOTO_BYTES, PULLED_VIDEO_BYTES, RATE_LIMITS, UPLOAD_TTL,
                            arrive, new_publish_id, photo_source, post_info_problem, privacy_options, status_data,
                            take_rate, video_source)
from .state import ACCOUNTS, ISSUED, LOCK, PUBLISHES, SETTINGS, UPLOADS, VERIFIED_PREFIXES, envelope, json_body


class PostingApi:
    """The Content Posting API's routes (mixed into the request handler)."""

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
            # API: the fake's upload listener (SETTINGS.upload_host).
            data["upload_url"] = f"http://{SETTINGS.upload_host}/upload/?upload_id={upload_id}&upload_token={upload_token}"
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

#!/usr/bin/env python3
"""Writes events/<function>/*.json: API Gateway REST API (Lambda proxy, payload 1.0)
events, as the deployed stage sends them, of good requests and the common failures. Handler tests load these files; they also work with
`cargo lambda invoke <function> --data-file events/...`. Placeholders in capitals
(REPLACE_WITH_...) are filled in by the tests."""

import base64
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "events"


def event(method, path, query=None, auth=True, body=None, b64=False, rid=None, name="",
          resource=None, path_params=None):
    """`path` as the client asked; `resource` the route's path with its {parameters}
    (default: `path`), `path_params` their values."""
    headers = {"accept": "application/json", "host": "api.example.com", "user-agent": "Mozilla/5.0",
               "origin": "http://localhost:3000"}
    if auth:
        headers["authorization"] = "Bearer REPLACE_WITH_FIREBASE_ID_TOKEN"
    if body is not None:
        headers["content-type"] = "application/json"
    resource = resource or path
    out = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": None,  # written from `headers` as they end up (write)
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "extendedRequestId": f"ext-{name}", "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "Mozilla/5.0"},
            "path": f"/live{path}", "protocol": "HTTP/1.1",
            "requestId": rid or f"req-{name}", "requestTime": "25/Nov/2026:12:00:00 +0000",
            "requestTimeEpoch": 1795608000000, "resourceId": "abc123", "resourcePath": resource,
            "stage": "live",
        },
        "isBase64Encoded": b64,
        "body": None,
    }
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        out["body"] = base64.b64encode(text.encode()).decode() if b64 else text
    return out


def write(function, files):
    folder = ROOT / function
    folder.mkdir(parents=True, exist_ok=True)
    for name, e in files.items():
        if "resource" in e:
            e["multiValueHeaders"] = {k: [v] for k, v in e["headers"].items()}
        (folder / name).write_text(json.dumps(e, indent=2) + "\n")


def account_reads(function, path, wrong_method, **more):
    """The events of a GET that reads one of the user's TikTok accounts: the default
    account, one named by account_id, no session, another method; plus `more`."""
    write(function, {
        "ok.json": event("GET", path, name=function),
        "account-id.json": event("GET", path, {"account_id": "REPLACE_WITH_OPEN_ID"}, name=function),
        "no-auth.json": event("GET", path, auth=False, name=function),
        "wrong-method.json": event(wrong_method, path, body={} if wrong_method == "POST" else None,
                                   name=function),
        **{f"{name.replace('_', '-')}.json": e for name, e in more.items()},
    })


account_reads("tiktok-test", "/api/v1/social-connections/tiktok/test", "POST")

PROFILE = "/api/v1/social-connections/tiktok/profile"
account_reads("tiktok-profile", PROFILE, "DELETE",
              force=event("GET", PROFILE, {"force": "true"}, name="tiktok-profile"))

STORE = "/api/v1/social-connections/store-token"
good_store = {
    "provider": "tiktok", "provider_account_id": "REPLACE_WITH_OPEN_ID",
    "access_token": "REPLACE_WITH_ACCESS_TOKEN", "refresh_token": "REPLACE_WITH_REFRESH_TOKEN",
    "expires_at": "REPLACE_WITH_EXPIRES_AT", "account_label": "Main account", "account_type": "creator",
    "is_primary": True, "profile_metadata": "{\"niche\": \"cooking\"}",
}
write("store-token", {
    "ok.json": event("POST", STORE, body=good_store, name="store-token"),
    "unsupported-provider.json": event("POST", STORE, body={**good_store, "provider": "myspace"}, name="store-token"),
    "other-provider.json": event("POST", STORE, body={**good_store, "provider": "youtube",
                                                      "provider_account_id": "UC-channel-1"}, name="store-token"),
    "bad-expires-at.json": event("POST", STORE, body={**good_store, "expires_at": "next tuesday"}, name="store-token"),
    "not-json.json": event("POST", STORE, body="provider=tiktok", name="store-token"),
    "no-auth.json": event("POST", STORE, auth=False, body=good_store, name="store-token"),
    "wrong-method.json": event("GET", STORE, name="store-token"),
})

STORE_PROFILE = "/api/v1/social-connections/store-tiktok-profile"
good_profile = {"profile": {
    "open_id": "REPLACE_WITH_OPEN_ID", "display_name": "Cooking with Ana", "username": "ana.cooks",
    "avatar_url": "https://p16.tiktokcdn.com/avatar/ana.jpeg", "follower_count": 15200,
    "following_count": 180, "likes_count": 402000, "video_count": 96,
    "bio_description": "Weeknight recipes", "is_verified": False}}
write("store-tiktok-profile", {
    "ok.json": event("POST", STORE_PROFILE, body=good_profile, name="store-tiktok-profile"),
    "negative-count.json": event("POST", STORE_PROFILE, body={"profile": {**good_profile["profile"], "follower_count": -5}}, name="store-tiktok-profile"),
    "base64.json": event("POST", STORE_PROFILE, body=good_profile, b64=True, name="store-tiktok-profile"),
    "no-auth.json": event("POST", STORE_PROFILE, auth=False, body=good_profile, name="store-tiktok-profile"),
    "wrong-method.json": event("PUT", STORE_PROFILE, body=good_profile, name="store-tiktok-profile"),
})

OAUTH = "/api/v1/auth/oauth/tiktok"
good_oauth = {
    "provider": "tiktok", "provider_account_id": "REPLACE_WITH_OPEN_ID",
    "access_token": "REPLACE_WITH_ACCESS_TOKEN", "refresh_token": "REPLACE_WITH_REFRESH_TOKEN",
    "expires_in": 7200, "refresh_expires_in": 15552000,
    "scope": "user.info.basic,user.info.profile,user.info.stats,video.list,video.publish,video.upload",
    "email": "REPLACE_WITH_EMAIL", "name": "Ana Cooks", "picture": "https://example.com/ana.png",
    "metadata": {"source": "login-page"},
}
write("oauth-tiktok", {
    "new-user.json": event("POST", OAUTH, auth=False, body=good_oauth, name="oauth-tiktok"),
    "link.json": event("POST", OAUTH, body={k: v for k, v in good_oauth.items() if k != "email"}, name="oauth-tiktok"),
    "no-email.json": event("POST", OAUTH, auth=False, body={k: v for k, v in good_oauth.items() if k != "email"}, name="oauth-tiktok"),
    "session-email.json": event("POST", OAUTH, auth=False, body={**{k: v for k, v in good_oauth.items() if k != "email"}, "user_session_email": "REPLACE_WITH_EMAIL"}, name="oauth-tiktok"),
    "missing-open-id.json": event("POST", OAUTH, auth=False, body={"provider": "tiktok", "access_token": "act.x"}, name="oauth-tiktok"),
    "not-json.json": event("POST", OAUTH, auth=False, body="{not json", name="oauth-tiktok"),
    "wrong-method.json": event("GET", OAUTH, auth=False, name="oauth-tiktok"),
})

LIST = "/api/v1/social-connections/connections"
write("list-connections", {
    "ok.json": event("GET", LIST, name="list-connections"),
    "no-auth.json": event("GET", LIST, auth=False, name="list-connections"),
    "wrong-method.json": event("POST", LIST, body={}, name="list-connections"),
})

UPDATE = "/api/v1/social-connections/REPLACE_WITH_PROVIDER/REPLACE_WITH_ACCOUNT_ID"
def update_event(body, auth=True, method="PATCH"):
    return event(method, UPDATE, auth=auth, body=body, name="update-connection",
                 resource="/api/v1/social-connections/{provider}/{account_id}",
                 path_params={"provider": "REPLACE_WITH_PROVIDER", "account_id": "REPLACE_WITH_ACCOUNT_ID"})
write("update-connection", {
    "ok.json": update_event({"account_label": "Cooking channel", "account_type": "creator", "is_primary": True}),
    "relabel.json": update_event({"account_label": "Renamed"}),
    "unset-primary.json": update_event({"is_primary": False}),
    "no-auth.json": update_event({"account_label": "x"}, auth=False),
    "wrong-method.json": update_event({"account_label": "x"}, method="PUT"),
})

DISCONNECT = "/api/v1/social-connections/tiktok/REPLACE_WITH_OPEN_ID"
def disconnect_event(auth=True, method="DELETE"):
    return event(method, DISCONNECT, auth=auth, name="disconnect-tiktok",
                 resource="/api/v1/social-connections/tiktok/{open_id}",
                 path_params={"open_id": "REPLACE_WITH_OPEN_ID"})
write("disconnect-tiktok", {
    "ok.json": disconnect_event(),
    "no-auth.json": disconnect_event(auth=False),
    "wrong-method.json": disconnect_event(method="POST"),
})

AUTHORIZE = "/api/v1/auth/tiktok/authorize"
good_authorize = {"redirect_uri": "REPLACE_WITH_REDIRECT_URI", "scopes": ["user.info.basic", "user.info.profile"]}
write("tiktok-authorize", {
    "sign-in.json": event("POST", AUTHORIZE, auth=False, body=good_authorize, name="tiktok-authorize"),
    "link.json": event("POST", AUTHORIZE, body=good_authorize, name="tiktok-authorize"),
    "default-scopes.json": event("POST", AUTHORIZE, auth=False, body={"redirect_uri": "REPLACE_WITH_REDIRECT_URI"}, name="tiktok-authorize"),
    "other-redirect.json": event("POST", AUTHORIZE, auth=False, body={"redirect_uri": "https://evil.example.com/steal"}, name="tiktok-authorize"),
    "unknown-scope.json": event("POST", AUTHORIZE, auth=False, body={**good_authorize, "scopes": ["user.info.basic", "everything"]}, name="tiktok-authorize"),
    "wrong-method.json": event("GET", AUTHORIZE, auth=False, name="tiktok-authorize"),
})

CALLBACK = "/api/v1/auth/tiktok/callback"
good_callback = {"code": "REPLACE_WITH_CODE", "state": "REPLACE_WITH_STATE", "binding": "REPLACE_WITH_BINDING"}
write("tiktok-callback", {
    "sign-in.json": event("POST", CALLBACK, auth=False, body=good_callback, name="tiktok-callback"),
    "link.json": event("POST", CALLBACK, body=good_callback, name="tiktok-callback"),
    "unknown-state.json": event("POST", CALLBACK, auth=False, body={"code": "REPLACE_WITH_CODE", "state": "not-a-state"}, name="tiktok-callback"),
    "missing-code.json": event("POST", CALLBACK, auth=False, body={"state": "REPLACE_WITH_STATE"}, name="tiktok-callback"),
    "wrong-method.json": event("GET", CALLBACK, auth=False, name="tiktok-callback"),
})

WEBHOOK = "/api/v1/webhooks/tiktok"
removed = {"client_key": "REPLACE_WITH_CLIENT_KEY", "event": "authorization.removed", "create_time": 1795608000,
           "user_openid": "REPLACE_WITH_OPEN_ID", "content": json.dumps({"reason": 1})}
def webhook_event(body, signed=True, method="POST"):
    e = event(method, WEBHOOK, auth=False, body=body, name="tiktok-webhook")
    if signed:
        # TikTok's HMAC-SHA256 of "<t>.<raw body>" with the client secret: filled in by
        # the tests, which sign the body as it is after its placeholders.
        e["headers"]["tiktok-signature"] = "REPLACE_WITH_SIGNATURE"
    return e
write("tiktok-webhook", {
    "authorization-removed.json": webhook_event(removed),
    "unknown-event.json": webhook_event({**removed, "event": "something.new", "content": "{}"}),
    "no-signature.json": webhook_event(removed, signed=False),
    "wrong-method.json": webhook_event(None, signed=False, method="GET"),
})

# EventBridge's scheduled event, as the scheduled functions receive it (no HTTP route).
for scheduled in ("refresh-connections", "publish-scheduled-posts"):
    write(scheduled, {
        "scheduled.json": {
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": "2026-11-28T12:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{scheduled}"], "detail": {},
        },
    })

VIDEOS = "/api/v1/social-connections/tiktok/videos"
write("tiktok-videos", {
    "ok.json": event("GET", VIDEOS, name="tiktok-videos"),
    "page.json": event("GET", VIDEOS, {"account_id": "REPLACE_WITH_OPEN_ID", "cursor": "1795608000000", "max_count": "5"}, name="tiktok-videos"),
    "ids.json": event("GET", VIDEOS, {"ids": "7300000000000000001,7300000000000000002"}, name="tiktok-videos"),
    "bad-max-count.json": event("GET", VIDEOS, {"max_count": "50"}, name="tiktok-videos"),
    "no-auth.json": event("GET", VIDEOS, auth=False, name="tiktok-videos"),
    "wrong-method.json": event("POST", VIDEOS, body={}, name="tiktok-videos"),
})

account_reads("tiktok-creator-info", "/api/v1/social-connections/tiktok/creator-info", "POST")

POSTS = "/api/v1/social-connections/tiktok/posts"
DIRECT_INFO = {"title": "Weeknight pasta #cooking", "privacy_level": "SELF_ONLY", "disable_comment": True,
               "disable_duet": True, "disable_stitch": True, "video_cover_timestamp_ms": 1000,
               "brand_content_toggle": False, "brand_organic_toggle": False}
def publish_event(body, auth=True, method="POST", key=None):
    e = event(method, POSTS, auth=auth, body=body, name="tiktok-publish")
    if key:
        e["headers"]["idempotency-key"] = key
    return e
UPLOAD = {"account_id": "REPLACE_WITH_OPEN_ID", "mode": "direct",
          "source": {"type": "upload", "video_size": 52428800}, "post_info": DIRECT_INFO}
write("tiktok-publish", {
    "ok.json": publish_event(UPLOAD),
    "idempotent.json": publish_event(UPLOAD, key="3f6c2a4e-post-once"),
    "inbox.json": publish_event({"mode": "inbox", "source": {"type": "upload", "video_size": 3000000}}),
    "url.json": publish_event({"mode": "direct", "source": {"type": "url", "video_url": "https://media.example.com/verified/pasta.mp4"},
                               "post_info": {"privacy_level": "SELF_ONLY"}}),
    "photos.json": publish_event({"mode": "direct", "source": {"type": "photos", "photo_urls": [
        "https://media.example.com/verified/1.jpg", "https://media.example.com/verified/2.jpg"], "photo_cover_index": 1},
        "post_info": {"title": "Pasta, step by step", "description": "Three photos", "privacy_level": "SELF_ONLY"}}),
    # Scheduled for a time the tests fill in (REPLACE_WITH_SCHEDULED_AT: tomorrow).
    "scheduled.json": publish_event({"mode": "direct", "source": {"type": "url", "video_url": "https://media.example.com/verified/thursday.mp4"},
                                     "post_info": {"title": "Thursday 09:00", "privacy_level": "SELF_ONLY"},
                                     "scheduled_at": "REPLACE_WITH_SCHEDULED_AT"}, key="5b1d-schedule-once"),
    "no-privacy-level.json": publish_event({**UPLOAD, "post_info": {"title": "No privacy chosen"}}),
    "inbox-with-post-info.json": publish_event({"mode": "inbox", "source": {"type": "upload", "video_size": 3000000},
                                                "post_info": DIRECT_INFO}),
    "not-json.json": publish_event("mode=direct"),
    "no-auth.json": publish_event(UPLOAD, auth=False),
    "wrong-method.json": publish_event(None, method="GET"),
})

POST = "/api/v1/social-connections/tiktok/posts/REPLACE_WITH_POST_ID"
def post_event(path=POST, auth=True, method="GET"):
    return event(method, path, auth=auth, body={} if method != "GET" else None, name="tiktok-post-status",
                 resource="/api/v1/social-connections/tiktok/posts/{id}",
                 path_params={"id": path.rsplit("/", 1)[1]})
write("tiktok-post-status", {
    "ok.json": post_event(),
    "malformed-id.json": post_event(POSTS + "/not-a-post"),
    "no-auth.json": post_event(auth=False),
    "wrong-method.json": post_event(method="POST"),
})

# The calendar: the caller's posts, and changes of a scheduled post.
write("list-tiktok-posts", {
    "ok.json": event("GET", POSTS, name="list-tiktok-posts"),
    "filtered.json": event("GET", POSTS, {"account_id": "REPLACE_WITH_OPEN_ID", "status": "SCHEDULED,FAILED",
                                          "from": "2026-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z",
                                          "limit": "20"}, name="list-tiktok-posts"),
    "no-auth.json": event("GET", POSTS, auth=False, name="list-tiktok-posts"),
    "wrong-method.json": event("PUT", POSTS, body={}, name="list-tiktok-posts"),
})


def calendar_event(function, method, body=None, auth=True, suffix=""):
    path = POST + suffix
    return event(method, path, auth=auth, body=body, name=function,
                 resource="/api/v1/social-connections/tiktok/posts/{id}" + suffix,
                 path_params={"id": "REPLACE_WITH_POST_ID"})


# REPLACE_WITH_SCHEDULED_AT: a time the tests fill in (RFC 3339, within the year ahead).
write("update-tiktok-post", {
    "ok.json": calendar_event("update-tiktok-post", "PATCH", {
        "scheduled_at": "REPLACE_WITH_SCHEDULED_AT",
        "post_info": {"title": "Thursday 10:00 instead", "privacy_level": "SELF_ONLY"}}),
    "reschedule.json": calendar_event("update-tiktok-post", "PATCH", {"scheduled_at": "REPLACE_WITH_SCHEDULED_AT"}),
    "no-auth.json": calendar_event("update-tiktok-post", "PATCH", {"scheduled_at": "REPLACE_WITH_SCHEDULED_AT"}, auth=False),
    "wrong-method.json": calendar_event("update-tiktok-post", "PUT", {}),
})
write("cancel-tiktok-post", {
    "ok.json": calendar_event("cancel-tiktok-post", "DELETE"),
    "no-auth.json": calendar_event("cancel-tiktok-post", "DELETE", auth=False),
    "wrong-method.json": calendar_event("cancel-tiktok-post", "PUT", {}),
})
write("retry-tiktok-post", {
    "ok.json": calendar_event("retry-tiktok-post", "POST", {"confirm": True}, suffix="/retry"),
    "unconfirmed.json": calendar_event("retry-tiktok-post", "POST", {}, suffix="/retry"),
    "no-auth.json": calendar_event("retry-tiktok-post", "POST", {"confirm": True}, auth=False, suffix="/retry"),
    "wrong-method.json": calendar_event("retry-tiktok-post", "GET", suffix="/retry"),
})


# Media for scheduled posts: a presigned upload, then its state.
MEDIA = "/api/v1/social-connections/tiktok/media"
write("tiktok-media", {
    "ok.json": event("POST", MEDIA, body={"content_type": "video/mp4", "size": 1048576}, name="tiktok-media"),
    "too-large.json": event("POST", MEDIA, body={"content_type": "video/mp4", "size": 5000000000}, name="tiktok-media"),
    "no-auth.json": event("POST", MEDIA, auth=False, body={"content_type": "video/mp4", "size": 1}, name="tiktok-media"),
    "wrong-method.json": event("GET", MEDIA, name="tiktok-media"),
})
MEDIA_ID = MEDIA + "/REPLACE_WITH_MEDIA_ID"


def media_event(method="GET", auth=True):
    return event(method, MEDIA_ID, auth=auth, name="tiktok-media-status",
                 resource=MEDIA + "/{id}", path_params={"id": "REPLACE_WITH_MEDIA_ID"})


write("tiktok-media-status", {
    "ok.json": media_event(),
    "no-auth.json": media_event(auth=False),
    "wrong-method.json": media_event("DELETE"),
})
# A scheduled post of an uploaded video (media source).
write("tiktok-publish", {"media.json": publish_event({
    "mode": "direct", "source": {"type": "media", "media_id": "REPLACE_WITH_MEDIA_ID"},
    "post_info": {"title": "Uploaded once", "privacy_level": "SELF_ONLY"},
    "scheduled_at": "REPLACE_WITH_SCHEDULED_AT"})})
# Pre-flight: a dry run of a post, and the capacity ledger's answer.
write("tiktok-publish", {"dry-run.json": publish_event({
    "mode": "direct", "source": {"type": "url", "video_url": "https://media.example.com/verified/clip.mp4"},
    "post_info": {"title": "Checked first", "privacy_level": "SELF_ONLY"},
    "dry_run": True})})
account_reads("tiktok-post-capacity", "/api/v1/social-connections/tiktok/posts/capacity", "POST",
              inbox=event("GET", "/api/v1/social-connections/tiktok/posts/capacity", {"mode": "inbox"},
                          name="tiktok-post-capacity"),
              bad_mode=event("GET", "/api/v1/social-connections/tiktok/posts/capacity", {"mode": "later"},
                             name="tiktok-post-capacity"))

# Analytics reads: an account's daily series, its videos, one video's series.
ANALYTICS = "/api/v1/social-connections/tiktok/analytics"
account_reads("tiktok-analytics-account", ANALYTICS + "/account", "POST",
              range=event("GET", ANALYTICS + "/account", {"from": "2026-11-01", "to": "2026-11-30"},
                          name="tiktok-analytics-account"),
              bad_date=event("GET", ANALYTICS + "/account", {"from": "2026-11-31"},
                             name="tiktok-analytics-account"),
              too_long=event("GET", ANALYTICS + "/account", {"from": "2025-01-01", "to": "2026-11-30"},
                             name="tiktok-analytics-account"))
account_reads("tiktok-analytics-videos", ANALYTICS + "/videos", "POST",
              sorted=event("GET", ANALYTICS + "/videos", {"sort": "velocity", "limit": "5"},
                           name="tiktok-analytics-videos"),
              bad_sort=event("GET", ANALYTICS + "/videos", {"sort": "likes"}, name="tiktok-analytics-videos"),
              bad_cursor=event("GET", ANALYTICS + "/videos", {"cursor": "-1"}, name="tiktok-analytics-videos"))
VIDEO = ANALYTICS + "/videos/REPLACE_WITH_VIDEO_ID"


def video_event(method="GET", auth=True, video_id="REPLACE_WITH_VIDEO_ID"):
    return event(method, ANALYTICS + "/videos/" + video_id, auth=auth, name="tiktok-analytics-video",
                 resource=ANALYTICS + "/videos/{video_id}", path_params={"video_id": video_id})


write("tiktok-analytics-video", {
    "ok.json": video_event(),
    "unknown.json": video_event(video_id="7300000000000000001"),
    "bad-id.json": video_event(video_id="not%20an%20id"),
    "no-auth.json": video_event(auth=False),
    "wrong-method.json": video_event("DELETE"),
})


def catch_all_event(method, path, auth=False, headers=None):
    # The catch-all's resource: the route's own path (ANY there), else /{proxy+}.
    e = event(method, path, auth=auth, name="route-not-found", resource="/{proxy+}",
              path_params={"proxy": path.lstrip("/")})
    e["headers"].update(headers or {})
    return e
write("route-not-found", {
    "unknown-path.json": catch_all_event("GET", "/api/v1/social-connections/tiktok/nothing/here"),
    "wrong-method.json": catch_all_event("PUT", LIST),
    "trailing-slash.json": catch_all_event("GET", LIST + "/"),
    # A browser's CORS preflight (OPTIONS reaches the catch-all on every path).
    "preflight.json": catch_all_event("OPTIONS", UPDATE, headers={
        "access-control-request-method": "PATCH",
        "access-control-request-headers": "authorization,content-type"}),
})

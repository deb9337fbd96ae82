#!/usr/bin/env python3
"""Smoke test: every route over HTTP at its production path, through the local gateway,
`cargo lambda watch` and the local stack (scripts/client-tests.sh, scripts/smoke.sh),
every answer checked against openapi.yaml. Runs with the project's Python environment
(jsonschema, PyYAML)."""

import datetime
import json
import os
import pathlib
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import yaml

BASE = os.environ.get("SMOKE_BASE_URL", "http://127.0.0.1:9000")
FAKE = os.environ["STACK_TIKTOK_URL"]
EMULATOR = "http://" + os.environ["FIREBASE_AUTH_EMULATOR_HOST"]


# Every answer of the API is checked against the response schema openapi.yaml declares
# for its operation and status: an undeclared status or field fails.
SPEC = yaml.safe_load((pathlib.Path(__file__).resolve().parent.parent / "openapi.yaml").read_text())


def operation_of(method, path):
    """The spec's operation for a concrete path, as a REST API routes it: the most
    specific path (segment by segment, a literal before a parameter), then its method.
    The TikTok account's PATCH is also served on the DELETE's more specific path."""
    candidates = []
    for template, item in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path):
            candidates.append(([s.startswith("{") for s in template.split("/")], template, item))
    if not candidates:
        return None
    _, template, item = min(candidates, key=lambda c: c[0])
    if method == "PATCH" and template == "/api/v1/social-connections/tiktok/{open_id}":
        item = SPEC["paths"]["/api/v1/social-connections/{provider}/{account_id}"]
    return item.get(method.lower())


def check_against_spec(method, url, status, body):
    path = urllib.parse.urlsplit(url).path
    operation = operation_of(method, path)
    if operation is None:
        # Any other path or method: the catch-all's contract errors.
        declared = {404: "RouteNotFound", 405: "MethodNotAllowed"}
        response = SPEC["components"]["responses"].get(declared.get(status, ""))
    else:
        response = operation["responses"].get(str(status))
    if response is None:
        fail(f"{method} {path} answered {status}, which openapi.yaml does not declare")
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = dict(response["content"]["application/json"]["schema"])
    schema["components"] = SPEC["components"]
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
    if errors:
        fail(f"{method} {path} {status}: the answer does not match openapi.yaml: "
             + "; ".join(f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in errors[:5]))


def fail(message):
    print(f"smoke: {message}", file=sys.stderr)
    sys.exit(1)


def call(method, url, body=None, token=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Origin", "http://localhost:3000")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            got = response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        got = err.code, json.loads(err.read() or b"null")
    if url.startswith(BASE):
        check_against_spec(method, url, *got)
    return got


def expect(name, got, status):
    if got[0] != status:
        print(f"smoke: {name}: expected {status}, got {got[0]} {got[1]}", file=sys.stderr)
        sys.exit(1)
    print(f"smoke: {name}: {status}")
    return got[1]


def main():
    account = call("POST", f"{FAKE}/_fake/accounts",
                   {"scope": "user.info.basic,user.info.profile,user.info.stats,video.list,"
                             "video.publish,video.upload"})[1]
    open_id = account["open_id"]
    signed_in = expect("POST /api/v1/auth/oauth/tiktok", call("POST", f"{BASE}/api/v1/auth/oauth/tiktok", {
        "provider": "tiktok", "provider_account_id": open_id,
        "access_token": account["access_token"], "refresh_token": account["refresh_token"],
        "expires_in": account["expires_in"], "refresh_expires_in": account["refresh_expires_in"],
        "scope": account["scope"], "email": f"smoke{open_id[-8:]}@example.com", "name": "Smoke",
    }), 200)
    exchanged = call("POST", f"{EMULATOR}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=local",
                     {"token": signed_in["firebase_token"], "returnSecureToken": True})[1]
    token = exchanged["idToken"]

    tested = expect("GET /api/v1/social-connections/tiktok/test",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/test", token=token), 200)
    assert tested["connected"] is True, tested
    profile = expect("GET /api/v1/social-connections/tiktok/profile",
                     call("GET", f"{BASE}/api/v1/social-connections/tiktok/profile?force=true", token=token), 200)
    assert profile["open_id"] == open_id, profile
    expect("POST /api/v1/social-connections/store-tiktok-profile",
           call("POST", f"{BASE}/api/v1/social-connections/store-tiktok-profile",
                {"profile": {"open_id": open_id, "display_name": "Smoke", "follower_count": 1}}, token=token), 200)
    stored = expect("POST /api/v1/social-connections/store-token",
                    call("POST", f"{BASE}/api/v1/social-connections/store-token", {
                        "provider": "tiktok", "provider_account_id": open_id,
                        "access_token": account["access_token"], "account_label": "Smoke"}, token=token), 200)
    assert "access_token" not in stored, stored
    call("POST", f"{FAKE}/_fake/videos", {"open_id": open_id, "count": 3})
    videos = expect("GET /api/v1/social-connections/tiktok/videos",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/videos?max_count=2", token=token), 200)
    assert len(videos["videos"]) == 2 and videos["has_more"] is True, videos
    creator = expect("GET /api/v1/social-connections/tiktok/creator-info",
                     call("GET", f"{BASE}/api/v1/social-connections/tiktok/creator-info", token=token), 200)
    assert "SELF_ONLY" in creator["privacy_level_options"], creator
    posted = expect("POST /api/v1/social-connections/tiktok/posts",
                    call("POST", f"{BASE}/api/v1/social-connections/tiktok/posts", {
                        "mode": "direct", "source": {"type": "upload", "video_size": 1000},
                        "post_info": {"title": "Smoke", "privacy_level": "SELF_ONLY"}}, token=token), 201)
    assert posted["upload"]["total_chunk_count"] == 1, posted
    status = expect("GET /api/v1/social-connections/tiktok/posts/{id}",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/posts/{posted['id']}", token=token), 200)
    assert status["status"] == "PROCESSING_UPLOAD", status
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scheduled = expect("POST /api/v1/social-connections/tiktok/posts (scheduled)",
                       call("POST", f"{BASE}/api/v1/social-connections/tiktok/posts", {
                           "mode": "direct", "scheduled_at": later,
                           "source": {"type": "url", "video_url": "https://media.example.com/verified/later.mp4"},
                           "post_info": {"title": "Later", "privacy_level": "SELF_ONLY"}}, token=token), 201)
    assert scheduled["status"] == "SCHEDULED" and scheduled["publish_id"] is None, scheduled
    assert scheduled["scheduled_at"] == later and scheduled["attempts"] == 0, scheduled
    status = expect("GET /api/v1/social-connections/tiktok/posts/{id} (scheduled)",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/posts/{scheduled['id']}", token=token), 200)
    assert status["status"] == "SCHEDULED", status
    listed_posts = expect("GET /api/v1/social-connections/tiktok/posts",
                          call("GET", f"{BASE}/api/v1/social-connections/tiktok/posts?status=SCHEDULED&limit=5",
                               token=token), 200)
    assert [p["id"] for p in listed_posts["posts"]] == [scheduled["id"]], listed_posts
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    moved = expect("PATCH /api/v1/social-connections/tiktok/posts/{id}",
                   call("PATCH", f"{BASE}/api/v1/social-connections/tiktok/posts/{scheduled['id']}",
                        {"scheduled_at": later}, token=token), 200)
    assert moved["scheduled_at"] == later, moved
    refused = expect("POST /api/v1/social-connections/tiktok/posts/{id}/retry (a scheduled post)",
                     call("POST", f"{BASE}/api/v1/social-connections/tiktok/posts/{scheduled['id']}/retry",
                          {"confirm": True}, token=token), 409)
    assert refused["code"] == "post_not_editable", refused
    cancelled = expect("DELETE /api/v1/social-connections/tiktok/posts/{id}",
                       call("DELETE", f"{BASE}/api/v1/social-connections/tiktok/posts/{scheduled['id']}",
                            token=token), 200)
    assert cancelled["status"] == "CANCELLED", cancelled
    media = expect("POST /api/v1/social-connections/tiktok/media",
                   call("POST", f"{BASE}/api/v1/social-connections/tiktok/media",
                        {"content_type": "video/mp4", "size": 16}, token=token), 201)
    assert media["status"] == "pending" and media["upload"]["method"] == "PUT", media
    put = urllib.request.Request(media["upload"]["url"], data=b"0123456789abcdef", method="PUT",
                                 headers=media["upload"]["headers"])
    with urllib.request.urlopen(put, timeout=60) as stored:
        assert stored.status == 200, stored.status
    ready = expect("GET /api/v1/social-connections/tiktok/media/{id}",
                   call("GET", f"{BASE}/api/v1/social-connections/tiktok/media/{media['id']}", token=token), 200)
    assert ready["status"] == "ready", ready
    # 16 bytes are no video: ready in storage, but its header says it cannot be posted.
    assert ready["facts"] is None and ready["facts_error"], ready
    capacity = expect("GET /api/v1/social-connections/tiktok/posts/capacity",
                      call("GET", f"{BASE}/api/v1/social-connections/tiktok/posts/capacity?account_id={open_id}",
                           token=token), 200)
    assert capacity["can_post_now"] in (True, False) and "blocked_by" in capacity, capacity
    # Analytics: before the sync (scheduled, no route) the series are empty, and say when
    # the next sync is due.
    series = expect("GET /api/v1/social-connections/tiktok/analytics/account",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/analytics/account?account_id={open_id}",
                         token=token), 200)
    assert series["series"] == [] and series["account_id"] == open_id, series
    videos = expect("GET /api/v1/social-connections/tiktok/analytics/videos",
                    call("GET", f"{BASE}/api/v1/social-connections/tiktok/analytics/videos?account_id={open_id}"
                         "&sort=velocity&limit=5", token=token), 200)
    assert videos["videos"] == [] and videos["total"] == 0, videos
    unknown = expect("GET /api/v1/social-connections/tiktok/analytics/videos/{video_id}",
                     call("GET", f"{BASE}/api/v1/social-connections/tiktok/analytics/videos/7300000000000000001"
                          f"?account_id={open_id}", token=token), 404)
    assert unknown["code"] == "video_not_found", unknown
    bad = expect("GET /api/v1/social-connections/tiktok/analytics/account with a bad date",
                 call("GET", f"{BASE}/api/v1/social-connections/tiktok/analytics/account?from=2026-02-30",
                      token=token), 400)
    assert bad["code"] == "invalid_request", bad
    expect("POST /api/v1/webhooks/tiktok without a signature",
           call("POST", f"{BASE}/api/v1/webhooks/tiktok", {"client_key": "x", "event": "authorization.removed"}), 401)
    listed = expect("GET /api/v1/social-connections/connections",
                    call("GET", f"{BASE}/api/v1/social-connections/connections", token=token), 200)
    assert [c["provider_account_id"] for c in listed["connections"]] == [open_id], listed
    updated = expect("PATCH /api/v1/social-connections/tiktok/{account_id}",
                     call("PATCH", f"{BASE}/api/v1/social-connections/tiktok/{open_id}",
                          {"account_label": "Renamed"}, token=token), 200)
    assert updated["account_label"] == "Renamed", updated
    # A second account through the server-side flow (a TikTok-only user cannot
    # disconnect their only sign-in method).
    started = expect("POST /api/v1/auth/tiktok/authorize",
                     call("POST", f"{BASE}/api/v1/auth/tiktok/authorize",
                          {"redirect_uri": "http://localhost:3000/connect/tiktok"}, token=token), 200)
    consented = call("POST", f"{FAKE}/_fake/consent", {"authorize_url": started["authorize_url"]})[1]
    linked = expect("POST /api/v1/auth/tiktok/callback",
                    call("POST", f"{BASE}/api/v1/auth/tiktok/callback",
                         {"code": consented["code"], "state": started["state"],
                          "binding": started["binding"]}, token=token), 200)
    assert linked["firebase_token"] is None and linked["connection"]["sign_in_enabled"], linked
    gone = expect("DELETE /api/v1/social-connections/tiktok/{open_id}",
                  call("DELETE", f"{BASE}/api/v1/social-connections/tiktok/{open_id}", token=token), 200)
    assert gone == {"success": True, "revoked": True}, gone
    expect("GET /api/v1/social-connections/tiktok/test without a token",
           call("GET", f"{BASE}/api/v1/social-connections/tiktok/test"), 401)
    # A path that reads like an open_id is the literal path first, as a REST API routes it.
    named = expect("DELETE /api/v1/social-connections/tiktok/profile (the profile's path)",
                   call("DELETE", f"{BASE}/api/v1/social-connections/tiktok/profile", token=token), 405)
    assert named["code"] == "method_not_allowed", named
    # Any other path or method: the contract's error body, as deployed (the catch-all's ANY).
    missing = expect("GET of a path the API does not have",
                     call("GET", f"{BASE}/api/v1/social-connections/nothing/here/at-all"), 404)
    assert missing["code"] == "route_not_found", missing
    wrong = expect("PUT /api/v1/social-connections/connections",
                   call("PUT", f"{BASE}/api/v1/social-connections/connections", {}), 405)
    assert wrong["code"] == "method_not_allowed", wrong
    # CORS as the functions answer it: an allowed origin may read Retry-After; another gets
    # no grant; the preflight of an allowed origin says what it may send.
    preflight = urllib.request.Request(
        f"{BASE}/api/v1/social-connections/tiktok/abc", method="OPTIONS",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH",
                 "Access-Control-Request-Headers": "authorization,content-type"})
    with urllib.request.urlopen(preflight, timeout=60) as answer:
        assert answer.status == 204, answer.status
        assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000", dict(answer.headers)
        assert "PATCH" in answer.headers["Access-Control-Allow-Methods"], dict(answer.headers)
        assert "authorization" in answer.headers["Access-Control-Allow-Headers"], dict(answer.headers)
    request = urllib.request.Request(f"{BASE}/api/v1/social-connections/tiktok/test",
                                     headers={"Origin": "http://localhost:3000"})
    try:
        urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        assert err.headers["Access-Control-Allow-Origin"] == "http://localhost:3000", dict(err.headers)
        assert "retry-after" in err.headers["Access-Control-Expose-Headers"], dict(err.headers)
    request = urllib.request.Request(f"{BASE}/api/v1/social-connections/tiktok/test",
                                     headers={"Origin": "https://attacker.example"})
    try:
        urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        assert err.headers["Access-Control-Allow-Origin"] is None, dict(err.headers)
    print("smoke: catch-all and CORS as deployed")


if __name__ == "__main__":
    main()

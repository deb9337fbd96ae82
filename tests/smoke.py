#!/usr/bin/env python3
"""Smoke test: every route over HTTP at its production path, through `cargo lambda
watch` and the local stack (run by scripts/smoke.sh). Standard library only."""

import json
import os
import sys
import urllib.error
import urllib.request

BASE = os.environ.get("SMOKE_BASE_URL", "http://127.0.0.1:9000")
FAKE = os.environ["STACK_TIKTOK_URL"]
EMULATOR = "http://" + os.environ["FIREBASE_AUTH_EMULATOR_HOST"]


def call(method, url, body=None, token=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Origin", "http://localhost:3000")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def expect(name, got, status):
    if got[0] != status:
        print(f"smoke: {name}: expected {status}, got {got[0]} {got[1]}", file=sys.stderr)
        sys.exit(1)
    print(f"smoke: {name}: {status}")
    return got[1]


def main():
    account = call("POST", f"{FAKE}/_fake/accounts",
                   {"scope": "user.info.basic,user.info.profile,user.info.stats,video.list"})[1]
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
                         {"code": consented["code"], "state": started["state"]}, token=token), 200)
    assert linked["firebase_token"] is None and linked["connection"]["sign_in_enabled"], linked
    gone = expect("DELETE /api/v1/social-connections/tiktok/{open_id}",
                  call("DELETE", f"{BASE}/api/v1/social-connections/tiktok/{open_id}", token=token), 200)
    assert gone == {"success": True, "revoked": True}, gone
    expect("GET /api/v1/social-connections/tiktok/test without a token",
           call("GET", f"{BASE}/api/v1/social-connections/tiktok/test"), 401)


if __name__ == "__main__":
    main()

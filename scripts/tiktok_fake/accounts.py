"""Accounts and their grants: made by /_fake/accounts or a consent, tokens issued and
rotated (the previous refresh token stops working at once)."""

import time
import uuid

from .posting_rules import CREATOR_DEFAULTS
from .state import ACCESS, ISSUED, REFRESH, RETIRED, new_token


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

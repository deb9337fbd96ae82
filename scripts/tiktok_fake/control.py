"""The test control API under /_fake/: accounts, consents, expiry, scripted faults
(answers or recorded shapes), videos, posting settings, publishes, and what was
called."""

import time
from urllib.parse import parse_qs, urlparse

from .accounts import issue_tokens, new_account, retire_refresh
from .consent import grant_consent
from .display import add_videos
from .posting_rules import PUBLISH_STATUSES, arrive, creator_problem
from .state import (ACCESS, ACCOUNTS, CALLS, CODES, FAULTS, ISSUED, LATENCY, LOCK, PUBLISHES, REFRESH,
                    VERIFIED_PREFIXES, VIDEOS, DISPLAY_RPM,
                    fixture, new_open_id)
from .webhooks import TARGETS, deliveries, emit, publish_events


class ControlApi:
    """The control routes (mixed into the request handler)."""

    # -- test control -----------------------------------------------------------------
    def control_get(self, url):
        """GET /_fake/calls (every call, or one account's: ?open_id=), /_fake/accounts/<open_id>,
        /_fake/publishes/<publish_id>, /_fake/issued (every token issued)."""
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
                record = None if record is None else dict(
                    record, plan=dict(record["plan"]), post_ids=list(record["post_ids"]))
            return self.send(200 if record else 404, record or {"error": "no such publish"})
        if url.path == "/_fake/webhooks":
            open_id = parse_qs(url.query).get("open_id", [None])[0]
            with LOCK:
                return self.send(200, {"deliveries": deliveries(open_id)})
        if url.path == "/_fake/issued":
            with LOCK:
                return self.send(200, {"tokens": list(ISSUED)})
        return self.send(404, {"error": "unknown control path"})

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
        if "fail_reason" in p:
            record["fail_reason"] = p["fail_reason"]
        if post_ids is not None:
            record["post_ids"] = list(post_ids)
        if status is not None:
            record["moves_on_fetch"] = False  # the test drives it from now on
            if status == "PUBLISH_COMPLETE" and post_ids is None:
                arrive(record)  # its own events (inbox_delivered, or complete and public)
            before = record["status"]
            record["status"] = status
            publish_events(record, before)
        return self.send(200, dict(record))

    def webhooks(self, path, p):
        """/_fake/webhooks/target {url, open_id?}: where events go (one account's, or every
        other's; url null: nowhere); /_fake/webhooks/send {event, open_id, content,
        create_time?}: one event, now. Called with LOCK held."""
        if path == "/_fake/webhooks/target":
            url = p.get("url")
            if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                return self.send(400, {"error": "url must be an http(s) URL or null"})
            if url is None:
                TARGETS.pop(p.get("open_id"), None)
            else:
                TARGETS[p.get("open_id")] = url
            return self.send(200, {"targets": {k or "*": v for k, v in TARGETS.items()}})
        if path == "/_fake/webhooks/send":
            if not isinstance(p.get("event"), str) or not isinstance(p.get("content", {}), dict):
                return self.send(400, {"error": "event (a string) and content (an object) are needed"})
            record = emit(p["event"], p.get("open_id"), p.get("content", {}), p.get("create_time"))
            if record is None:
                return self.send(409, {"error": "no webhook target is set for this account"})
            return self.send(200, {"event": record["event"], "url": record["url"]})
        return self.send(404, {"error": "unknown control path"})

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
            if path == "/_fake/latency":
                ms = p.get("ms")
                if not isinstance(ms, int) or not 0 <= ms <= 10000:
                    return self.send(400, {"error": "ms must be 0 to 10000"})
                LATENCY["ms"] = ms
                return self.send(200, {"ms": ms})
            if path == "/_fake/display_rpm":
                # The Display API's limit a minute per endpoint (TikTok's 600 by default); a
                # load test of our own functions raises it.
                rpm = p.get("rpm")
                if not isinstance(rpm, int) or isinstance(rpm, bool) or rpm < 1:
                    return self.send(400, {"error": "rpm must be a positive whole number"})
                DISPLAY_RPM["rpm"] = rpm
                return self.send(200, {"rpm": rpm})
            if path == "/_fake/publish":
                return self.set_publish(p)
            if path.startswith("/_fake/webhooks/"):
                return self.webhooks(path, p)
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
                # The user removed the app in TikTok's settings: every token is dead, and
                # TikTok says so (reason 1: the user disconnected; 2: account deleted...).
                for t in [t for t, (oid, _) in ACCESS.items() if oid == open_id]:
                    del ACCESS[t]
                retire_refresh(open_id)
                emit("authorization.removed", open_id, {"reason": p.get("reason", 1)})
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
            if path == "/_fake/video_stats":
                # The counts TikTok now answers for a video (views grow), or its removal
                # (`deleted`: no longer listed nor answered by a query).
                vid = str(p.get("video_id"))
                videos = VIDEOS.get(open_id, [])
                found = [v for v in videos if str(v["id"]) == vid]
                if not found:
                    return self.send(404, {"error": "no such video"})
                if p.get("deleted"):
                    VIDEOS[open_id] = [v for v in videos if str(v["id"]) != vid]
                    return self.send(200, {"deleted": vid})
                for field in ("view_count", "like_count", "comment_count", "share_count"):
                    if field in p:
                        if not isinstance(p[field], int) or p[field] < 0:
                            return self.send(400, {"error": f"{field} must be a count"})
                        found[0][field] = p[field]
                return self.send(200, {"video": found[0]})
            if path == "/_fake/videos":
                problem, made = add_videos(open_id, p)
                return self.send(400, {"error": problem}) if problem else self.send(200, {"videos": made})
            if path == "/_fake/creator":
                ACCOUNTS[open_id]["creator"].update(p.get("creator") or {})
                return self.send(200, {"creator": ACCOUNTS[open_id]["creator"]})
            if path == "/_fake/expire_code":
                CODES[p["code"]]["expires_at"] = 0
                return self.send(200, {})
            if path == "/_fake/check_refresh":
                return self.send(200, {"valid": REFRESH.get(p.get("refresh_token")) == open_id})
        return self.send(404, {"error": "unknown control path"})

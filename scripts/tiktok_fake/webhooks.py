"""The webhook sender: TikTok's events delivered to the app's callback URL as TikTok
delivers them (a JSON body whose `content` is a JSON string, signed
`TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
client secret>`), and delivered again with backoff while the app answers anything but
200 (TikTok retries for 72 hours; whether it signs a retry anew is not documented, so
a retry here carries the first signature).

Where: the URL set by POST /_fake/webhooks/target {url} (or TIKTOK_FAKE_WEBHOOK_URL),
or for one account's events {url, open_id} (tests running side by side each receive
their own); no URL, no delivery. The retry schedule is compressed for tests
(TIKTOK_FAKE_WEBHOOK_RETRY_MS, default 200,400,800,1600,3200 ms, then dropped).

Events sent on their own: authorization.removed when an account removes the app
(/_fake/deauthorize), post.publish.inbox_delivered, post.publish.complete and
post.publish.publicly_available when a post arrives, post.publish.failed when one
fails (/_fake/publish). Any other: POST /_fake/webhooks/send {event, open_id, content,
create_time?}. Deliveries and their attempts: GET /_fake/webhooks?open_id=."""

import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request

from .state import LOCK, SETTINGS

RETRY_MS = [int(ms) for ms in os.environ.get("TIKTOK_FAKE_WEBHOOK_RETRY_MS", "200,400,800,1600,3200").split(",")
            if ms.strip()]


TIMEOUT = 5  # seconds an attempt waits for the app's answer
TARGETS = {}  # open_id -> callback URL (one account's events); None -> every other account's
if os.environ.get("TIKTOK_FAKE_WEBHOOK_URL"):
    TARGETS[None] = os.environ["TIKTOK_FAKE_WEBHOOK_URL"]


DELIVERIES = []  # {"event", "open_id", "url", "create_time", "attempts": [status or error], "delivered"}


def target_for(open_id):
    """Where `open_id`'s events go, or None. Called with LOCK held."""
    return TARGETS.get(open_id) or TARGETS.get(None)


def sign(body, at):
    digest = hmac.new(SETTINGS.client_secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},s={digest}"


def emit(event, open_id, content, create_time=None):
    """Delivers `event` for `open_id` in the background, if a target is set. Called with
    LOCK held (it only records and starts the delivery)."""
    url = target_for(open_id)
    if url is None:
        return None
    now = int(time.time())
    body = json.dumps({
        "client_key": SETTINGS.client_key, "event": event,
        "create_time": now if create_time is None else create_time,
        "user_openid": open_id, "content": json.dumps(content),
    }).encode()
    record = {"event": event, "open_id": open_id, "url": url, "create_time": create_time or now,
              "content": content, "attempts": [], "delivered": False}
    DELIVERIES.append(record)
    threading.Thread(target=deliver, args=(record, body, sign(body, now)), daemon=True).start()
    return record


def deliver(record, body, signature):
    """Posts the delivery until the app answers 200 or the schedule runs out."""
    for delay_ms in [0] + RETRY_MS:
        time.sleep(delay_ms / 1000)
        request = urllib.request.Request(record["url"], data=body, method="POST", headers={
            "Content-Type": "application/json", "TikTok-Signature": signature, "User-Agent": "tiktok-fake-webhooks"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError) as e:
            status = "unreachable: " + type(e).__name__
        with LOCK:
            record["attempts"].append(status)
            if status == 200:
                record["delivered"] = True
                return


def deliveries(open_id):
    """Deliveries so far (of one account, or all). Called with LOCK held."""
    return [dict(r, attempts=list(r["attempts"])) for r in DELIVERIES if open_id is None or r["open_id"] == open_id]


def publish_events(record, before):
    """What TikTok sends when a publish moved from status `before` to its current one.
    Called with LOCK held."""
    status, publish_id, open_id = record["status"], record["publish_id"], record["open_id"]
    if status == before:
        return
    kind = "DIRECT_PUBLISH" if record["mode"] == "direct" else "INBOX_SHARE"
    if status == "SEND_TO_USER_INBOX":
        emit("post.publish.inbox_delivered", open_id, {"publish_id": publish_id, "publish_type": kind})
    elif status == "PUBLISH_COMPLETE":
        emit("post.publish.complete", open_id, {"publish_id": publish_id, "publish_type": kind})
        for post_id in record["post_ids"]:
            emit("post.publish.publicly_available", open_id,
                 {"publish_id": publish_id, "publish_type": kind, "post_id": str(post_id)})
    elif status == "FAILED":
        emit("post.publish.failed", open_id,
             {"publish_id": publish_id, "publish_type": kind, "reason": record["fail_reason"] or "internal"})

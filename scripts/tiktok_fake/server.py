"""The request handler (TikTok's API host and the upload host), its plumbing, and the
process: python3 scripts/tiktok_fake PORT CLIENT_KEY CLIENT_SECRET."""

import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .consent import consent_page, error_page, page_problem
from .control import ControlApi
from .display import DisplayApi
from .oauth import OAuthApi
from .posting import PostingApi
from .posting_rules import POSTING
from .state import ACCESS, ACCOUNTS, CALLS, FAULTS, LATENCY, LOCK, SETTINGS, fixture, log_id
from .uploads import UploadHost


class Handler(OAuthApi, DisplayApi, PostingApi, UploadHost, ControlApi, BaseHTTPRequestHandler):
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

    def bearer_call(self, endpoint, record):
        """Records a call made with a bearer access token, plays the account's fault for
        the endpoint, and refuses an unknown or expired token. Returns the token and its
        open_id, or None once an answer has been sent."""
        if LATENCY["ms"]:
            time.sleep(LATENCY["ms"] / 1000)
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": endpoint, "open_id": open_id, "at": time.time(), **record})
        if open_id and self.fault(open_id, endpoint):
            return None
        if not entry or entry[1] <= time.time():
            self.envelope_error(401, "access_token_invalid",
                                "The access token is invalid or not found in the request.")
            return None
        return token, open_id

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
        if url.path.startswith("/_fake/"):
            return self.control_get(url)
        if url.path == "/health":
            return self.send(200, {"ok": True})
        self.envelope_error(404, "invalid_params", "Unknown path")

    def do_POST(self):
        url = urlparse(self.path)
        raw = self.body()
        if self.server.uploads:  # the upload host serves uploads only
            return self.envelope_error(404, "invalid_params", "Unknown path")
        if url.path in ("/v2/oauth/token/", "/v2/oauth/revoke/"):
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            if form.get("client_key") != SETTINGS.client_key or form.get("client_secret") != SETTINGS.client_secret:
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

    def do_PUT(self):
        self.upload()

    def do_OPTIONS(self):
        self.upload_preflight()


def serve(port, uploads):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.uploads = uploads
    return server


def main():
    port, SETTINGS.client_key, SETTINGS.client_secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = serve(port, uploads=False)
    # TikTok's upload URLs are on another host than its API: a listener of their own
    # (TIKTOK_FAKE_UPLOAD_PORT, else any free port), serving nothing but PUT /upload/.
    upload_server = serve(int(os.environ.get("TIKTOK_FAKE_UPLOAD_PORT", "0")), uploads=True)
    SETTINGS.upload_host = "localhost:%d" % upload_server.server_port
    threading.Thread(target=upload_server.serve_forever, daemon=True).start()
    print(f"tiktok fake on 127.0.0.1:{port}, uploads on {SETTINGS.upload_host}", flush=True)
    server.serve_forever()

#!/usr/bin/env python3
"""The local stand-in for API Gateway, in front of `cargo lambda watch` (standard library
only; started by scripts/serve.sh).

What a frontend can tell apart is the same as deployed (template.yaml's REST API):
- the routes are the contract's (Cargo.toml's watch router, which tests/api_contract.py
  keeps equal to template.yaml), chosen as a REST API does (see route_target): the most
  specific resource (path) first, then the method; any other method there, OPTIONS
  included, and any other path go to the catch-all function `route-not-found`, as the
  deployed ANY methods do, so the answer is the contract's error body (404
  `route_not_found`, 405 `method_not_allowed`) or a CORS preflight's;
- CORS is the functions' own (ALLOWED_ORIGINS, in the stack's environment), passed on
  untouched, as deployed;
- a second port serves the example page (examples/web/public) and its `/config.json`,
  made from the stack's settings.

    local_gateway.py API_PORT WEB_PORT UPSTREAM_URL
"""

import http.client
import http.server
import json
import mimetypes
import os
import pathlib
import re
import sys
import threading
import tomllib
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEB_ROOT = ROOT / "examples" / "web" / "public"
CATCH_ALL = "route-not-found"
# Not passed on between client and function (hop by hop, or set again by the server).
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host", "content-length", "date", "server"}


def load_routes():
    """[(compiled path pattern, path parameters, {METHOD: function})] from Cargo.toml's
    watch router."""
    with open(ROOT / "Cargo.toml", "rb") as f:
        router = tomllib.load(f)["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = []
    for path, targets in router.items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        specificity = [segment.startswith("{") for segment in path.split("/")]
        routes.append((pattern, specificity, {t["method"].upper(): t["function"] for t in targets}))
    return routes


ROUTES = load_routes()


def route_target(method, path):
    """Where this request goes, as a REST API routes it: the most specific resource
    (segment by segment, a literal before a parameter), then its method; the catch-all,
    by name, for a method the resource lacks (its ANY) or a path no resource has. "" when
    the watch router's own choice is the same."""
    matching = sorted((specificity, methods) for pattern, specificity, methods in ROUTES if pattern.match(path))
    if not matching or method not in matching[0][1]:
        return f"/lambda-url/{CATCH_ALL}"
    return ""


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # (host, port)

    def log_message(self, *args):
        pass

    def forward(self):
        url = urllib.parse.urlsplit(self.path)
        # A function called by name sees the path as asked.
        target = route_target(self.command, url.path) + self.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        connection = http.client.HTTPConnection(*self.upstream, timeout=900)
        try:
            connection.request(self.command, target, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as err:
            data = json.dumps({"detail": f"the functions are not answering: {err}",
                               "status_code": 502, "code": "internal_error",
                               "request_id": "local-gateway"}).encode()
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_OPTIONS = do_HEAD = forward


class Web(http.server.BaseHTTPRequestHandler):
    """The example page's files, and its settings as `/config.json`."""
    protocol_version = "HTTP/1.1"
    config = b"{}"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            self.send_response(302)
            self.send_header("Location", "/connect.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/config.json":
            return self.answer(200, "application/json", self.config)
        file = (WEB_ROOT / path.lstrip("/")).resolve()
        if WEB_ROOT.resolve() not in file.parents or not file.is_file():
            return self.answer(404, "text/plain; charset=utf-8", b"not found\n")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        self.answer(200, kind, file.read_bytes())

    def answer(self, status, kind, data):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)


def main():
    api_port, web_port, upstream = int(sys.argv[1]), int(sys.argv[2]), urllib.parse.urlsplit(sys.argv[3])
    Api.upstream = (upstream.hostname, upstream.port)
    Web.config = json.dumps({
        "apiBaseUrl": f"http://localhost:{api_port}",
        "authEmulatorUrl": "http://" + os.environ["FIREBASE_AUTH_EMULATOR_HOST"],
        "projectId": os.environ["FIREBASE_PROJECT_ID"],
        "apiKey": "local",
    }).encode()
    api = http.server.ThreadingHTTPServer(("127.0.0.1", api_port), Api)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", web_port), Web)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    api.serve_forever()


if __name__ == "__main__":
    main()

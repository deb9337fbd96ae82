#!/usr/bin/env python3
"""The local stand-in for API Gateway, in front of `cargo lambda watch` (standard library
only; started by scripts/serve.sh).

What a frontend can tell apart is the same as deployed (template.yaml's HttpApi):
- the routes are the contract's (Cargo.toml's watch router, which tests/api_contract.py
  keeps equal to template.yaml), chosen by path and method together as API Gateway
  does (see route_target); any other path or method goes to the catch-all function
  `route-not-found`, as the deployed `$default` route does, so the answer is the
  contract's error body (404 `route_not_found`, 405 `method_not_allowed`);
- CORS as the HttpApi's CorsConfiguration: the allowed origins only (LOCAL_ALLOWED_ORIGINS,
  comma-separated), the same methods and headers, `Retry-After` exposed, preflights
  answered here without calling a function;
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
# template.yaml's CorsConfiguration.
ALLOW_METHODS = "GET,POST,PATCH,DELETE,OPTIONS"
ALLOW_HEADERS = "authorization,content-type,idempotency-key"
EXPOSE_HEADERS = "retry-after,idempotent-replayed"
MAX_AGE = "600"
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
        routes.append((pattern, path.count("{"), {t["method"].upper(): t["function"] for t in targets}))
    return routes


ROUTES = load_routes()
ORIGINS = {o.strip() for o in os.environ.get(
    "LOCAL_ALLOWED_ORIGINS", "http://localhost:3000,http://localhost:8080").split(",") if o.strip()}


def route_target(method, path):
    """Where this request goes, as API Gateway routes it: the most specific route with
    this method. The watch router matches the path first, so where a more specific path
    lacks the method (DELETE of an account whose open_id is `profile`), the function is
    called by name instead. Anything unrouted: the catch-all, by name."""
    matching = sorted((params, methods) for pattern, params, methods in ROUTES if pattern.match(path))
    served = [(params, methods[method]) for params, methods in matching if method in methods]
    if not served:
        return f"/lambda-url/{CATCH_ALL}"
    params, function = served[0]
    if matching[0][0] < params:
        return f"/lambda-url/{function}"
    return ""


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # (host, port)

    def log_message(self, *args):
        pass

    def cors_headers(self):
        origin = self.headers.get("Origin")
        if origin and origin in ORIGINS:
            return [("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Expose-Headers", EXPOSE_HEADERS), ("Vary", "Origin")]
        return [("Vary", "Origin")]

    def preflight(self):
        origin = self.headers.get("Origin")
        headers = [("Vary", "Origin"), ("Content-Length", "0")]
        if origin in ORIGINS:
            headers += [("Access-Control-Allow-Origin", origin),
                        ("Access-Control-Allow-Methods", ALLOW_METHODS),
                        ("Access-Control-Allow-Headers", ALLOW_HEADERS),
                        ("Access-Control-Max-Age", MAX_AGE)]
        self.send_response(204)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def forward(self):
        url = urllib.parse.urlsplit(self.path)
        if (self.command == "OPTIONS" and self.headers.get("Origin")
                and self.headers.get("Access-Control-Request-Method")):
            return self.preflight()
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
            for name, value in self.cors_headers():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            return
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP and not name.lower().startswith("access-control-"):
                self.send_header(name, value)
        for name, value in self.cors_headers():
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

"""The local stack's photo host: an https server for the photos a post names, as the
app's verified media domain would serve them (tests put the files; the API reads their
first bytes before a post; the TikTok fake's pull is not involved).

    python photo_server.py <port> <directory>

It makes a certificate authority and a certificate for 127.0.0.1 and localhost signed by
it at start, writes the authority to <directory>/ca.pem (the functions trust it through
EXTRA_CA_CERTS), and serves:
- PUT /photos/<name>: stores the body (tests make the photos);
- GET /photos/<name>: the file, or with `Range: bytes=a-b` a 206 with `Content-Range`
  (as S3 and CDNs answer); `?size=<n>` answers as if the file were n bytes long (a
  large photo without storing it);
- GET /photos/redirect/<name>: a 302 to /photos/<name> (a redirect must not be followed);
- GET /_calls: the requests so far ({path, range}), to check what was read.
"""

import datetime
import ipaddress
import json
import re
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FILES = {}
CALLS = []
LOCK = threading.Lock()


def certificates(directory: Path):
    """A CA, and a server certificate for 127.0.0.1 and localhost it signed: the paths of
    the server's certificate chain and key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Local photo host CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    chain = directory / "server.pem"
    chain.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    key_path = directory / "server.key"
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return chain, key_path


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self):
        name = self.path.removeprefix("/photos/")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with LOCK:
            FILES[name] = (body, self.headers.get("Content-Type", "application/octet-stream"))
        self.reply(200)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_calls":
            with LOCK:
                body = json.dumps({"calls": CALLS}).encode()
            return self.reply(200, body, {"Content-Type": "application/json"})
        with LOCK:
            CALLS.append({"path": url.path, "range": self.headers.get("Range")})
        if url.path.startswith("/photos/redirect/"):
            return self.reply(302, headers={"Location": "/photos/" + url.path.removeprefix("/photos/redirect/")})
        with LOCK:
            found = FILES.get(url.path.removeprefix("/photos/"))
        if not found:
            return self.reply(404, b"not found")
        body, kind = found
        size = int(parse_qs(url.query).get("size", [len(body)])[0])
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if not wanted:
            return self.reply(200, body, {"Content-Type": kind})
        start = int(wanted.group(1))
        end = min(int(wanted.group(2) or size - 1), size - 1)
        part = body[start:end + 1]
        self.reply(206, part, {"Content-Type": kind,
                               "Content-Range": f"bytes {start}-{start + len(part) - 1}/{size}"})


def main():
    port, directory = int(sys.argv[1]), Path(sys.argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    chain, key = certificates(directory)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""The upload host (TikTok's open-upload-<region>.tiktokapis.com): PUT /upload/ takes a
FILE_UPLOAD's chunks in order, checked against the plan; OPTIONS answers a browser's
CORS preflight. Bodies are read in pieces and dropped."""

import json
import re
import secrets
import time
from urllib.parse import parse_qs, urlparse

from .posting_rules import MB, UPLOAD_TYPES, arrive, chunk_range
from .state import CALLS, FAULTS, LOCK, PUBLISHES, UPLOADS, log_id


PIECE = MB  # uploads are read in pieces of this size, never kept
DRAIN_LIMIT = 256 * MB  # a refused upload body up to this size is read and dropped; larger: connection closed


class UploadHost:
    """The upload host's routes (mixed into the request handler)."""

    def drain(self, length):
        """Reads `length` bytes of the request body in pieces, keeping none: the bytes read."""
        got = 0
        while got < length:
            piece = self.rfile.read(min(PIECE, length - got))
            if not piece:
                break
            got += len(piece)
        return got

    def upload_answer(self, status, error=None, close=False):
        headers = {"Access-Control-Allow-Origin": "*"}
        if close:
            headers["Connection"] = "close"
        self.send(status, b"" if error is None else json.dumps({"error": error}).encode(), headers)

    def upload(self):
        """A chunk of a FILE_UPLOAD video, sent to the upload URL (no bearer: the URL is the
        capability)."""
        url = urlparse(self.path)
        if url.path != "/upload/" or not self.server.uploads:  # the body is left unread: the connection closes
            return self.send(404, {"data": {}, "error": {"code": "invalid_params", "message": "Unknown path",
                                                         "log_id": log_id()}}, {"Connection": "close"})
        query = parse_qs(url.query)
        upload_id = query.get("upload_id", [""])[0]
        upload_token = query.get("upload_token", [""])[0]
        content_range = self.headers.get("Content-Range", "")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        with LOCK:
            record = PUBLISHES.get(UPLOADS.get(upload_id))
            if record is not None and not secrets.compare_digest(record["upload_token"], upload_token):
                record = None
            open_id = record["open_id"] if record else None
            CALLS.append({"endpoint": "upload", "open_id": open_id, "range": content_range})
            scripted = bool(open_id and FAULTS.get((open_id, "upload")))
        if length < 0 or self.headers.get("Transfer-Encoding"):
            return self.upload_answer(400, "Content-Length is missing or invalid.", close=True)
        if scripted:
            if length > DRAIN_LIMIT or self.drain(length) != length:
                self.close_connection = True
            if self.fault(open_id, "upload"):
                return
            return self.upload_answer(409, "Another request took the scripted fault this body was read for.")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        with LOCK:
            chunk, refusal = None, None
            if record is None or record["upload_expires_at"] <= time.time():
                refusal = (404, "The upload URL is unknown or expired.")
            elif content_type not in UPLOAD_TYPES:
                refusal = (400, "Content-Type must be video/mp4, video/quicktime or video/webm.")
            elif record["status"] != "PROCESSING_UPLOAD" or record["next_chunk"] >= record["plan"]["total_chunk_count"]:
                refusal = (400, "The publish awaits no upload (status " + record["status"] + ").")
            elif match is None:
                refusal = (400, "Content-Range must read bytes FIRST-LAST/TOTAL.")
            else:
                chunk = record["next_chunk"]
                first, last = chunk_range(record["plan"], chunk)
                if tuple(int(g) for g in match.groups()) != (first, last, record["plan"]["video_size"]):
                    refusal = (416, f"Expected chunk {chunk}: bytes {first}-{last}/{record['plan']['video_size']}.")
                elif length != last - first + 1:
                    refusal = (400, f"Content-Length must be {last - first + 1}, the chunk's size.")
        if refusal:
            if length > DRAIN_LIMIT or self.drain(length) != length:
                return self.upload_answer(refusal[0], refusal[1], close=True)
            return self.upload_answer(*refusal)
        if self.drain(length) != length:
            return self.upload_answer(400, "The body is shorter than Content-Length.", close=True)
        with LOCK:
            if record["next_chunk"] != chunk or record["status"] != "PROCESSING_UPLOAD":
                refusal = (416, f"Chunk {chunk} was received meanwhile.")
            else:
                record["next_chunk"] += 1
                record["uploaded_bytes"] += length
                done = record["next_chunk"] == record["plan"]["total_chunk_count"]
                if done:
                    arrive(record)
        if refusal:
            return self.upload_answer(*refusal)
        self.upload_answer(201 if done else 206)

    def upload_preflight(self):
        """A browser's CORS preflight before it PUTs a chunk to the upload URL."""
        if urlparse(self.path).path != "/upload/" or not self.server.uploads:
            return self.envelope_error(404, "invalid_params", "Unknown path")
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "PUT")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Content-Range")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

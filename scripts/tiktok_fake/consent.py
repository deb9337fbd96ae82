"""TikTok's consent page and the authorize request's rules: registered redirect URIs, the
PKCE challenge as TikTok compares it, and the code a consent grants."""

import base64
import hashlib
import html
import os
import secrets
import time
from urllib.parse import urlencode, urlparse

from .accounts import new_account
from .state import ACCOUNTS, CODES, CODE_TTL, ISSUED, SETTINGS, new_open_id


# The app's registered redirect URIs (TIKTOK_FAKE_REDIRECT_URIS, comma-separated; the
# local stack passes its TIKTOK_REDIRECT_URIS). Empty: any http(s) URI (standalone use).
REDIRECT_URIS = {u.strip() for u in os.environ.get("TIKTOK_FAKE_REDIRECT_URIS", "").split(",") if u.strip()}

# How TikTok compares the S256 challenge: the lowercase hex of SHA-256(verifier) (its Login
# Kit guide; integrations report a base64url challenge, as RFC 7636 writes it, refused at
# the exchange). TIKTOK_FAKE_PKCE_ENCODING=base64url, or "pkce_encoding" on /_fake/consent
# for one authorization, plays a TikTok that follows the RFC.
PKCE_ENCODINGS = ("hex", "base64url")
PKCE_ENCODING = os.environ.get("TIKTOK_FAKE_PKCE_ENCODING", "hex")


def s256(verifier, encoding):
    """The S256 challenge of a verifier, in `encoding` (hex or base64url)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return digest.hex()


SCOPE_TEXT = {  # what the consent page says each scope lets the app do
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (username, bio, profile link, verification)",
    "user.info.stats": "Read your statistics (followers, following, likes, video count)",
    "video.list": "Read your public videos",
    "video.publish": "Post content directly to your TikTok account",
    "video.upload": "Upload content to your TikTok inbox as drafts",
}


def authorize_problem(q):
    """What makes an authorize request's parameters unusable, or None."""
    if q.get("client_key") != SETTINGS.client_key:
        return "client_key is not this app's"
    if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
            or not q.get("code_challenge") or not q.get("redirect_uri") or not q.get("state"):
        return "authorize URL lacks response_type=code, S256 PKCE, redirect_uri or state"
    # As TikTok: only a redirect URI registered for the app, exactly (no fragment).
    if REDIRECT_URIS and q["redirect_uri"] not in REDIRECT_URIS:
        return "redirect_uri is not registered for this app"
    if "#" in q["redirect_uri"]:
        return "redirect_uri must not have a fragment"
    return None


def with_query(uri, params):
    """`uri` with `params` added to its query, each value URL-encoded."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def grant_consent(q, p):
    """The user consents on TikTok's page to the authorize request `q` (its parameters) as
    the account `p["open_id"]` (made with `p`'s settings if new, see new_account): (None,
    {code, open_id, redirect}) with the code TikTok would put on the redirect, or (problem,
    None). Called with LOCK held."""
    problem = authorize_problem(q)
    if problem:
        return problem, None
    encoding = p.get("pkce_encoding") or PKCE_ENCODING
    if encoding not in PKCE_ENCODINGS:
        return "pkce_encoding must be hex or base64url", None
    open_id = p.get("open_id") or new_open_id()
    if open_id not in ACCOUNTS:
        ACCOUNTS[open_id] = new_account(open_id, p)
        ACCOUNTS[open_id]["refresh_token"] = None
        ACCOUNTS[open_id]["refresh_expires_at"] = 0
    code = "code." + secrets.token_urlsafe(24)
    CODES[code] = {"client_key": q["client_key"], "redirect_uri": q["redirect_uri"],
                   "challenge": q["code_challenge"], "pkce_encoding": encoding,
                   "scope": q.get("scope", "user.info.basic"),
                   "open_id": open_id, "expires_at": time.time() + CODE_TTL, "used": False}
    ISSUED.append(code)
    redirect = with_query(q["redirect_uri"], {"code": code, "scopes": q.get("scope", ""), "state": q["state"]})
    return None, {"code": code, "open_id": open_id, "redirect": redirect}


def page_problem(q):
    """authorize_problem, plus what a browser must not be sent to: a redirect URI that is
    not an absolute http(s) URL, or has spaces or control characters."""
    problem = authorize_problem(q)
    if problem:
        return problem
    uri = q["redirect_uri"]
    if urlparse(uri).scheme not in ("http", "https") or not urlparse(uri).netloc \
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in uri):
        return "redirect_uri is not an absolute http(s) URL"
    return None


PAGE_STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; background: #f1f1f2; color: #161823; margin: 0; }
main { max-width: 26rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 1.5rem 2rem;
       box-shadow: 0 2px 12px rgba(0, 0, 0, .08); }
h1 { font-size: 1.3rem; margin: 0 0 .75rem; }
.logo { font-weight: 800; letter-spacing: -.02em; } .logo span { color: #fe2c55; }
ul { padding-left: 1.2rem; } li small { color: #666; display: block; }
label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
input[type=text] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
                   border: 1px solid #ccc; border-radius: 6px; }
.buttons { display: flex; gap: .75rem; margin-top: 1.25rem; }
button { flex: 1; padding: .6rem; font: inherit; font-weight: 600; border-radius: 6px; cursor: pointer;
         border: 1px solid #ccc; background: #fff; }
button#authorize { background: #fe2c55; border-color: #fe2c55; color: #fff; }
.note { color: #666; font-size: .85rem; word-break: break-all; } .error { color: #b00020; }
"""


def page(title, body):
    """A whole HTML page (`title` is escaped here; `body` must be escaped already)."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"  # no favicon request (a 404 in the browser's console)
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
            f"<body><main><p class=\"logo\">Tik<span>Tok</span> (fake)</p>\n{body}\n</main></body></html>\n")


def consent_page(q):
    """TikTok's consent screen for the authorize request `q`."""
    e = html.escape
    scopes = [s.strip() for s in q.get("scope", "").split(",") if s.strip()]
    items = "".join(f"<li><code>{e(s)}</code><small>{e(SCOPE_TEXT.get(s, 'Unknown scope'))}</small></li>"
                    for s in scopes) or "<li>No scope requested</li>"
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">\n' for k, v in q.items()
                     if k not in ("display_name", "action"))
    heading = f"<h1>{e(q['client_key'])} would like to access your TikTok account</h1>"
    return page("Authorize " + q["client_key"], f"""{heading}
<p>It asks to:</p>
<ul id="scopes">{items}</ul>
<form method="post" action="/v2/auth/authorize/">
{hidden}<label for="display_name">Display name</label>
<input type="text" id="display_name" name="display_name" value="Local Creator" maxlength="100" autocomplete="off">
<div class="buttons">
<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
<button type="submit" id="authorize" name="action" value="authorize">Authorize</button>
</div>
</form>
<p class="note">You will be sent back to {e(q["redirect_uri"])}</p>""")


def error_page(problem):
    return page("Authorization error", f'<h1 class="error">This authorization request is invalid</h1>\n'
                                       f'<p id="problem">{html.escape(problem)}</p>')

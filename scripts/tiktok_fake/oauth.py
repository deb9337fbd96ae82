"""TikTok's OAuth endpoints: /v2/oauth/token/ (refresh and authorization-code grants)
and /v2/oauth/revoke/, and the consent page's form."""

import secrets
import time

from .accounts import issue_tokens, retire_refresh
from .consent import error_page, grant_consent, page_problem, s256, with_query
from .state import ACCESS, ACCOUNTS, CALLS, CODES, LOCK, REFRESH, RETIRED


class OAuthApi:
    """The OAuth routes (mixed into the request handler)."""

    def token(self, form):
        if form.get("grant_type") == "authorization_code":
            return self.code_grant(form)
        if form.get("grant_type") != "refresh_token":
            return self.oauth_error(400, "unsupported_grant_type", "Unsupported grant type.")
        refresh = form.get("refresh_token", "")
        with LOCK:
            open_id = REFRESH.get(refresh) or RETIRED.get(refresh)
            CALLS.append({"endpoint": "token", "open_id": open_id})
        if open_id and self.fault(open_id, "token"):
            return
        with LOCK:
            account = ACCOUNTS.get(open_id) if open_id else None
            if account is None or account["refresh_expires_at"] <= time.time() or REFRESH.get(refresh) != open_id:
                grant = None
            else:
                grant = issue_tokens(account)
        if grant is None:
            return self.oauth_refusal(open_id, "invalid_grant", "Refresh token is invalid or expired.")
        self.send(200, grant)

    def consent_form(self, form):
        """The consent page's form: the authorize request's parameters, display_name and
        action (authorize or cancel). Either way back to the redirect URI, as TikTok does."""
        q = {k: v for k, v in form.items() if k not in ("display_name", "action")}
        problem = page_problem(q)
        if problem is None and form.get("action") not in ("authorize", "cancel"):
            problem = "action must be authorize or cancel"
        if problem:
            return self.send_html(400, error_page(problem))
        if form["action"] == "cancel":
            return self.redirect(with_query(q["redirect_uri"], {
                "error": "access_denied", "error_description": "The user denied the authorization request.",
                "state": q["state"]}))
        name = " ".join(form.get("display_name", "").split())[:100]
        with LOCK:
            problem, answer = grant_consent(q, {"profile": {"display_name": name}} if name else {})
            CALLS.append({"endpoint": "consent_page", "open_id": answer and answer["open_id"]})
        if problem:
            return self.send_html(400, error_page(problem))
        self.redirect(answer["redirect"])

    def code_grant(self, form):
        code = form.get("code", "")
        with LOCK:
            entry = CODES.get(code)
            open_id = entry["open_id"] if entry else None
            verifier_ok = bool(entry) and secrets.compare_digest(
                entry["challenge"].encode(), s256(form.get("code_verifier", ""), entry["pkce_encoding"]).encode())
            CALLS.append({"endpoint": "token_code", "open_id": open_id, "verifier_ok": verifier_ok,
                          "redirect_uri": form.get("redirect_uri")})
            if entry is None or entry["used"] or entry["expires_at"] <= time.time() \
                    or entry["client_key"] != form.get("client_key") \
                    or entry["redirect_uri"] != form.get("redirect_uri"):
                grant = "invalid_grant"
            elif not verifier_ok:
                grant = "invalid_verifier"
            else:
                entry["used"] = True
                account = ACCOUNTS[open_id]
                account["scope"] = entry["scope"]
                grant = issue_tokens(account)
        if grant == "invalid_grant":
            return self.oauth_refusal(open_id, "invalid_grant", "Authorization code is expired or invalid.")
        if grant == "invalid_verifier":
            return self.oauth_refusal(open_id, "invalid_request", "Code verifier or code challenge is invalid.")
        self.send(200, grant)

    def revoke(self, form):
        token = form.get("token", "")
        with LOCK:
            entry = ACCESS.get(token)
            open_id = entry[0] if entry else None
            CALLS.append({"endpoint": "revoke", "open_id": open_id, "token": token})
        if open_id and self.fault(open_id, "revoke"):
            return
        if open_id is None or entry[1] <= time.time():
            return self.oauth_refusal(open_id, "invalid_request", "Access token is invalid.")
        with LOCK:
            for t in [t for t, (oid, _) in ACCESS.items() if oid == open_id]:
                del ACCESS[t]
            retire_refresh(open_id)
        self.send(200, {})

#!/usr/bin/env python3
"""A TikTok API v2 fake for the local stack (TikTok has no emulator), one module per API
area: consent and oauth (the consent page, tokens, PKCE), display (user info, videos),
posting_rules and posting (the Content Posting API), uploads (the upload host), webhooks
(the sender of TikTok's signed events), control (/_fake/), state and accounts (what they
share), server (the handler and the process).

Behaves as the real TikTok answers: recorded live answers first (tests/fixtures/tiktok/
holds each shape, which /_fake/faults can serve as {"fixture": name}), then TikTok's
documents, and says where it assumes (OAuth errors at 400, 401 for invalid_client,
unless the account was made with "oauth_error_status": 200, as TikTok also answers
them; revoke errors are undocumented: invalid_request for an unknown or expired token is
an assumption; refresh tokens always rotate, per the newer pages). As TikTok's: open_ids
like -000sr6ziSORMWi9D4IFqm6ADJtH4KS3gO6e, union_ids UUIDs, tokens act.<...>!5096.va /
rft.<...>!5132.va, error bodies without "data", no Retry-After on 429:
- GET /v2/user/info/?fields=...  with `Authorization: Bearer <access token>`; answers the
  envelope {"data": {"user": {...}}, "error": {"code", "message", "log_id"}}; error codes
  and statuses: access_token_invalid 401, scope_not_authorized 401 (no user.info.basic),
  scope_permission_missed 400 (fields outside the grant, as recorded), invalid_params
  400, rate_limit_exceeded 429, internal_error 500.
- POST /v2/oauth/token/ (form: client_key, client_secret, grant_type=refresh_token,
  refresh_token): rotates the refresh token; the previous one stops working at once.
  Errors: {"error", "error_description", "log_id"} (invalid_grant, invalid_client, ...).
- POST /v2/oauth/revoke/ (form: client_key, client_secret, token): ends the grant.
- POST /v2/video/list/?fields=... (JSON {cursor, max_count}; scope video.list): the
  account's videos newest first; `cursor` is a Unix timestamp in milliseconds (videos
  posted before it; not a non-negative integer: invalid_params), `max_count` an integer
  1-20 (default 10; else, a boolean too, invalid_params), `has_more`; an empty page
  answers cursor 0. Ids are strings, or numbers for videos made with id_type "number".
- POST /v2/video/query/?fields=... (JSON {filters: {video_ids}}, at most 20): those
  videos, cover URLs renewed (a removed video is left out of the answer, as TikTok leaves
  out ids it does not answer for).
- The Display API's rate limit: 600 requests a minute per endpoint (user/info,
  video/list, video/query), app-wide, a sliding window; over it, 429 rate_limit_exceeded
  without Retry-After (/_fake/display_rpm {rpm} changes the limit: the benchmark's load
  is not TikTok's). Every call's time is in /_fake/calls (`at`, Unix seconds).
- The consent page: GET /v2/auth/authorize/?client_key&response_type=code&scope
  &redirect_uri&state&code_challenge&code_challenge_method=S256 answers an HTML page (no
  external assets) with the requested scopes, a "Display name" input (id display_name)
  and the buttons Authorize (id authorize) and Cancel (id cancel); its form POSTs
  (x-www-form-urlencoded) to /v2/auth/authorize/ with the query in hidden fields.
  Authorize makes a new account with that display name and a code, then 302 to
  redirect_uri?code&scopes&state; Cancel: 302 to redirect_uri?error=access_denied
  &error_description&state (TikTok's callback parameters). A wrong client_key, no S256
  challenge, or a missing or non-http(s) redirect_uri or state: a 400 HTML page, never
  a redirect.
- The authorization-code grant with PKCE: POST /v2/oauth/token/ with
  grant_type=authorization_code, code, redirect_uri, code_verifier. Codes come from the
  user's consent (the page above, or the control call /_fake/consent, given the authorize
  URL's parameters, which answers {code, open_id, redirect} as JSON and 400 {error} where
  the page would); each is bound to the client key, the redirect URI and the S256 challenge
  (compared as TikTok does, the lowercase hex of SHA-256(verifier); base64url as RFC 7636
  writes it only for a consent with "pkce_encoding": "base64url", or with
  TIKTOK_FAKE_PKCE_ENCODING=base64url), used once, and expires after 10 minutes. A used,
  unknown or expired code, or another redirect URI: invalid_grant; a verifier that does
  not match the challenge: invalid_request "Code verifier or code challenge is invalid."
  (as seen from TikTok).
- The Content Posting API (bearer token, JSON bodies, the envelope; fault and CALLS names
  creator_info, video_init, inbox_init, content_init, status_fetch, upload):
  POST /v2/post/publish/creator_info/query/ (video.publish; 20 a minute per token): the
  account's posting settings ("creator" on /_fake/accounts, /_fake/consent or
  /_fake/creator: privacy_level_options, comment/duet/stitch_disabled,
  max_video_post_duration_sec, private_account, app_unaudited, max_posts_per_day; the last
  three per account, not app-wide, so parallel tests do not meet).
  POST /v2/post/publish/video/init/ (direct post, video.publish), .../inbox/video/init/
  (video.upload) and .../content/init/ (photos: DIRECT_POST needs video.publish,
  MEDIA_UPLOAD video.upload): 6 a minute per token, counted together; over a limit: 429
  rate_limit_exceeded, without Retry-After (as TikTok: a one-minute sliding window).
  source_info FILE_UPLOAD follows the media transfer guide's chunk rules (MB = 1024*1024,
  an assumption) else invalid_params; PULL_FROM_URL video_url and photo
  URLs must start with a verified prefix (/_fake/verified_prefixes adds some) else 403
  url_ownership_unverified. Direct posts are checked in this order: the body's shape
  (invalid_params), privacy_level among the options (403 privacy_level_option_mismatch,
  as recorded; unset options are TikTok's: a public account gets no FOLLOWER_OF_CREATOR,
  a private one no PUBLIC_TO_EVERYONE),
  unaudited app and public account (403 unaudited_client_can_only_post_to_private_accounts),
  max_posts_per_day direct inits in 24 h (403 spam_risk_too_many_posts); inbox shares: 5
  pending ones (not PUBLISH_COMPLETE or FAILED) in 24 h (403
  spam_risk_too_many_pending_share); then the URL prefix. The 403 statuses, and checking the
  URL prefix last, are assumptions; reached_active_user_cap and
  spam_risk_user_banned_from_posting are left to scripted faults. The answer: publish_id
  in TikTok's formats (v_pub_file~v2-1.<n>, v_inbox_file~v2.<n>, v_pub_url~v2-1.<n>,
  p_pub_url~v2.<n>), and for FILE_UPLOAD an upload_url valid for an hour on another host
  than the API (as TikTok's open-upload-<region>.tiktokapis.com): a second listener,
  localhost:<TIKTOK_FAKE_UPLOAD_PORT or a free port>, which serves only the uploads.
  PUT /upload/?upload_id&upload_token (no bearer): one chunk of the declared plan, in
  order: Content-Type video/mp4, video/quicktime or video/webm, Content-Range bytes
  FIRST-LAST/TOTAL exactly the next chunk (else 416, an assumption), Content-Length its
  size; other problems 400, an unknown or expired URL 404 (small JSON bodies; the body is
  read in pieces and dropped). 206 while chunks remain, 201 after the last, which publishes
  a direct post (PUBLISH_COMPLETE) or sends a share to the inbox (SEND_TO_USER_INBOX).
  OPTIONS /upload/ answers a browser's CORS preflight. PULL_FROM_URL and photo publishes
  start PROCESSING_DOWNLOAD and are downloaded by the first status fetch (which answers
  the new state; downloaded_bytes a made-up size: an assumption). A public
  (PUBLIC_TO_EVERYONE) direct post gets one post id (an int64 number, as documented).
  POST /v2/post/publish/status/fetch/ {publish_id} (video.publish or video.upload; 30 a
  minute per token): status and only the keys that apply (as recorded): fail_reason
  (when FAILED; "internal" unless set, an assumption), publicaly_available_post_id
  (TikTok's spelling; when there are ids), uploaded_bytes (uploads) or downloaded_bytes;
  an unknown publish_id: 400 invalid_publish_id; another account's: 400
  token_not_authorized_for_specified_publish_id.

Test control under /_fake/ (JSON): create accounts, expire tokens, script faults per
account and endpoint, read the calls each account received; set an account's posting
settings (/_fake/creator), add videos (/_fake/videos {open_id, count?, newest?, omit?,
null?}: `omit` and `null` list the fields TikTok gives none of, absent or null), change
a video's counts or remove it (/_fake/video_stats {open_id, video_id, view_count?,
like_count?, comment_count?, share_count?, deleted?}), add
verified URL prefixes, set a publish's state
(/_fake/publish {publish_id, status?, fail_reason?, post_ids?}) and read it (GET
/_fake/publishes/<publish_id>); deliver TikTok's webhooks to the app (webhooks.py:
/_fake/webhooks/target, /_fake/webhooks/send, GET /_fake/webhooks).
Standard library only. Usage: python3 scripts/tiktok_fake PORT CLIENT_KEY CLIENT_SECRET (and
TIKTOK_FAKE_REDIRECT_URIS in the environment: the redirect URIs registered for the app)
"""

//! Every `code` the API answers with: the one list the frontend, the OpenAPI spec and
//! the tests read.

pub const INVALID_JSON: &str = "invalid_json";
pub const INVALID_REQUEST: &str = "invalid_request";
pub const EMAIL_REQUIRED: &str = "email_required";
pub const OPEN_ID_REQUIRED: &str = "open_id_required";
pub const ACCESS_TOKEN_REQUIRED: &str = "access_token_required";
pub const UNSUPPORTED_PROVIDER: &str = "unsupported_provider";
pub const UNAUTHORIZED: &str = "unauthorized";
pub const TIKTOK_TOKEN_INVALID: &str = "tiktok_token_invalid";
pub const TIKTOK_ACCOUNT_MISMATCH: &str = "tiktok_account_mismatch";
pub const TIKTOK_NOT_CONNECTED: &str = "tiktok_not_connected";
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
pub const ACCOUNT_EXISTS: &str = "account_exists";
pub const TIKTOK_ACCOUNT_IN_USE: &str = "tiktok_account_in_use";
pub const TIKTOK_REAUTH_REQUIRED: &str = "tiktok_reauth_required";
pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
pub const TIKTOK_RATE_LIMITED: &str = "tiktok_rate_limited";
pub const TIKTOK_UNAVAILABLE: &str = "tiktok_unavailable";
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
pub const IDENTITY_UNAVAILABLE: &str = "identity_unavailable";
pub const INTERNAL_ERROR: &str = "internal_error";
pub const TIKTOK_SIGN_IN_NOT_ENABLED: &str = "tiktok_sign_in_not_enabled";
pub const TIKTOK_ACCOUNT_DISCONNECTED: &str = "tiktok_account_disconnected";
pub const LAST_SIGN_IN_METHOD: &str = "last_sign_in_method";
pub const TOO_MANY_CONNECTIONS: &str = "too_many_connections";
pub const INVALID_REDIRECT_URI: &str = "invalid_redirect_uri";
pub const INVALID_STATE: &str = "invalid_state";
pub const INVALID_CODE: &str = "invalid_code";
pub const STATE_MISMATCH: &str = "state_mismatch";
pub const INVALID_SIGNATURE: &str = "invalid_signature";
pub const TIKTOK_SCOPE_MISSING: &str = "tiktok_scope_missing";
pub const INVALID_PRIVACY_LEVEL: &str = "invalid_privacy_level";
pub const TIKTOK_POST_LIMIT: &str = "tiktok_post_limit";
pub const TIKTOK_POSTING_BLOCKED: &str = "tiktok_posting_blocked";
pub const TIKTOK_APP_UNAUDITED: &str = "tiktok_app_unaudited";
pub const VIDEO_URL_NOT_VERIFIED: &str = "video_url_not_verified";
pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency_key_reused";
pub const IDEMPOTENCY_KEY_IN_PROGRESS: &str = "idempotency_key_in_progress";
pub const POST_NOT_FOUND: &str = "post_not_found";
pub const POST_NOT_EDITABLE: &str = "post_not_editable";
pub const MEDIA_NOT_FOUND: &str = "media_not_found";
pub const MEDIA_NOT_READY: &str = "media_not_ready";
pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";
pub const TOO_MANY_PENDING_AUTHORIZATIONS: &str = "too_many_pending_authorizations";
pub const IDEMPOTENCY_OUTCOME_UNKNOWN: &str = "idempotency_outcome_unknown";
pub const TOKEN_SIGN_IN_DISABLED: &str = "token_sign_in_disabled";
pub const ROUTE_NOT_FOUND: &str = "route_not_found";
/// Pre-flight: what TikTok would refuse about a post's video, known before it is sent.
pub const MEDIA_UNREADABLE: &str = "media_unreadable";
pub const VIDEO_TOO_LONG: &str = "video_too_long";
pub const VIDEO_TOO_SHORT: &str = "video_too_short";
pub const VIDEO_FRAME_RATE: &str = "video_frame_rate";
pub const VIDEO_RESOLUTION: &str = "video_resolution";
pub const VIDEO_FORMAT: &str = "video_format";
pub const PHOTO_FORMAT: &str = "photo_format";
pub const PHOTO_TOO_LARGE: &str = "photo_too_large";
pub const VIDEO_NOT_FOUND: &str = "video_not_found";
/// 429 answered by AWS before any function runs (template.yaml): one client address over
/// its WAF limit, or the stage over its throttle. No function answers it.
pub const RATE_LIMITED: &str = "rate_limited";

/// All of them, in the order of the contract's error table.
pub const ALL: [&str; 56] = [
    INVALID_JSON,
    INVALID_REQUEST,
    EMAIL_REQUIRED,
    OPEN_ID_REQUIRED,
    ACCESS_TOKEN_REQUIRED,
    UNSUPPORTED_PROVIDER,
    UNAUTHORIZED,
    TIKTOK_TOKEN_INVALID,
    TIKTOK_ACCOUNT_MISMATCH,
    TIKTOK_NOT_CONNECTED,
    METHOD_NOT_ALLOWED,
    ACCOUNT_EXISTS,
    TIKTOK_ACCOUNT_IN_USE,
    TIKTOK_REAUTH_REQUIRED,
    PAYLOAD_TOO_LARGE,
    TIKTOK_RATE_LIMITED,
    TIKTOK_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    IDENTITY_UNAVAILABLE,
    INTERNAL_ERROR,
    TIKTOK_SIGN_IN_NOT_ENABLED,
    TIKTOK_ACCOUNT_DISCONNECTED,
    LAST_SIGN_IN_METHOD,
    TOO_MANY_CONNECTIONS,
    INVALID_REDIRECT_URI,
    INVALID_STATE,
    INVALID_CODE,
    STATE_MISMATCH,
    INVALID_SIGNATURE,
    TIKTOK_SCOPE_MISSING,
    INVALID_PRIVACY_LEVEL,
    TIKTOK_POST_LIMIT,
    TIKTOK_POSTING_BLOCKED,
    TIKTOK_APP_UNAUDITED,
    VIDEO_URL_NOT_VERIFIED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_KEY_IN_PROGRESS,
    POST_NOT_FOUND,
    POST_NOT_EDITABLE,
    MEDIA_NOT_FOUND,
    MEDIA_NOT_READY,
    STORAGE_UNAVAILABLE,
    TOO_MANY_PENDING_AUTHORIZATIONS,
    IDEMPOTENCY_OUTCOME_UNKNOWN,
    TOKEN_SIGN_IN_DISABLED,
    ROUTE_NOT_FOUND,
    RATE_LIMITED,
    MEDIA_UNREADABLE,
    VIDEO_TOO_LONG,
    VIDEO_TOO_SHORT,
    VIDEO_FRAME_RATE,
    VIDEO_RESOLUTION,
    VIDEO_FORMAT,
    PHOTO_FORMAT,
    PHOTO_TOO_LARGE,
    VIDEO_NOT_FOUND,
];

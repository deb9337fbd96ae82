//! The public failures of every endpoint, as the contract's error table lists them, and
//! every conversion into them: endpoints use `?` on store, TikTok, Firebase and token
//! access errors, and the internal cause is logged here, once. An `ApiError` carries
//! only what the client may see.

use lambda_http::http::StatusCode;

use crate::access::AccessError;
use crate::firebase::{AdminError, AuthError};
use crate::store::StoreError;
use crate::tiktok::TikTokError;

pub mod code;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// A 400 with an endpoint-specific code (`email_required`, `unsupported_provider`, ...).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("Authentication required")]
    Unauthorized,
    /// A webhook delivery whose `TikTok-Signature` does not verify.
    #[error("The webhook signature does not verify")]
    InvalidSignature,
    #[error("{detail}")]
    TikTokCredentials { code: &'static str, detail: String },
    /// A 403 with its own code (`state_mismatch`).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("No TikTok account connected")]
    TikTokNotConnected,
    /// A 404 with its own code (`post_not_found`, `route_not_found`).
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// A 429 of ours or one that waiting a minute does not end (TikTok's daily posting
    /// caps), with the seconds to wait.
    #[error("{detail}")]
    Limited {
        code: &'static str,
        detail: String,
        retry_after: u64,
    },
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("TikTok authorization expired; reconnect the TikTok account")]
    TikTokReauthRequired,
    #[error("The request, or the metadata it would store, is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("TikTok rate limit reached; try again later")]
    TikTokRateLimited { retry_after: Option<u64> },
    #[error("TikTok is unavailable; try again later")]
    TikTokUnavailable,
    #[error("The database is unavailable; try again")]
    DatabaseUnavailable,
    #[error("The identity service is unavailable; try again")]
    IdentityUnavailable,
    #[error("Media storage is unavailable; try again")]
    StorageUnavailable,
    #[error("Internal error")]
    Internal,
}

/// TikTok's rate limits count requests in a sliding minute.
pub const TIKTOK_RATE_WINDOW_SECS: u64 = 60;
/// What a 429 for one of TikTok's daily caps asks the client to wait: the cap moves as
/// its 24-hour window does.
pub const DAILY_CAP_RETRY_SECS: u64 = 3600;
/// What `too_many_pending_authorizations` asks the client to wait: a state's lifetime.
pub const PENDING_AUTHORIZATION_RETRY_SECS: u64 = 600;

impl ApiError {
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        ApiError::InvalidRequest(detail.into())
    }

    /// A 400 with its own code (`email_required`, `unsupported_provider`, ...).
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 409 with its own code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// One of the contract's 409s ([`CONFLICTS`]), by its code.
    pub fn known_conflict(code: &'static str) -> Self {
        let detail = CONFLICTS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("Conflict", |(_, detail)| detail);
        Self::conflict(code, detail)
    }

    pub fn account_exists() -> Self {
        Self::known_conflict(code::ACCOUNT_EXISTS)
    }

    pub fn email_required() -> Self {
        Self::bad_request(
            code::EMAIL_REQUIRED,
            "Email is required for TikTok authentication",
        )
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::InvalidRequest(_)
            | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized
            | ApiError::InvalidSignature
            | ApiError::TikTokCredentials { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::TikTokNotConnected | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::TikTokReauthRequired => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TikTokRateLimited { .. } | ApiError::Limited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::TikTokUnavailable => StatusCode::BAD_GATEWAY,
            ApiError::DatabaseUnavailable
            | ApiError::IdentityUnavailable
            | ApiError::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code the frontend switches on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => code::INVALID_JSON,
            ApiError::InvalidRequest(_) => code::INVALID_REQUEST,
            ApiError::BadRequest { code, .. }
            | ApiError::TikTokCredentials { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Limited { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized => code::UNAUTHORIZED,
            ApiError::InvalidSignature => code::INVALID_SIGNATURE,
            ApiError::TikTokNotConnected => code::TIKTOK_NOT_CONNECTED,
            ApiError::MethodNotAllowed => code::METHOD_NOT_ALLOWED,
            ApiError::TikTokReauthRequired => code::TIKTOK_REAUTH_REQUIRED,
            ApiError::PayloadTooLarge => code::PAYLOAD_TOO_LARGE,
            ApiError::TikTokRateLimited { .. } => code::TIKTOK_RATE_LIMITED,
            ApiError::TikTokUnavailable => code::TIKTOK_UNAVAILABLE,
            ApiError::DatabaseUnavailable => code::DATABASE_UNAVAILABLE,
            ApiError::IdentityUnavailable => code::IDENTITY_UNAVAILABLE,
            ApiError::StorageUnavailable => code::STORAGE_UNAVAILABLE,
            ApiError::Internal => code::INTERNAL_ERROR,
        }
    }

    /// Extra headers the contract asks for with this error.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized => vec![("www-authenticate", "Bearer".to_owned())],
            // TikTok's own Retry-After when it sent one; it documents none, only a
            // one-minute sliding window: a minute.
            ApiError::TikTokRateLimited { retry_after } => {
                let secs = retry_after.unwrap_or(TIKTOK_RATE_WINDOW_SECS);
                vec![("retry-after", secs.to_string())]
            }
            ApiError::Limited { retry_after, .. } => vec![("retry-after", retry_after.to_string())],
            ApiError::DatabaseUnavailable
            | ApiError::IdentityUnavailable
            | ApiError::StorageUnavailable => vec![("retry-after", "1".to_owned())],
            _ => Vec::new(),
        }
    }
}

/// A database failure as the client sees it. The SQL functions raise `PT409` with the
/// contract code as the message (`tiktok_account_in_use`, `account_exists`).
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "database unavailable");
                ApiError::DatabaseUnavailable
            }
            StoreError::Conflict { code, message } if code == "PT409" => {
                match CONFLICTS.iter().find(|(code, _)| *code == message) {
                    Some((code, detail)) => ApiError::conflict(code, *detail),
                    None => {
                        tracing::error!(message, "unknown conflict from the database");
                        ApiError::Internal
                    }
                }
            }
            StoreError::Rejected { code, .. } if code == "PT413" => ApiError::PayloadTooLarge,
            StoreError::Limited { message } if message == code::TOO_MANY_PENDING_AUTHORIZATIONS => {
                ApiError::Limited {
                    code: code::TOO_MANY_PENDING_AUTHORIZATIONS,
                    detail: "This address has 20 sign-ins in progress; finish one, or try again \
                             when they expire (10 minutes)"
                        .into(),
                    // A state lives 10 minutes: by then one has expired.
                    retry_after: PENDING_AUTHORIZATION_RETRY_SECS,
                }
            }
            other => {
                tracing::error!(error = %other, "unexpected database answer");
                ApiError::Internal
            }
        }
    }
}

/// The conflicts the SQL functions raise (`PT409` with the code as the message), and
/// what the client is told.
const CONFLICTS: [(&str, &str); 6] = [
    (
        code::ACCOUNT_EXISTS,
        "An account with this email already exists; sign in, then connect TikTok",
    ),
    (
        code::TIKTOK_ACCOUNT_IN_USE,
        "This TikTok account is connected to another user",
    ),
    (
        code::TIKTOK_SIGN_IN_NOT_ENABLED,
        "This TikTok account is not a way to sign in: sign in with your usual method, \
         then connect TikTok again to use it for sign-in",
    ),
    (
        code::TIKTOK_ACCOUNT_DISCONNECTED,
        "This TikTok account was disconnected: sign in with your usual method, then \
         connect TikTok again",
    ),
    (
        code::LAST_SIGN_IN_METHOD,
        "This TikTok account is your only way to sign in: add another sign-in method \
         before disconnecting it",
    ),
    (
        code::TOO_MANY_CONNECTIONS,
        "At most 50 accounts of one provider can be connected",
    ),
];

/// A TikTok failure while using a stored connection.
impl From<TikTokError> for ApiError {
    fn from(err: TikTokError) -> Self {
        match err {
            TikTokError::RateLimited { retry_after } => ApiError::TikTokRateLimited { retry_after },
            TikTokError::TokenInvalid | TikTokError::RefreshRejected => {
                ApiError::TikTokReauthRequired
            }
            TikTokError::CodeRejected => ApiError::bad_request(
                code::INVALID_CODE,
                "TikTok did not accept the authorization code: start again",
            ),
            TikTokError::PostRefused(refusal) => posting::refused(refusal),
            other => {
                tracing::warn!(error = %other, "TikTok call failed");
                ApiError::TikTokUnavailable
            }
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::ReauthRequired => ApiError::TikTokReauthRequired,
            AccessError::TikTok(err) => err.into(),
            AccessError::Store(err) => err.into(),
            // TikTok is slow for whoever holds the lease: try again shortly.
            AccessError::RefreshInProgress => ApiError::TikTokUnavailable,
            AccessError::Undecryptable => {
                tracing::error!("stored token does not decrypt: check ENCRYPTION_KEY");
                ApiError::Internal
            }
        }
    }
}

/// Every failure of ID-token verification is one `Unauthorized`; the reason goes to the
/// debug log.
impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid(reason) => {
                tracing::debug!(reason, "ID token refused");
                ApiError::Unauthorized
            }
            AuthError::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "Firebase signing keys unavailable");
                ApiError::IdentityUnavailable
            }
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "Firebase Auth unavailable");
                ApiError::IdentityUnavailable
            }
            other => {
                tracing::error!(error = %other, "Firebase admin misconfigured");
                ApiError::Internal
            }
        }
    }
}

mod posting;
#[cfg(test)]
mod tests;

//! The public failures of every endpoint, as the contract's error table lists them, and
//! every conversion into them: endpoints use `?` on store, TikTok, Firebase and token
//! access errors, and the internal cause is logged here, once. An `ApiError` carries
//! only what the client may see.

use lambda_http::http::StatusCode;

use crate::access::AccessError;
use crate::firebase::{AdminError, AuthError};
use crate::store::StoreError;
use crate::tiktok::TikTokError;

/// Every `code` the API answers with: the one list the frontend, the OpenAPI spec and
/// the tests read.
pub mod code {
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

    /// All of them, in the order of the contract's error table.
    pub const ALL: [&str; 20] = [
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
    ];
}

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
    #[error("{detail}")]
    TikTokCredentials { code: &'static str, detail: String },
    #[error("No TikTok account connected")]
    TikTokNotConnected,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("TikTok authorization expired; reconnect the TikTok account")]
    TikTokReauthRequired,
    #[error("Request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("TikTok rate limit reached; try again later")]
    TikTokRateLimited { retry_after: Option<u64> },
    #[error("TikTok is unavailable; try again later")]
    TikTokUnavailable,
    #[error("The database is unavailable; try again")]
    DatabaseUnavailable,
    #[error("The identity service is unavailable; try again")]
    IdentityUnavailable,
    #[error("Internal error")]
    Internal,
}

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

    pub fn account_exists() -> Self {
        Self::conflict(
            code::ACCOUNT_EXISTS,
            "An account with this email already exists; sign in, then connect TikTok",
        )
    }

    pub fn tiktok_account_in_use() -> Self {
        Self::conflict(
            code::TIKTOK_ACCOUNT_IN_USE,
            "This TikTok account is connected to another user",
        )
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
            ApiError::Unauthorized | ApiError::TikTokCredentials { .. } => StatusCode::UNAUTHORIZED,
            ApiError::TikTokNotConnected => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::TikTokReauthRequired => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TikTokRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TikTokUnavailable => StatusCode::BAD_GATEWAY,
            ApiError::DatabaseUnavailable | ApiError::IdentityUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
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
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized => code::UNAUTHORIZED,
            ApiError::TikTokNotConnected => code::TIKTOK_NOT_CONNECTED,
            ApiError::MethodNotAllowed => code::METHOD_NOT_ALLOWED,
            ApiError::TikTokReauthRequired => code::TIKTOK_REAUTH_REQUIRED,
            ApiError::PayloadTooLarge => code::PAYLOAD_TOO_LARGE,
            ApiError::TikTokRateLimited { .. } => code::TIKTOK_RATE_LIMITED,
            ApiError::TikTokUnavailable => code::TIKTOK_UNAVAILABLE,
            ApiError::DatabaseUnavailable => code::DATABASE_UNAVAILABLE,
            ApiError::IdentityUnavailable => code::IDENTITY_UNAVAILABLE,
            ApiError::Internal => code::INTERNAL_ERROR,
        }
    }

    /// Extra headers the contract asks for with this error.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized => vec![("www-authenticate", "Bearer".to_owned())],
            ApiError::TikTokRateLimited {
                retry_after: Some(secs),
            } => {
                vec![("retry-after", secs.to_string())]
            }
            ApiError::DatabaseUnavailable | ApiError::IdentityUnavailable => {
                vec![("retry-after", "1".to_owned())]
            }
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
            StoreError::Conflict { code, message } if code == "PT409" => match message.as_str() {
                code::ACCOUNT_EXISTS => ApiError::account_exists(),
                code::TIKTOK_ACCOUNT_IN_USE => ApiError::tiktok_account_in_use(),
                other => {
                    tracing::error!(message = other, "unknown conflict from the database");
                    ApiError::Internal
                }
            },
            other => {
                tracing::error!(error = %other, "unexpected database answer");
                ApiError::Internal
            }
        }
    }
}

/// A TikTok failure while using a stored connection.
impl From<TikTokError> for ApiError {
    fn from(err: TikTokError) -> Self {
        match err {
            TikTokError::RateLimited { retry_after } => ApiError::TikTokRateLimited { retry_after },
            TikTokError::TokenInvalid | TikTokError::RefreshRejected => {
                ApiError::TikTokReauthRequired
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_the_contract_table() {
        let cases = [
            (ApiError::InvalidJson("x".into()), 400, "invalid_json"),
            (ApiError::invalid_request("x"), 400, "invalid_request"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::TikTokNotConnected, 404, "tiktok_not_connected"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (
                ApiError::TikTokReauthRequired,
                409,
                "tiktok_reauth_required",
            ),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (
                ApiError::TikTokRateLimited { retry_after: None },
                429,
                "tiktok_rate_limited",
            ),
            (ApiError::TikTokUnavailable, 502, "tiktok_unavailable"),
            (ApiError::DatabaseUnavailable, 503, "database_unavailable"),
            (ApiError::IdentityUnavailable, 503, "identity_unavailable"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{err:?}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut all = code::ALL.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), code::ALL.len());
    }

    #[test]
    fn causes_convert_to_the_contract() {
        let in_use = StoreError::Conflict {
            code: "PT409".into(),
            message: code::TIKTOK_ACCOUNT_IN_USE.into(),
        };
        assert_eq!(ApiError::from(in_use).code(), code::TIKTOK_ACCOUNT_IN_USE);
        let exists = StoreError::Conflict {
            code: "PT409".into(),
            message: code::ACCOUNT_EXISTS.into(),
        };
        assert_eq!(ApiError::from(exists).code(), code::ACCOUNT_EXISTS);
        let unique = StoreError::Conflict {
            code: "23505".into(),
            message: "duplicate".into(),
        };
        assert_eq!(ApiError::from(unique), ApiError::Internal);
        assert_eq!(
            ApiError::from(StoreError::Unavailable("down".into())),
            ApiError::DatabaseUnavailable
        );
        assert_eq!(
            ApiError::from(TikTokError::RefreshRejected),
            ApiError::TikTokReauthRequired
        );
        assert_eq!(
            ApiError::from(TikTokError::ScopeNotAuthorized),
            ApiError::TikTokUnavailable
        );
        assert_eq!(
            ApiError::from(AuthError::Invalid("x")),
            ApiError::Unauthorized
        );
        assert_eq!(
            ApiError::from(AdminError::Config("x".into())),
            ApiError::Internal
        );
        assert_eq!(
            ApiError::from(AccessError::Undecryptable),
            ApiError::Internal
        );
    }

    #[test]
    fn unauthorized_and_unavailable_carry_their_headers() {
        assert_eq!(
            ApiError::Unauthorized.headers(),
            vec![("www-authenticate", "Bearer".to_owned())]
        );
        assert_eq!(
            ApiError::DatabaseUnavailable.headers(),
            vec![("retry-after", "1".to_owned())]
        );
        assert_eq!(
            ApiError::TikTokRateLimited {
                retry_after: Some(30)
            }
            .headers(),
            vec![("retry-after", "30".to_owned())]
        );
    }
}

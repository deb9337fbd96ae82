//! The public failures of every endpoint, as the contract's error table lists them.
//!
//! Internal causes are logged where they happen; an `ApiError` carries only what the
//! client may see.

use lambda_http::http::StatusCode;

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
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::BadRequest { code, .. }
            | ApiError::TikTokCredentials { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::TikTokNotConnected => "tiktok_not_connected",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::TikTokReauthRequired => "tiktok_reauth_required",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::TikTokRateLimited { .. } => "tiktok_rate_limited",
            ApiError::TikTokUnavailable => "tiktok_unavailable",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::IdentityUnavailable => "identity_unavailable",
            ApiError::Internal => "internal_error",
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

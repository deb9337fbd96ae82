//! TikTok API v2: user info and token refresh, with the response envelope and the
//! documented error codes mapped to typed errors.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::TikTokConfig;

/// Fields each scope unlocks on `/v2/user/info/`.
pub const BASIC_FIELDS: [&str; 4] = ["open_id", "union_id", "avatar_url", "display_name"];
pub const PROFILE_FIELDS: [&str; 3] = ["bio_description", "is_verified", "username"];
pub const STATS_FIELDS: [&str; 4] = [
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
];

/// The fields the granted scopes allow (comma-separated, as TikTok's token response
/// gives them). Unknown scope: all fields (the caller falls back to basic on
/// `scope_not_authorized`).
pub fn fields_for_scope(scope: Option<&str>) -> Vec<&'static str> {
    let mut fields = BASIC_FIELDS.to_vec();
    let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) else {
        fields.extend(PROFILE_FIELDS);
        fields.extend(STATS_FIELDS);
        return fields;
    };
    let granted: Vec<&str> = scope.split([',', ' ']).map(str::trim).collect();
    if granted.contains(&"user.info.profile") {
        fields.extend(PROFILE_FIELDS);
    }
    if granted.contains(&"user.info.stats") {
        fields.extend(STATS_FIELDS);
    }
    fields
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub open_id: Option<String>,
    pub union_id: Option<String>,
    pub avatar_url: Option<String>,
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub bio_description: Option<String>,
    pub is_verified: Option<bool>,
    pub follower_count: Option<u64>,
    pub following_count: Option<u64>,
    pub likes_count: Option<u64>,
    pub video_count: Option<u64>,
}

/// A refresh grant's answer. `Debug` leaves the tokens out.
#[derive(Clone, Deserialize)]
pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_expires_in: Option<i64>,
    #[serde(default)]
    pub open_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TikTokError {
    /// `access_token_invalid`: expired or revoked access token.
    #[error("access token invalid")]
    TokenInvalid,
    /// `scope_not_authorized`: a field was asked for that the granted scopes do not allow.
    #[error("scope not authorized")]
    ScopeNotAuthorized,
    /// The refresh token was refused (`invalid_grant`): expired, revoked or rotated away.
    #[error("refresh token refused")]
    RefreshRejected,
    /// HTTP 429 / `rate_limit_exceeded`.
    #[error("rate limited")]
    RateLimited { retry_after: Option<u64> },
    /// 5xx, garbage, timeout, unreachable, or an error that is ours to fix
    /// (`invalid_params`, `invalid_client`): nothing the user can do.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What the endpoints need from TikTok.
pub trait TikTokApi: Send + Sync {
    fn user_info(
        &self,
        access_token: &str,
        fields: &[&str],
    ) -> impl std::future::Future<Output = Result<UserInfo, TikTokError>> + Send;

    fn refresh(
        &self,
        refresh_token: &str,
    ) -> impl std::future::Future<Output = Result<TokenGrant, TikTokError>> + Send;

    /// Ends the app's access (`/v2/oauth/revoke/`). `Ok(false)`: TikTok says the token
    /// was already invalid, so there was nothing left to revoke.
    fn revoke(
        &self,
        access_token: &str,
    ) -> impl std::future::Future<Output = Result<bool, TikTokError>> + Send;
}

pub struct TikTokClient {
    http: reqwest::Client,
    base_url: String,
    client_key: SecretString,
    client_secret: SecretString,
}

impl TikTokClient {
    pub fn new(config: &TikTokConfig, http: reqwest::Client) -> Self {
        TikTokClient {
            http,
            base_url: config.api_base_url.clone(),
            client_key: config.client_key.clone(),
            client_secret: config.client_secret.clone(),
        }
    }
}

/// The HTTP client for TikTok and Firebase: rustls, short timeouts (a Lambda must
/// answer before API Gateway's 30 s).
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(6))
        .pool_idle_timeout(Duration::from_secs(50))
        .build()
        .map_err(|e| e.to_string())
}

fn transport_error(err: &reqwest::Error) -> TikTokError {
    TikTokError::Unavailable(if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    })
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads the `/v2/` envelope `{"data": {...}, "error": {"code", "message", "log_id"}}`.
pub fn parse_user_info(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<UserInfo, TikTokError> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        data: Option<Data>,
        error: Option<ErrorPart>,
    }
    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        user: Option<UserInfo>,
    }
    #[derive(Deserialize)]
    struct ErrorPart {
        #[serde(default)]
        code: String,
        #[serde(default)]
        log_id: Option<String>,
    }
    let parsed: Option<Envelope> = serde_json::from_slice(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|e| e.error.as_ref())
        .map(|e| e.code.as_str())
        .unwrap_or("");
    if let Some(log_id) = parsed
        .as_ref()
        .and_then(|e| e.error.as_ref())
        .and_then(|e| e.log_id.as_deref())
    {
        if code != "ok" {
            tracing::info!(
                tiktok_code = code,
                tiktok_log_id = log_id,
                status,
                "TikTok refused user info"
            );
        }
    }
    match (status, code) {
        (200..=299, "ok" | "") => parsed
            .and_then(|e| e.data)
            .and_then(|d| d.user)
            .ok_or_else(|| TikTokError::Unavailable("user info without data.user".into())),
        (429, _) | (_, "rate_limit_exceeded") => {
            Err(TikTokError::RateLimited { retry_after: retry })
        }
        (_, "access_token_invalid") => Err(TikTokError::TokenInvalid),
        (_, "scope_not_authorized") => Err(TikTokError::ScopeNotAuthorized),
        (401, _) => Err(TikTokError::TokenInvalid),
        (s, c) => Err(TikTokError::Unavailable(format!("user info {s} {c}"))),
    }
}

/// Reads a token endpoint answer: the grant, or `{error, error_description, log_id}`.
pub fn parse_token_grant(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<TokenGrant, TikTokError> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        log_id: Option<String>,
    }
    if (200..300).contains(&status) {
        if let Ok(grant) = serde_json::from_slice::<TokenGrant>(body) {
            if !grant.access_token.is_empty() && !grant.refresh_token.is_empty() {
                return Ok(grant);
            }
        }
    }
    let error = serde_json::from_slice::<OAuthError>(body).ok();
    if let Some(e) = &error {
        tracing::info!(tiktok_error = %e.error, tiktok_log_id = ?e.log_id, status, "TikTok refused the refresh");
    }
    match (status, error.as_ref().map(|e| e.error.as_str())) {
        (429, _) => Err(TikTokError::RateLimited { retry_after: retry }),
        (_, Some("invalid_grant")) => Err(TikTokError::RefreshRejected),
        (_, Some(other @ ("invalid_client" | "unauthorized_client" | "invalid_request"))) => {
            tracing::error!(
                tiktok_error = other,
                "TikTok refused the app's credentials or request"
            );
            Err(TikTokError::Unavailable(format!("token {status} {other}")))
        }
        (s, e) => Err(TikTokError::Unavailable(format!(
            "token {s} {}",
            e.unwrap_or("unreadable")
        ))),
    }
}

/// Reads a revoke answer: `{}` on success, an OAuth or envelope error otherwise.
pub fn parse_revoke(status: u16, retry: Option<u64>, body: &[u8]) -> Result<bool, TikTokError> {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let oauth_error = value
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.as_str());
    let envelope_code = value
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("code"))
        .and_then(|c| c.as_str());
    let empty = body.iter().all(u8::is_ascii_whitespace);
    match (status, oauth_error, envelope_code) {
        (429, _, _) | (_, _, Some("rate_limit_exceeded")) => {
            Err(TikTokError::RateLimited { retry_after: retry })
        }
        // TikTok documents `{}`; an empty body is taken the same way.
        (200..=299, None, None | Some("ok")) if value.is_some() || empty => Ok(true),
        (_, Some("invalid_client" | "unauthorized_client"), _) => {
            tracing::error!("TikTok refused the app's credentials on revoke");
            Err(TikTokError::Unavailable("revoke invalid_client".into()))
        }
        // The token is already dead. No status is documented for these errors, so any
        // status counts.
        (_, Some("invalid_grant" | "access_token_invalid"), _)
        | (_, _, Some("access_token_invalid")) => Ok(false),
        // What TikTok is seen to answer for an unknown token. The revoke errors are not
        // documented, so this is an assumption; it is logged to be seen.
        (_, Some("invalid_request"), _) => {
            tracing::warn!(
                status,
                "TikTok answered invalid_request to a revoke; taken as an already-invalid token"
            );
            Ok(false)
        }
        (s, e, c) => Err(TikTokError::Unavailable(format!(
            "revoke {s} {}",
            e.or(c).unwrap_or("unreadable")
        ))),
    }
}

impl TikTokApi for TikTokClient {
    async fn user_info(
        &self,
        access_token: &str,
        fields: &[&str],
    ) -> Result<UserInfo, TikTokError> {
        let response = self
            .http
            .get(format!("{}/v2/user/info/", self.base_url))
            .query(&[("fields", fields.join(","))])
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| transport_error(&e))?;
        parse_user_info(status, retry, &body)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, TikTokError> {
        let response = self
            .http
            .post(format!("{}/v2/oauth/token/", self.base_url))
            .form(&[
                ("client_key", self.client_key.expose_secret()),
                ("client_secret", self.client_secret.expose_secret()),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| transport_error(&e))?;
        parse_token_grant(status, retry, &body)
    }

    async fn revoke(&self, access_token: &str) -> Result<bool, TikTokError> {
        let response = self
            .http
            .post(format!("{}/v2/oauth/revoke/", self.base_url))
            .form(&[
                ("client_key", self.client_key.expose_secret()),
                ("client_secret", self.client_secret.expose_secret()),
                ("token", access_token),
            ])
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| transport_error(&e))?;
        parse_revoke(status, retry, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_granted_scopes() {
        assert_eq!(
            fields_for_scope(Some("user.info.basic")),
            BASIC_FIELDS.to_vec()
        );
        let all = fields_for_scope(Some("user.info.basic,user.info.profile,user.info.stats"));
        assert_eq!(all.len(), 11);
        assert!(
            fields_for_scope(Some("user.info.basic,user.info.stats")).contains(&"follower_count")
        );
        assert!(!fields_for_scope(Some("user.info.basic,user.info.stats")).contains(&"username"));
        assert_eq!(fields_for_scope(None).len(), 11);
    }

    #[test]
    fn user_info_envelope() {
        let ok = br#"{"data":{"user":{"open_id":"o1","display_name":"A","follower_count":3}},"error":{"code":"ok","message":"","log_id":"l"}}"#;
        let user = parse_user_info(200, None, ok).unwrap();
        assert_eq!(user.open_id.as_deref(), Some("o1"));
        assert_eq!(user.follower_count, Some(3));
        let invalid =
            br#"{"data":{},"error":{"code":"access_token_invalid","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_user_info(401, None, invalid),
            Err(TikTokError::TokenInvalid)
        );
        let scope =
            br#"{"data":{},"error":{"code":"scope_not_authorized","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_user_info(401, None, scope),
            Err(TikTokError::ScopeNotAuthorized)
        );
        let limited =
            br#"{"data":{},"error":{"code":"rate_limit_exceeded","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_user_info(429, Some(7), limited),
            Err(TikTokError::RateLimited {
                retry_after: Some(7)
            })
        );
        let internal =
            br#"{"data":{},"error":{"code":"internal_error","message":"x","log_id":"l"}}"#;
        assert!(matches!(
            parse_user_info(500, None, internal),
            Err(TikTokError::Unavailable(_))
        ));
        assert!(matches!(
            parse_user_info(200, None, b"<html>"),
            Err(TikTokError::Unavailable(_))
        ));
        assert!(matches!(
            parse_user_info(502, None, b""),
            Err(TikTokError::Unavailable(_))
        ));
        let params = br#"{"error":{"code":"invalid_params","message":"x","log_id":"l"}}"#;
        assert!(matches!(
            parse_user_info(400, None, params),
            Err(TikTokError::Unavailable(_))
        ));
    }

    #[test]
    fn revoke_answers() {
        assert_eq!(parse_revoke(200, None, b"{}"), Ok(true));
        assert_eq!(parse_revoke(200, None, b""), Ok(true));
        let in_200 = br#"{"error":"invalid_grant","error_description":"x","log_id":"l"}"#;
        assert_eq!(
            parse_revoke(200, None, in_200),
            Ok(false),
            "an error in a 200 is still an error"
        );
        let invalid = br#"{"error":"invalid_request","error_description":"Access token is invalid.","log_id":"l"}"#;
        assert_eq!(parse_revoke(400, None, invalid), Ok(false));
        let envelope =
            br#"{"data":{},"error":{"code":"access_token_invalid","message":"x","log_id":"l"}}"#;
        assert_eq!(parse_revoke(401, None, envelope), Ok(false));
        assert!(matches!(
            parse_revoke(500, None, b"{}"),
            Err(TikTokError::Unavailable(_))
        ));
        assert!(matches!(
            parse_revoke(200, None, b"<html>"),
            Err(TikTokError::Unavailable(_))
        ));
        assert_eq!(
            parse_revoke(429, Some(3), b"{}"),
            Err(TikTokError::RateLimited {
                retry_after: Some(3)
            })
        );
        let client = br#"{"error":"invalid_client","error_description":"x","log_id":"l"}"#;
        assert!(matches!(
            parse_revoke(401, None, client),
            Err(TikTokError::Unavailable(_))
        ));
    }

    #[test]
    fn token_answers() {
        let ok = br#"{"access_token":"act.2","expires_in":7200,"open_id":"o","refresh_expires_in":15552000,"refresh_token":"rft.2","scope":"user.info.basic","token_type":"Bearer"}"#;
        let grant = parse_token_grant(200, None, ok).unwrap();
        assert_eq!(grant.refresh_token, "rft.2");
        assert!(!format!("{grant:?}").contains("rft.2"));
        let rejected = br#"{"error":"invalid_grant","error_description":"Refresh token is invalid or expired.","log_id":"l"}"#;
        assert_eq!(
            parse_token_grant(400, None, rejected).unwrap_err(),
            TikTokError::RefreshRejected
        );
        assert_eq!(
            parse_token_grant(429, Some(2), b"{}").unwrap_err(),
            TikTokError::RateLimited {
                retry_after: Some(2)
            }
        );
        assert!(matches!(
            parse_token_grant(500, None, b"oops"),
            Err(TikTokError::Unavailable(_))
        ));
        assert!(matches!(
            parse_token_grant(200, None, b"{\"error\":\"server_error\"}"),
            Err(TikTokError::Unavailable(_))
        ));
        let client = br#"{"error":"invalid_client","error_description":"bad","log_id":"l"}"#;
        assert!(matches!(
            parse_token_grant(401, None, client),
            Err(TikTokError::Unavailable(_))
        ));
    }
}

//! Reading TikTok's answers: the `/v2/` envelope, the OAuth token endpoint and revoke,
//! with the documented error codes mapped to typed errors.

use serde::Deserialize;

use super::posting::PostRefusal;
use super::{TikTokError, TokenGrant, UserInfo};

/// The error part of the `/v2/` envelope `{"data": {...}, "error": {"code", "message",
/// "log_id"}}` as a typed error; `Ok` when the call succeeded. `what` names the call in
/// the log.
pub(super) fn envelope_error(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
    what: &str,
) -> Result<(), TikTokError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<ErrorPart>,
    }
    #[derive(Deserialize)]
    struct ErrorPart {
        #[serde(default)]
        code: String,
        #[serde(default)]
        log_id: Option<String>,
    }
    let error = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.error);
    let code = error.as_ref().map(|e| e.code.as_str()).unwrap_or("");
    if !code.is_empty() && code != "ok" {
        let log_id = error.as_ref().and_then(|e| e.log_id.as_deref());
        tracing::info!(
            tiktok_code = code,
            tiktok_log_id = log_id,
            status,
            what,
            "TikTok refused"
        );
    }
    match (status, code) {
        (200..=299, "ok" | "") => Ok(()),
        (429, _) | (_, "rate_limit_exceeded") => {
            Err(TikTokError::RateLimited { retry_after: retry })
        }
        (_, "access_token_invalid") => Err(TikTokError::TokenInvalid),
        // `scope_not_authorized` (401): the token lacks the endpoint's scope;
        // `scope_permission_missed` (400): `/v2/user/info/` was asked for fields outside
        // the grant. The same to us: a scope the user did not grant.
        (_, "scope_not_authorized" | "scope_permission_missed") => {
            Err(TikTokError::ScopeNotAuthorized)
        }
        (_, code @ ("invalid_publish_id" | "token_not_authorized_for_specified_publish_id")) => {
            Err(TikTokError::PublishIdRefused(
                if code == "invalid_publish_id" {
                    "invalid_publish_id"
                } else {
                    "token_not_authorized_for_specified_publish_id"
                },
            ))
        }
        (401, _) => Err(TikTokError::TokenInvalid),
        (s, c) => Err(match PostRefusal::from_code(c) {
            Some(refusal) => TikTokError::PostRefused(refusal),
            None => TikTokError::Unavailable(format!("{what} {s} {c}")),
        }),
    }
}

/// Reads a `/v2/user/info/` answer.
pub fn parse_user_info(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<UserInfo, TikTokError> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        user: Option<UserInfo>,
    }
    envelope_error(status, retry, body, "user info")?;
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.data)
        .and_then(|d| d.user)
        .ok_or_else(|| TikTokError::Unavailable("user info without data.user".into()))
}

/// Reads a token endpoint answer: the grant, or `{error, error_description, log_id}`.
pub fn parse_token_grant(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<TokenGrant, TikTokError> {
    parse_grant(GrantKind::Refresh, status, retry, body)
}

/// Which grant a token endpoint answer is for: a refused refresh token and a refused
/// authorization code are different failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    Refresh,
    AuthorizationCode,
}

/// Reads a token endpoint answer to an authorization-code exchange: a code (or its
/// verifier, or its redirect URI) TikTok refuses is `CodeRejected`.
pub fn parse_code_grant(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<TokenGrant, TikTokError> {
    parse_grant(GrantKind::AuthorizationCode, status, retry, body)
}

fn parse_grant(
    kind: GrantKind,
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
    // TikTok answers OAuth errors with HTTP 200 as well as 4xx: the body decides. An
    // answer naming an error is never a grant, whatever its status or other fields.
    let error = serde_json::from_slice::<OAuthError>(body)
        .ok()
        .filter(|e| !e.error.is_empty());
    if (200..300).contains(&status) && error.is_none() {
        if let Ok(grant) = serde_json::from_slice::<TokenGrant>(body) {
            if !grant.access_token.is_empty() && !grant.refresh_token.is_empty() {
                return Ok(grant);
            }
        }
    }
    if let Some(e) = &error {
        tracing::info!(tiktok_error = %e.error, tiktok_log_id = ?e.log_id, status, ?kind, "TikTok refused the grant");
    }
    match (status, error.as_ref().map(|e| e.error.as_str()), kind) {
        (429, _, _) => Err(TikTokError::RateLimited { retry_after: retry }),
        (_, Some("invalid_grant"), GrantKind::Refresh) => Err(TikTokError::RefreshRejected),
        // An unknown, used or expired code, or a verifier or redirect URI that does not
        // match it ("Code verifier or code challenge is invalid." is invalid_request).
        (_, Some("invalid_grant" | "invalid_request"), GrantKind::AuthorizationCode) => {
            Err(TikTokError::CodeRejected)
        }
        (_, Some(other @ ("invalid_client" | "unauthorized_client" | "invalid_request")), _) => {
            tracing::error!(
                tiktok_error = other,
                "TikTok refused the app's credentials or request"
            );
            Err(TikTokError::Unavailable(format!("token {status} {other}")))
        }
        (s, e, _) => Err(TikTokError::Unavailable(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiktok::{fields_for_scope, BASIC_FIELDS};

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
        // The body decides at any status: an answer naming an error is never a grant,
        // even at 200 and even with token-shaped fields beside it.
        let both = br#"{"error":"invalid_grant","access_token":"act.x","refresh_token":"rft.x","expires_in":1}"#;
        assert_eq!(
            parse_token_grant(200, None, both).unwrap_err(),
            TikTokError::RefreshRejected
        );
        assert_eq!(
            parse_code_grant(200, None, both).unwrap_err(),
            TikTokError::CodeRejected
        );
    }
}

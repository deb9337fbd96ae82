//! `POST /api/v1/social-connections/store-token`: stores the caller's tokens for a
//! provider account. TikTok tokens are proved with TikTok first; a TikTok account
//! belongs to one user.

use super::prelude::*;
use super::Presenter;
use serde::Deserialize;

use crate::app::SessionAge;
use crate::store::{NewConnection, NewTokens};

/// The request body, as the earlier backend took it. Unknown fields are ignored. No
/// `Debug`: it holds tokens.
#[derive(Deserialize)]
pub struct StoreTokenBody {
    /// One of [`super::PROVIDERS`], any case.
    pub provider: Option<String>,
    #[serde(flatten)]
    pub account: SentAccount,
    /// RFC 3339.
    pub expires_at: Option<String>,
    pub account_label: Option<String>,
    pub account_type: Option<String>,
    pub is_primary: Option<bool>,
    /// A JSON string or an object.
    pub profile_metadata: Option<serde_json::Value>,
    /// The granted scopes, comma-separated, when the client has them.
    pub scope: Option<String>,
}

/// A validated request. `Debug` leaves the tokens out.
pub struct StoreTokenRequest {
    pub provider: String,
    pub provider_account_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<time::OffsetDateTime>,
    pub account_label: Option<String>,
    pub account_type: Option<String>,
    pub is_primary: Option<bool>,
    pub metadata: Option<serde_json::Value>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for StoreTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTokenRequest")
            .field("provider", &self.provider)
            .field("provider_account_id", &self.provider_account_id)
            .field("expires_at", &self.expires_at)
            .field("is_primary", &self.is_primary)
            .finish_non_exhaustive()
    }
}

impl StoreTokenBody {
    pub fn validate(self) -> Result<StoreTokenRequest, ApiError> {
        let provider = self
            .provider
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| ApiError::invalid_request("provider is required"))?;
        let provider = supported_provider(&provider)?;
        let account = self.account.validate(
            "provider_account_id is required",
            "access_token is required",
        )?;
        let expires_at = match optional_text(self.expires_at, "expires_at", 64)? {
            // Through `timestamp::parse`: RFC 3339 that can be shown in UTC.
            Some(text) => Some(crate::timestamp::parse_rfc3339(&text).ok_or_else(|| {
                ApiError::invalid_request("expires_at must be an RFC 3339 timestamp")
            })?),
            None => None,
        };
        let metadata = match self.profile_metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) if text.trim().is_empty() => None,
            Some(serde_json::Value::String(text)) => match serde_json::from_str(&text) {
                Ok(value @ serde_json::Value::Object(_)) => Some(value),
                _ => {
                    return Err(ApiError::invalid_request(
                        "profile_metadata must be a JSON object or its text",
                    ))
                }
            },
            Some(value @ serde_json::Value::Object(_)) => Some(value),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "profile_metadata must be a JSON object or its text",
                ))
            }
        };
        Ok(StoreTokenRequest {
            provider,
            provider_account_id: account.account_id,
            access_token: account.access_token,
            refresh_token: account.refresh_token,
            expires_at,
            account_label: optional_text(self.account_label, "account_label", MAX_LABEL_LEN)?,
            account_type: optional_text(self.account_type, "account_type", MAX_LABEL_LEN)?,
            is_primary: self.is_primary,
            metadata,
            scope: optional_text(self.scope, "scope", 1024)?,
        })
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.authenticate(req).await?;
    let body: StoreTokenBody = json_body(req)?;
    let request = body.validate()?;
    // A TikTok account is proved with TikTok while the session is checked for
    // revocation (linking); a recent sign-in makes it a sign-in method. Another
    // provider's tokens get a writer's session check.
    let sign_in = if request.provider == "tiktok" {
        let tokens = app.tokens();
        let (proof, age) = tokio::join!(
            tokens.prove(&request.access_token, &request.provider_account_id),
            app.linking_session(&caller)
        );
        proof.map_err(|refused| Presenter::SignedInUser.refused(refused))?;
        age? == SessionAge::Recent
    } else {
        app.writer_session(&caller).await?;
        false
    };
    let new = NewConnection {
        provider: request.provider,
        provider_account_id: request.provider_account_id,
        tokens: NewTokens {
            access_token: app.cipher.encrypt(&request.access_token),
            refresh_token: request
                .refresh_token
                .as_deref()
                .map(|t| app.cipher.encrypt(t)),
            expires_at: request.expires_at,
            refresh_expires_at: None,
            scope: request.scope,
        },
        account_label: request.account_label,
        account_type: request.account_type,
        is_primary: request.is_primary,
        metadata: request.metadata,
        sign_in,
    };
    let stored = app.store.store_connection(&caller, &new).await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &ConnectionView::from(stored.connection),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> Result<StoreTokenRequest, ApiError> {
        serde_json::from_value::<StoreTokenBody>(v)
            .unwrap()
            .validate()
    }

    #[test]
    fn validates_the_seed_body() {
        let ok = body(json!({"provider": "TikTok", "provider_account_id": "o", "access_token": "a",
                             "expires_at": "2026-01-01T00:00:00Z", "profile_metadata": "{\"a\":1}"}))
        .unwrap();
        assert_eq!(ok.provider, "tiktok");
        assert_eq!(ok.metadata, Some(json!({"a": 1})));
        assert!(
            !format!("{ok:?}").contains("access_token"),
            "no token in Debug"
        );
        let cases = [
            (
                json!({"provider": "myspace", "provider_account_id": "o", "access_token": "a"}),
                "unsupported_provider",
            ),
            (
                json!({"provider_account_id": "o", "access_token": "a"}),
                "invalid_request",
            ),
            (
                json!({"provider": "tiktok", "access_token": "a"}),
                "open_id_required",
            ),
            (
                json!({"provider": "tiktok", "provider_account_id": "o"}),
                "access_token_required",
            ),
            (
                json!({"provider": "tiktok", "provider_account_id": "o", "access_token": "a", "expires_at": "tomorrow"}),
                "invalid_request",
            ),
            (
                json!({"provider": "tiktok", "provider_account_id": "o", "access_token": "a", "profile_metadata": "[1]"}),
                "invalid_request",
            ),
            (
                json!({"provider": "tiktok", "provider_account_id": "o", "access_token": "a", "profile_metadata": 5}),
                "invalid_request",
            ),
            (
                json!({"provider": "tiktok", "provider_account_id": "o\u{0}x", "access_token": "a"}),
                "invalid_request",
            ),
        ];
        let far = json!({"provider": "tiktok", "provider_account_id": "o", "access_token": "a",
                         "expires_at": "9999-12-31T23:59:59-01:00"});
        assert_eq!(
            body(far).unwrap_err().code(),
            "invalid_request",
            "beyond what UTC can show"
        );
        for (input, code) in cases {
            assert_eq!(body(input.clone()).unwrap_err().code(), code, "{input}");
        }
    }
}

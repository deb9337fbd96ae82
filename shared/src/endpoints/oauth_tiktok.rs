//! `POST /api/v1/auth/oauth/tiktok`: turns a TikTok authorization into a Firebase
//! session, with the request and response shapes the frontend already uses.
//!
//! Nothing the client says is trusted: the access token is proved with TikTok (its
//! open_id must be `provider_account_id`) before anything is written; linking needs a
//! verified Firebase session; an email never reaches an existing account; a TikTok
//! account connected to one user is never moved to another.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::{store_failure, App};
use crate::endpoints::store_token::prove_tiktok_token;
use crate::endpoints::valid_account_id;
use crate::error::ApiError;
use crate::firebase::{AdminError, IdTokenVerifier, IdentityAdmin, NewFirebaseUser};
use crate::http::{bearer_token, json_body, json_response, request_id, require_method, respond};
use crate::store::{Caller, ConnectionStore, OAuthConnect, StoreError, UserRow};
use crate::tiktok::TikTokApi;

const MAX_TOKEN_LEN: usize = 4096;
const MAX_TEXT_LEN: usize = 2048;
const MAX_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;
pub const AUTH_PROVIDER: &str = "tiktok.com";

/// The seed's request body. Unknown fields are ignored. No `Debug`: it holds tokens.
#[derive(Deserialize)]
pub struct OAuthBody {
    pub provider: Option<String>,
    pub provider_account_id: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    pub scope: Option<String>,
    pub user_session_email: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// A validated request. `Debug` leaves the tokens out.
pub struct OAuthRequest {
    pub open_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    pub scope: Option<String>,
    /// `email`, else `user_session_email`: a contact email for a new user.
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

impl std::fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRequest")
            .field("open_id", &self.open_id)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn text(value: Option<String>, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > max || v.chars().any(char::is_control) => Err(
            ApiError::invalid_request(format!("{name} is too long or has control characters")),
        ),
        other => Ok(other),
    }
}

fn lifetime(value: Option<i64>, name: &str) -> Result<Option<i64>, ApiError> {
    match value {
        Some(secs) if !(0..=MAX_LIFETIME_SECS).contains(&secs) => Err(ApiError::invalid_request(
            format!("{name} must be between 0 and {MAX_LIFETIME_SECS} seconds"),
        )),
        other => Ok(other),
    }
}

impl OAuthBody {
    pub fn validate(self) -> Result<OAuthRequest, ApiError> {
        if let Some(provider) = self
            .provider
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if !provider.eq_ignore_ascii_case("tiktok") {
                return Err(ApiError::BadRequest {
                    code: "unsupported_provider",
                    detail: "provider must be tiktok".into(),
                });
            }
        }
        let open_id = text(self.provider_account_id, "provider_account_id", usize::MAX)?
            .ok_or_else(|| ApiError::BadRequest {
                code: "open_id_required",
                detail: "TikTok open_id (provider_account_id) is required".into(),
            })?;
        valid_account_id(&open_id, "provider_account_id")?;
        let access_token =
            text(self.access_token, "access_token", MAX_TOKEN_LEN)?.ok_or_else(|| {
                ApiError::BadRequest {
                    code: "access_token_required",
                    detail: "TikTok access_token is required".into(),
                }
            })?;
        let email = match text(self.email, "email", 320)?.or(text(
            self.user_session_email,
            "user_session_email",
            320,
        )?) {
            Some(e) if !is_plausible_email(&e) => {
                return Err(ApiError::invalid_request("email is not an email address"))
            }
            other => other,
        };
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(v @ serde_json::Value::Object(_)) => Some(v),
            Some(_) => return Err(ApiError::invalid_request("metadata must be an object")),
        };
        Ok(OAuthRequest {
            open_id,
            access_token,
            refresh_token: text(self.refresh_token, "refresh_token", MAX_TOKEN_LEN)?,
            expires_in: lifetime(self.expires_in, "expires_in")?,
            refresh_expires_in: lifetime(self.refresh_expires_in, "refresh_expires_in")?,
            scope: text(self.scope, "scope", 1024)?,
            email,
            name: text(self.name, "name", MAX_TEXT_LEN)?,
            picture: text(self.picture, "picture", MAX_TEXT_LEN)?,
            metadata,
        })
    }
}

fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !email.contains(char::is_whitespace)
}

/// The Firebase uid of a new user of this TikTok account: stable, so a retry after a
/// partial failure finds the same user, and well within Firebase's 128 characters.
pub fn derived_uid(open_id: &str) -> String {
    let digest = Sha256::digest(open_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("tiktok:{hex}")
}

#[derive(Debug, Serialize)]
struct SignedIn {
    firebase_uid: String,
    user_id: i64,
    email: Option<String>,
    full_name: Option<String>,
    avatar_url: Option<String>,
    email_verified: bool,
    auth_provider: &'static str,
    firebase_token: String,
}

pub async fn handle<S, T, V>(app: &App<S, T, V>, req: Request) -> Response<Body>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier + IdentityAdmin,
{
    respond(run(app, &req).await, &request_id(&req))
}

fn identity_failure(err: AdminError) -> ApiError {
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

fn conflict(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict { code, message }
            if code == "PT409" && message == "account_exists" =>
        {
            account_exists()
        }
        StoreError::Conflict { code, .. } if code == "PT409" => ApiError::Conflict {
            code: "tiktok_account_in_use",
            detail: "This TikTok account is connected to another user".into(),
        },
        other => store_failure(other),
    }
}

fn account_exists() -> ApiError {
    ApiError::Conflict {
        code: "account_exists",
        detail: "An account with this email already exists; sign in, then connect TikTok".into(),
    }
}

fn refused_with_401(code: &'static str, detail: String) -> ApiError {
    ApiError::TikTokCredentials { code, detail }
}

async fn run<S, T, V>(app: &App<S, T, V>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier + IdentityAdmin,
{
    require_method(req, &Method::POST)?;
    let body: OAuthBody = json_body(req)?;
    let request = body.validate()?;
    let has_session = bearer_token(req)?.is_some();

    // The proof and the session check are independent: one round trip's time for both.
    let (proof, session) = tokio::join!(
        prove_tiktok_token(
            &app.tiktok,
            &request.access_token,
            &request.open_id,
            refused_with_401
        ),
        async {
            if has_session {
                app.authenticate(req).await.map(Some)
            } else {
                Ok(None)
            }
        }
    );
    let session: Option<Caller> = session?;
    let info = proof?;

    let now = OffsetDateTime::now_utc();
    let later = |secs: i64| now + time::Duration::seconds(secs);
    let profile = serde_json::json!({
        "open_id": info.open_id,
        "union_id": info.union_id,
        "display_name": info.display_name,
        "avatar_url": info.avatar_url,
    });
    let mut args = OAuthConnect {
        p_open_id: request.open_id.clone(),
        p_access_token: app.cipher.encrypt(&request.access_token),
        p_derived_uid: derived_uid(&request.open_id),
        p_refresh_token: request
            .refresh_token
            .as_deref()
            .map(|t| app.cipher.encrypt(t)),
        p_expires_at: request.expires_in.map(later),
        p_refresh_expires_at: request.refresh_expires_in.map(later),
        p_scope: request.scope.clone(),
        p_profile: Some(profile),
        p_metadata: request.metadata.clone(),
        p_new_email: request.email.clone(),
        p_new_full_name: request.name.clone().or_else(|| info.display_name.clone()),
        p_new_avatar_url: request.picture.clone().or_else(|| info.avatar_url.clone()),
        ..OAuthConnect::default()
    };
    if let Some(caller) = &session {
        args.p_session_uid = Some(caller.firebase_uid.clone());
        args.p_session_email = caller.email.clone();
        args.p_session_email_verified = caller.email_verified;
        args.p_session_full_name = caller.name.clone();
        args.p_session_avatar_url = caller.picture.clone();
    }

    let mut outcome = app.store.oauth_connect(&args).await.map_err(conflict)?;
    if outcome.needs_new_user {
        let email = request
            .email
            .as_deref()
            .ok_or_else(|| ApiError::BadRequest {
                code: "email_required",
                detail: "Email is required for TikTok authentication".into(),
            })?;
        if outcome.email_in_use
            || app
                .auth
                .email_in_use(email)
                .await
                .map_err(identity_failure)?
        {
            return Err(account_exists());
        }
        // The Firebase user first, with the derived uid: if the database write below
        // fails, a retry finds this user (DUPLICATE_LOCAL_ID counts as created).
        let new_user = NewFirebaseUser {
            uid: args.p_derived_uid.clone(),
            display_name: args.p_new_full_name.clone(),
            photo_url: args.p_new_avatar_url.clone(),
            email_verified: false,
        };
        app.auth
            .create_user(&new_user)
            .await
            .map_err(identity_failure)?;
        args.p_create = true;
        outcome = app.store.oauth_connect(&args).await.map_err(conflict)?;
        tracing::info!("new user signed up with TikTok");
    }
    let user: UserRow = outcome.user.ok_or_else(|| {
        tracing::error!("tiktok_oauth_connect answered without a user");
        ApiError::Internal
    })?;
    let firebase_token = app
        .auth
        .custom_token(&user.firebase_uid)
        .map_err(identity_failure)?;
    Ok(json_response(
        StatusCode::OK,
        &SignedIn {
            firebase_uid: user.firebase_uid,
            user_id: user.id,
            email: user.email,
            full_name: user.full_name.or(info.display_name),
            avatar_url: user.avatar_url.or(info.avatar_url),
            email_verified: user.email_verified.unwrap_or(false),
            auth_provider: AUTH_PROVIDER,
            firebase_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(v: serde_json::Value) -> Result<OAuthRequest, ApiError> {
        serde_json::from_value::<OAuthBody>(v).unwrap().validate()
    }

    #[test]
    fn derived_uids_are_stable_and_short() {
        assert_eq!(derived_uid("open-1"), derived_uid("open-1"));
        assert_ne!(derived_uid("open-1"), derived_uid("open-2"));
        assert!(derived_uid(&"x".repeat(256)).len() <= 128);
    }

    #[test]
    fn validation_follows_the_contract() {
        let ok = validate(
            json!({"provider": "tiktok", "provider_account_id": "o", "access_token": "a",
                                 "expires_in": 7200, "user_session_email": "a@example.com"}),
        )
        .unwrap();
        assert_eq!(ok.email.as_deref(), Some("a@example.com"));
        let email_wins = validate(json!({"provider_account_id": "o", "access_token": "a",
                                         "email": "e@example.com", "user_session_email": "s@example.com"}))
        .unwrap();
        assert_eq!(email_wins.email.as_deref(), Some("e@example.com"));
        for (input, code) in [
            (json!({"access_token": "a"}), "open_id_required"),
            (json!({"provider_account_id": "o"}), "access_token_required"),
            (
                json!({"provider": "google", "provider_account_id": "o", "access_token": "a"}),
                "unsupported_provider",
            ),
            (
                json!({"provider_account_id": "o", "access_token": "a", "expires_in": -1}),
                "invalid_request",
            ),
            (
                json!({"provider_account_id": "o", "access_token": "a", "expires_in": 1_000_000_000_000i64}),
                "invalid_request",
            ),
            (
                json!({"provider_account_id": "o", "access_token": "a", "email": "not-an-email"}),
                "invalid_request",
            ),
            (
                json!({"provider_account_id": "o", "access_token": "a", "metadata": [1]}),
                "invalid_request",
            ),
        ] {
            assert_eq!(validate(input.clone()).unwrap_err().code(), code, "{input}");
        }
    }
}

//! `POST /api/v1/auth/oauth/tiktok`: turns a TikTok authorization into a Firebase
//! session, with the request and response shapes the frontend already uses.
//!
//! Nothing the client says is trusted: the access token is proved with TikTok (its
//! open_id must be `provider_account_id`) before anything is written; linking needs a
//! verified Firebase session; an email never reaches an existing account; a TikTok
//! account connected to one user is never moved to another.

use super::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::access::Presenter;
use crate::firebase::{IdentityAdmin, NewFirebaseUser};
use crate::store::{Caller, OAuthConnect, UserRow};

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
                return Err(ApiError::bad_request(
                    code::UNSUPPORTED_PROVIDER,
                    "provider must be tiktok",
                ));
            }
        }
        let open_id = optional_text(self.provider_account_id, "provider_account_id", usize::MAX)?
            .ok_or_else(|| {
            ApiError::bad_request(
                code::OPEN_ID_REQUIRED,
                "TikTok open_id (provider_account_id) is required",
            )
        })?;
        valid_account_id(&open_id, "provider_account_id")?;
        let access_token = optional_text(self.access_token, "access_token", MAX_TOKEN_LEN)?
            .ok_or_else(|| {
                ApiError::bad_request(
                    code::ACCESS_TOKEN_REQUIRED,
                    "TikTok access_token is required",
                )
            })?;
        let email = match optional_text(self.email, "email", 320)?.or(optional_text(
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
            refresh_token: optional_text(self.refresh_token, "refresh_token", MAX_TOKEN_LEN)?,
            expires_in: lifetime(self.expires_in, "expires_in")?,
            refresh_expires_in: lifetime(self.refresh_expires_in, "refresh_expires_in")?,
            scope: optional_text(self.scope, "scope", 1024)?,
            email,
            name: optional_text(self.name, "name", MAX_TEXT_LEN)?,
            picture: optional_text(self.picture, "picture", MAX_TEXT_LEN)?,
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

/// No `Debug`: it holds the custom token.
#[derive(Serialize)]
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

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let body: OAuthBody = json_body(req)?;
    let request = body.validate()?;
    // A malformed `Authorization` header is refused before TikTok is asked anything.
    bearer_token(req)?;
    // The proof and the session check are independent: one round trip's time for both.
    let tokens = app.tokens();
    let (proof, session) = tokio::join!(
        tokens.prove(&request.access_token, &request.open_id, Presenter::SignIn),
        app.optional_caller(req)
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
        open_id: request.open_id.clone(),
        access_token: app.cipher.encrypt(&request.access_token),
        derived_uid: derived_uid(&request.open_id),
        refresh_token: request
            .refresh_token
            .as_deref()
            .map(|t| app.cipher.encrypt(t)),
        expires_at: request.expires_in.map(later),
        refresh_expires_at: request.refresh_expires_in.map(later),
        scope: request.scope.clone(),
        profile: Some(profile),
        metadata: request.metadata.clone(),
        new_email: request.email.clone(),
        new_full_name: request.name.clone().or_else(|| info.display_name.clone()),
        new_avatar_url: request.picture.clone().or_else(|| info.avatar_url.clone()),
        ..OAuthConnect::default()
    };
    if let Some(caller) = &session {
        args.session_uid = Some(caller.firebase_uid.clone());
        args.session_email = caller.email.clone();
        args.session_email_verified = caller.email_verified;
        args.session_full_name = caller.name.clone();
        args.session_avatar_url = caller.picture.clone();
    }

    let mut outcome = app.store.oauth_connect(&args).await?;
    if outcome.needs_new_user {
        let email = request
            .email
            .as_deref()
            .ok_or_else(ApiError::email_required)?;
        if outcome.email_in_use || app.identity.email_in_use(email).await? {
            return Err(ApiError::account_exists());
        }
        // The Firebase user first, with the derived uid: if the database write below
        // fails, a retry finds this user (DUPLICATE_LOCAL_ID counts as created).
        let new_user = NewFirebaseUser {
            uid: args.derived_uid.clone(),
            display_name: args.new_full_name.clone(),
            photo_url: args.new_avatar_url.clone(),
            email_verified: false,
        };
        app.identity.create_user(&new_user).await?;
        args.create = true;
        outcome = app.store.oauth_connect(&args).await?;
        tracing::info!("new user signed up with TikTok");
    }
    let user: UserRow = outcome.user.ok_or_else(|| {
        tracing::error!("tiktok_oauth_connect answered without a user");
        ApiError::Internal
    })?;
    let firebase_token = app.identity.custom_token(&user.firebase_uid)?;
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

//! `POST /api/v1/auth/oauth/tiktok`: turns a TikTok authorization into a Firebase
//! session, with the request and response shapes the frontend already uses.
//!
//! Nothing the client says is trusted: the access token is proved with TikTok (its
//! open_id must be `provider_account_id`) before anything is written; linking needs a
//! verified Firebase session; an email never reaches an existing account; a TikTok
//! account connected to one user is never moved to another.

use super::prelude::*;
use super::Presenter;
use serde::Deserialize;

use crate::firebase::IdentityAdmin;
use crate::sign_in::{self, NewUser, NewUserEmail, Precheck, ProvedGrant, SignedIn};

pub use crate::sign_in::{derived_uid, AUTH_PROVIDER};

const MAX_TEXT_LEN: usize = 2048;
const MAX_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

/// The request body, as the earlier backend took it. Unknown fields are ignored. No
/// `Debug`: it holds tokens.
#[derive(Deserialize)]
pub struct OAuthBody {
    /// "tiktok" in any case, or absent.
    pub provider: Option<String>,
    #[serde(flatten)]
    pub account: SentAccount,
    /// Seconds, as TikTok's token answer gives them (and `refresh_expires_in`).
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    /// The granted scopes, comma-separated.
    pub scope: Option<String>,
    /// The earlier frontend's name for the contact email; `email` wins.
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
        let account = self.account.validate(
            "TikTok open_id (provider_account_id) is required",
            "TikTok access_token is required",
        )?;
        // `email`, else `user_session_email`; both bounded, the one taken an address.
        let session_email = optional_text(self.user_session_email, "user_session_email", 320)?;
        let email = optional_text(self.email, "email", 320)?.or(session_email);
        let email = optional_email(email, "email")?;
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(v @ serde_json::Value::Object(_)) => Some(v),
            Some(_) => return Err(ApiError::invalid_request("metadata must be an object")),
        };
        Ok(OAuthRequest {
            open_id: account.account_id,
            access_token: account.access_token,
            refresh_token: account.refresh_token,
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

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let body: OAuthBody = json_body(req)?;
    let request = body.validate()?;
    // A malformed `Authorization` header is refused before TikTok is asked anything.
    let signing_in = bearer_token(req)?.is_none();
    // A TikTok access token alone is no sign-in where the deployment says so (the
    // frontend signs in through authorize/callback): refused before any upstream call.
    if signing_in && !app.token_sign_in_enabled {
        return Err(ApiError::Forbidden {
            code: code::TOKEN_SIGN_IN_DISABLED,
            detail: "Signing in with a TikTok access token is turned off: sign in with TikTok \
                     through the authorization flow"
                .into(),
        });
    }
    // The proof and the session check are independent: one round trip's time for both.
    let tokens = app.tokens();
    // A linking session is checked for revocation while TikTok proves the token. Nothing
    // else starts before the proof: a junk token costs one TikTok call, no database
    // read and no Firebase lookup.
    let linking = async {
        let Some(caller) = app.optional_caller(req).await? else {
            return Ok(None);
        };
        let age = app.linking_session(&caller).await?;
        Ok::<_, ApiError>(Some((caller, age)))
    };
    let (proof, session) = tokio::join!(
        tokens.prove(&request.access_token, &request.open_id),
        linking
    );
    let session = session?;
    let info = proof.map_err(|refused| Presenter::SignIn.refused(refused))?;
    // Signing in: what it will need (a new user? the email taken?) is read now, the
    // database and Firebase at once.
    let precheck = if signing_in {
        let email = request.email.as_deref();
        Some(Box::pin(Precheck::read(app, &request.open_id, email)).await)
    } else {
        None
    };

    let grant = ProvedGrant {
        open_id: &request.open_id,
        access_token: &request.access_token,
        refresh_token: request.refresh_token.as_deref(),
        expires_in: request.expires_in,
        refresh_expires_in: request.refresh_expires_in,
        scope: request.scope.clone(),
        info: &info,
        metadata: request.metadata.clone(),
    };
    let new_user = NewUser {
        email: request.email.clone(),
        full_name: request.name.clone(),
        avatar_url: request.picture.clone(),
    };
    // Boxed: the linking rules' state machine is large, kept off the caller's stack.
    let connected = Box::pin(sign_in::connect(
        app,
        grant,
        session.as_ref(),
        new_user,
        NewUserEmail::Required,
        precheck,
    ))
    .await?;
    let firebase_token = app.identity.custom_token(&connected.user.firebase_uid)?;
    Ok(json_response(
        StatusCode::OK,
        &SignedIn::new(connected.user, &info, Some(firebase_token)),
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

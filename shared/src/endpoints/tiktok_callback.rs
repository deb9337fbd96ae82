//! `POST /api/v1/auth/tiktok/callback`: finishes TikTok's authorization-code flow. The
//! state is consumed exactly once, only with the `binding` its browser kept (a wrong one
//! leaves it unused), and a link state needs the same user's session too; the code
//! is exchanged with the stored PKCE verifier and redirect URI; the open_id is TikTok's
//! own answer. Then the linking rules of oauth-tiktok apply (a new user needs no
//! email). No TikTok token ever leaves this function.

use serde::{Deserialize, Serialize};

use super::prelude::*;
use crate::app::SessionAge;
use crate::firebase::IdentityAdmin;
use crate::pkce;
use crate::sign_in::{self, NewUser, NewUserEmail, ProvedGrant, SignedIn};
use crate::store::{Caller, ConnectionSummary, OAuthIntent, OAuthState, OAuthStateStore};
use crate::tiktok::{fields_for_scope, TikTokError, UserInfo, BASIC_FIELDS};

/// Longest authorization code or state accepted.
const MAX_CODE_LEN: usize = 2048;

#[derive(Debug, Deserialize)]
struct CallbackBody {
    code: Option<String>,
    state: Option<String>,
    /// The binding tiktok-authorize answered (required).
    binding: Option<String>,
    email: Option<String>,
}

#[derive(Serialize)]
struct Callback {
    #[serde(flatten)]
    signed_in: SignedIn,
    connection: Option<ConnectionSummary>,
}

fn invalid_state() -> ApiError {
    ApiError::bad_request(
        code::INVALID_STATE,
        "The authorization is unknown, used or expired: start again",
    )
}

/// The session a state needs: none to sign in; the same user's, checked for
/// revocation, to link.
async fn session_for<P: Ports>(
    app: &App<P>,
    state: &OAuthState,
    caller: Option<Caller>,
) -> Result<Option<(Caller, SessionAge)>, ApiError> {
    if state.intent == OAuthIntent::SignIn {
        return Ok(None);
    }
    let caller = caller.ok_or(ApiError::Unauthorized)?;
    if state.firebase_uid.as_deref() != Some(caller.firebase_uid.as_str()) {
        return Err(ApiError::Forbidden {
            code: code::STATE_MISMATCH,
            detail: "This authorization was started by another user".into(),
        });
    }
    let age = app.linking_session(&caller).await?;
    Ok(Some((caller, age)))
}

/// The profile of the new grant, with the fields its scopes allow.
async fn profile<P: Ports>(
    app: &App<P>,
    access_token: &str,
    scope: Option<&str>,
) -> Result<UserInfo, ApiError> {
    let fields = fields_for_scope(scope);
    match app.tiktok.user_info(access_token, &fields).await {
        Err(TikTokError::ScopeNotAuthorized) => {
            Ok(app.tiktok.user_info(access_token, &BASIC_FIELDS).await?)
        }
        other => Ok(other?),
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.optional_caller(req).await?;
    let body: CallbackBody = json_body(req)?;
    let code = optional_text(body.code, "code", MAX_CODE_LEN)?
        .ok_or_else(|| ApiError::invalid_request("code is required"))?;
    let state = optional_text(body.state, "state", MAX_CODE_LEN)?
        .ok_or_else(|| ApiError::invalid_request("state is required"))?;
    let binding = optional_text(body.binding, "binding", MAX_CODE_LEN)?;
    let email = optional_email(body.email, "email")?;

    let binding_hash = binding.as_deref().map(pkce::state_hash);
    let stored = app
        .store
        .consume_oauth_state(&pkce::state_hash(&state), binding_hash.as_deref())
        .await?
        .ok_or_else(invalid_state)?;
    let session = session_for(app, &stored, caller).await?;
    let verifier = app.cipher.decrypt(&stored.code_verifier).map_err(|_| {
        tracing::error!("a stored code verifier does not decrypt: check ENCRYPTION_KEY");
        ApiError::Internal
    })?;
    let grant = app
        .tiktok
        .exchange_code(&code, &stored.redirect_uri, &verifier)
        .await?;
    let open_id = grant
        .open_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            tracing::warn!("TikTok's token answer has no open_id");
            ApiError::TikTokUnavailable
        })?;
    valid_account_id(&open_id, "open_id").map_err(|_| ApiError::TikTokUnavailable)?;
    let info = profile(app, &grant.access_token, grant.scope.as_deref()).await?;

    let new_user = NewUser {
        email,
        ..NewUser::default()
    };
    let proved = ProvedGrant::from_token_grant(&open_id, &grant, &info);
    // Boxed: the linking rules' state machine is large, kept off the caller's stack.
    let connected = Box::pin(sign_in::connect(
        app,
        proved,
        session.as_ref(),
        new_user,
        NewUserEmail::Optional,
        None,
    ))
    .await?;
    // Signing in gets a custom token; a linking user is signed in already.
    let firebase_token = match session {
        None => Some(app.identity.custom_token(&connected.user.firebase_uid)?),
        Some(_) => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &Callback {
            signed_in: SignedIn::new(connected.user, &info, firebase_token),
            connection: connected.connection,
        },
    ))
}

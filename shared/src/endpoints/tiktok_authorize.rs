//! `POST /api/v1/auth/tiktok/authorize`: starts TikTok's authorization-code flow on the
//! server, with PKCE. With a Firebase session it links the TikTok account to that user;
//! without one it signs in. The state and the code verifier stay here (the verifier
//! encrypted, the state only as its hash) for 10 minutes; the frontend gets the URL of
//! TikTok's consent page, the state to check on the redirect, and a `binding` secret to
//! keep (never in a URL) and send with the callback: a sign-in state is consumed only
//! with it, so an attacker's code posted from a victim's browser signs no one in. A
//! client address (an IPv6 client by its /64) has at most 20 sign-ins in progress.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::prelude::*;
use crate::http::{client_address, client_group};
use crate::pkce;
use crate::store::{NewOAuthState, OAuthIntent, OAuthStateStore};
use crate::tiktok::KNOWN_SCOPES;

#[derive(Debug, Deserialize)]
struct AuthorizeBody {
    redirect_uri: Option<String>,
    scopes: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Authorization {
    authorize_url: String,
    state: String,
    binding: String,
    #[serde(with = "crate::timestamp::option")]
    expires_at: Option<OffsetDateTime>,
}

/// The scopes asked for: the request's (known TikTok scopes, without repeats), else the
/// configured default.
fn scopes(asked: Option<Vec<String>>, default: &[String]) -> Result<Vec<String>, ApiError> {
    let Some(asked) = asked else {
        return Ok(default.to_vec());
    };
    let mut scopes: Vec<String> = Vec::new();
    for scope in asked {
        let scope = scope.trim().to_owned();
        if !KNOWN_SCOPES.contains(&scope.as_str()) {
            return Err(ApiError::invalid_request(format!(
                "scopes must be TikTok scopes: {}",
                KNOWN_SCOPES.join(", ")
            )));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if !scopes.iter().any(|s| s == "user.info.basic") {
        return Err(ApiError::invalid_request(
            "scopes must include user.info.basic",
        ));
    }
    Ok(scopes)
}

fn random(what: &str, made: Result<String, getrandom::Error>) -> Result<String, ApiError> {
    made.map_err(|err| {
        tracing::error!(error = %err, what, "the system's random source failed");
        ApiError::Internal
    })
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.optional_caller(req).await?;
    let body: AuthorizeBody = json_body(req)?;
    let settings = &app.authorization;
    let redirect_uri = optional_text(body.redirect_uri, "redirect_uri", 512)?
        .ok_or_else(|| ApiError::invalid_request("redirect_uri is required"))?;
    if !settings.redirect_uris.contains(&redirect_uri) {
        return Err(ApiError::bad_request(
            code::INVALID_REDIRECT_URI,
            "redirect_uri is not one of this app's redirect URIs",
        ));
    }
    let scopes = scopes(body.scopes, &settings.scopes)?.join(",");
    let state = random("state", pkce::new_state())?;
    let verifier = random("code verifier", pkce::new_verifier())?;
    let binding = random("binding", pkce::new_state())?;
    let challenge = pkce::challenge(&verifier, settings.challenge_encoding);
    let (intent, firebase_uid) = match caller {
        Some(caller) => (OAuthIntent::Link, Some(caller.firebase_uid)),
        None => (OAuthIntent::SignIn, None),
    };
    let stored = NewOAuthState {
        state_hash: pkce::state_hash(&state),
        intent,
        firebase_uid,
        redirect_uri: redirect_uri.clone(),
        scopes: scopes.clone(),
        code_verifier: app.cipher.encrypt(&verifier),
        client_address: client_address(req).map(|a| client_group(&a)),
        binding_hash: Some(pkce::state_hash(&binding)),
    };
    let created = app.store.create_oauth_state(&stored).await?;
    let mut url = reqwest::Url::parse(&format!("{}/v2/auth/authorize/", settings.auth_base_url))
        .map_err(|_| ApiError::Internal)?;
    url.query_pairs_mut()
        .append_pair("client_key", &settings.client_key)
        .append_pair("response_type", "code")
        .append_pair("scope", &scopes)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(json_response(
        StatusCode::OK,
        &Authorization {
            authorize_url: url.into(),
            state,
            binding,
            expires_at: created.expires_at,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_known_tiktok_scopes_with_basic() {
        let default = vec!["user.info.basic".to_owned()];
        assert_eq!(scopes(None, &default).unwrap(), default);
        let asked = vec![
            "user.info.basic".into(),
            "video.list".into(),
            "video.list".into(),
        ];
        assert_eq!(
            scopes(Some(asked), &default).unwrap(),
            ["user.info.basic", "video.list"]
        );
        assert!(scopes(
            Some(vec!["user.info.basic".into(), "admin".into()]),
            &default
        )
        .is_err());
        assert!(scopes(Some(vec!["video.list".into()]), &default).is_err());
    }
}

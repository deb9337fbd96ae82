//! `DELETE /api/v1/social-connections/tiktok/{open_id}`: ends the app's access at
//! TikTok, then removes the connection (handing the primary flag to the most recently
//! updated remaining TikTok account, in one transaction).
//!
//! The token is revoked first: if TikTok cannot be reached the row is kept (502) so the
//! user can retry; a token TikTok already considers invalid does not stop the
//! disconnect (`revoked: false`). An expiring token is refreshed first, so the grant
//! is really ended rather than revoking a dead access token.

use super::prelude::*;

use crate::access::AccessError;
use crate::firebase::IdentityAdmin;
use crate::store::OtherSignIn;
use crate::tiktok::TikTokError;

/// A revoke TikTok did not complete: the connection is kept, so retrying works.
fn revoke_failed(err: TikTokError) -> ApiError {
    match err {
        TikTokError::RateLimited { retry_after } => ApiError::TikTokRateLimited { retry_after },
        err => {
            tracing::warn!(error = %err, "revoking at TikTok failed; the connection is kept");
            ApiError::TikTokUnavailable
        }
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::DELETE)?;
    let caller = app.authenticate_writer(req).await?;
    let open_id = path_param(req, "open_id", 1)
        .ok_or_else(|| ApiError::invalid_request("the path must end with /tiktok/{open_id}"))?;
    valid_account_id(&open_id, "open_id")?;
    let chosen = app.store.tiktok_connection(&caller, Some(&open_id)).await?;
    let connection = chosen.connection.ok_or(ApiError::TikTokNotConnected)?;
    let (id, user_id) = (connection.id, chosen.user_id);
    // The last way a TikTok-created user signs in is kept, unless Firebase knows another
    // (checked before anything is revoked).
    let other_sign_in = if chosen.only_sign_in_method {
        let state = app.identity.account_state(&caller.firebase_uid).await?;
        if !state.is_some_and(|s| s.has_provider) {
            return Err(ApiError::known_conflict(code::LAST_SIGN_IN_METHOD));
        }
        OtherSignIn::Available
    } else {
        OtherSignIn::Unknown
    };
    let tokens = app.tokens();

    let revoked = match tokens.live_token(connection).await {
        Ok(token) => match tokens.revoke(&token).await.map_err(revoke_failed)? {
            // A stored access token TikTok no longer knows, while the refresh token may
            // still grant access: refresh once and revoke what that gives.
            false if !token.refreshed && token.connection.refresh_token.is_some() => {
                match tokens.refresh(&token.connection).await {
                    Ok(fresh) => tokens.revoke(&fresh).await.map_err(revoke_failed)?,
                    Err(err) if err.is_reauth() => false,
                    Err(err) => return Err(err.into()),
                }
            }
            revoked => revoked,
        },
        // The grant is already dead at TikTok: nothing left to revoke.
        Err(err) if err.is_reauth() => false,
        // Tokens that no key can read cannot be revoked, but must not keep the user
        // from removing the connection.
        Err(AccessError::Undecryptable) => {
            tracing::error!(
                connection_id = id,
                "stored tokens do not decrypt; disconnecting without revoking"
            );
            false
        }
        Err(err) => return Err(err.into()),
    };
    app.store
        .delete_connection(id, user_id, other_sign_in)
        .await?;
    tracing::info!(connection_id = id, revoked, "TikTok account disconnected");
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true, "revoked": revoked }),
    ))
}

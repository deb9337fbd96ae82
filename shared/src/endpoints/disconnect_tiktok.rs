//! `DELETE /api/v1/social-connections/tiktok/{open_id}`: ends the app's access at
//! TikTok, then removes the connection (handing the primary flag to the most recently
//! updated remaining TikTok account, in one transaction).
//!
//! The token is revoked first: if TikTok cannot be reached the row is kept (502) so the
//! user can retry; a token TikTok already considers invalid does not stop the
//! disconnect (`revoked: false`). An expiring token is refreshed first, so the grant
//! is really ended rather than revoking a dead access token.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::access::{AccessError, LiveToken};
use crate::app::{store_failure, App};
use crate::endpoints::valid_account_id;
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_response, path_param, request_id, require_method, respond};
use crate::store::ConnectionStore;
use crate::tiktok::{TikTokApi, TikTokError};

pub async fn handle<S, T, V>(app: &App<S, T, V>, req: Request) -> Response<Body>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    respond(run(app, &req).await, &request_id(&req))
}

async fn revoke<S, T, V>(app: &App<S, T, V>, token: &LiveToken) -> Result<bool, ApiError>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    match app.tiktok.revoke(token.access_token()).await {
        Ok(revoked) => Ok(revoked),
        Err(TikTokError::RateLimited { retry_after }) => {
            Err(ApiError::TikTokRateLimited { retry_after })
        }
        Err(err) => {
            tracing::warn!(error = %err, "revoking at TikTok failed; the connection is kept");
            Err(ApiError::TikTokUnavailable)
        }
    }
}

async fn run<S, T, V>(app: &App<S, T, V>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    require_method(req, &Method::DELETE)?;
    let caller = app.authenticate(req).await?;
    let open_id = path_param(req, "open_id", 1)
        .ok_or_else(|| ApiError::invalid_request("the path must end with /tiktok/{open_id}"))?;
    valid_account_id(&open_id, "open_id")?;
    let chosen = app
        .store
        .tiktok_connection(&caller, Some(&open_id))
        .await
        .map_err(store_failure)?;
    let connection = chosen.connection.ok_or(ApiError::TikTokNotConnected)?;
    let (id, user_id) = (connection.id, chosen.user_id);

    let revoked = match app.live_token(connection).await {
        Ok(token) => match revoke(app, &token).await? {
            // A stored access token TikTok no longer knows, while the refresh token may
            // still grant access: refresh once and revoke what that gives.
            false if !token.refreshed && token.connection.refresh_token.is_some() => {
                match app.refresh(&token.connection).await {
                    Ok(fresh) => revoke(app, &fresh).await?,
                    Err(
                        AccessError::ReauthRequired
                        | AccessError::TikTok(TikTokError::RefreshRejected),
                    ) => false,
                    Err(err) => return Err(err.into()),
                }
            }
            revoked => revoked,
        },
        // The grant is already dead at TikTok: nothing left to revoke.
        Err(AccessError::ReauthRequired | AccessError::TikTok(TikTokError::RefreshRejected)) => {
            false
        }
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
        .delete_connection(id, user_id)
        .await
        .map_err(store_failure)?;
    tracing::info!(connection_id = id, revoked, "TikTok account disconnected");
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true, "revoked": revoked }),
    ))
}

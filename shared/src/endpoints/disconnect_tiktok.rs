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

use crate::access::AccessError;
use crate::app::{store_failure, App};
use crate::endpoints::valid_account_id;
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_response, last_path_segments, request_id, require_method, respond};
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

async fn run<S, T, V>(app: &App<S, T, V>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    require_method(req, &Method::DELETE)?;
    let caller = app.authenticate(req).await?;
    let open_id = last_path_segments(req, 1)
        .and_then(|mut s| s.pop())
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
        Ok(token) => match app.tiktok.revoke(token.access_token()).await {
            Ok(revoked) => revoked,
            Err(TikTokError::RateLimited { retry_after }) => {
                return Err(ApiError::TikTokRateLimited { retry_after })
            }
            Err(err) => {
                tracing::warn!(error = %err, "revoking at TikTok failed; the connection is kept");
                return Err(ApiError::TikTokUnavailable);
            }
        },
        // The grant is already dead at TikTok: nothing left to revoke.
        Err(AccessError::ReauthRequired | AccessError::TikTok(TikTokError::RefreshRejected)) => {
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

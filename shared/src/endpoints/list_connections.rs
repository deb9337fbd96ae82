//! `GET /api/v1/social-connections/connections`: the caller's connections of every
//! provider, never a token. One database round trip, no TikTok call.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::app::{store_failure, App};
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_response, request_id, require_method, respond};
use crate::store::ConnectionStore;
use crate::tiktok::TikTokApi;

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
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let connections = app
        .store
        .list_connections(&caller)
        .await
        .map_err(store_failure)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "connections": connections }),
    ))
}

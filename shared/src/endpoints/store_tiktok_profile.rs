//! `POST /api/v1/social-connections/store-tiktok-profile`: stores a client-supplied
//! profile on one of the caller's TikTok connections (`source: "client"`).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::{store_failure, App};
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_body, json_response, request_id, require_method, respond};
use crate::profile::Profile;
use crate::store::ConnectionStore;
use crate::tiktok::TikTokApi;

#[derive(Debug, Deserialize)]
struct StoreProfileBody {
    profile: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct Stored {
    success: bool,
    profile: Profile,
}

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
    require_method(req, &Method::POST)?;
    let caller = app.authenticate(req).await?;
    let body: StoreProfileBody = json_body(req)?;
    let value = body
        .profile
        .ok_or_else(|| ApiError::invalid_request("profile is required"))?;
    let profile = Profile::from_client(&value, OffsetDateTime::now_utc())?;
    let open_id = profile.open_id.clone().unwrap_or_default();
    let stored_value = serde_json::to_value(&profile).map_err(|_| ApiError::Internal)?;
    app.store
        .store_client_profile(&caller, &open_id, &stored_value)
        .await
        .map_err(store_failure)?
        .ok_or(ApiError::TikTokNotConnected)?;
    Ok(json_response(
        StatusCode::OK,
        &Stored {
            success: true,
            profile,
        },
    ))
}

//! `PATCH /api/v1/social-connections/{provider}/{account_id}`: relabel a connection or
//! make it the one primary of its provider. `is_primary: false` is refused: a user with
//! accounts of a provider always has exactly one primary (make another one primary).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::{store_failure, App};
use crate::endpoints::store_token::PROVIDERS;
use crate::endpoints::valid_account_id;
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_body, json_response, path_param, request_id, require_method, respond};
use crate::store::{ConnectionStore, ConnectionUpdate};
use crate::tiktok::TikTokApi;

const MAX_LABEL_LEN: usize = 256;

#[derive(Debug, Deserialize)]
struct UpdateBody {
    account_label: Option<String>,
    account_type: Option<String>,
    is_primary: Option<bool>,
}

fn label(value: Option<String>, name: &str) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() || v.len() > MAX_LABEL_LEN || v.chars().any(char::is_control) => {
            Err(ApiError::invalid_request(format!(
                "{name} must be 1 to {MAX_LABEL_LEN} characters without control characters"
            )))
        }
        other => Ok(other),
    }
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
    require_method(req, &Method::PATCH)?;
    let caller = app.authenticate(req).await?;
    let (provider, account_id) = path_param(req, "provider", 2)
        .zip(path_param(req, "account_id", 1))
        .ok_or_else(|| {
            ApiError::invalid_request("the path must end with /{provider}/{account_id}")
        })?;
    let provider = provider.to_ascii_lowercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::BadRequest {
            code: "unsupported_provider",
            detail: format!("provider must be one of: {}", PROVIDERS.join(", ")),
        });
    }
    valid_account_id(&account_id, "account_id")?;
    let body: UpdateBody = json_body(req)?;
    if body.is_primary == Some(false) {
        return Err(ApiError::invalid_request(
            "is_primary cannot be set to false: make another account primary instead",
        ));
    }
    let update = ConnectionUpdate {
        p_provider: provider,
        p_account_id: account_id,
        p_account_label: label(body.account_label, "account_label")?,
        p_account_type: label(body.account_type, "account_type")?,
        p_make_primary: body.is_primary == Some(true),
    };
    if update.p_account_label.is_none() && update.p_account_type.is_none() && !update.p_make_primary
    {
        return Err(ApiError::invalid_request(
            "nothing to change: give account_label, account_type or is_primary: true",
        ));
    }
    let view = app
        .store
        .update_connection(&caller, &update)
        .await
        .map_err(store_failure)?
        .ok_or(ApiError::TikTokNotConnected)?;
    Ok(json_response(StatusCode::OK, &view))
}

//! `PATCH /api/v1/social-connections/{provider}/{account_id}`: relabel a connection or
//! make it the one primary of its provider. `is_primary: false` is refused: a user with
//! accounts of a provider always has exactly one primary (make another one primary).

use super::prelude::*;
use serde::Deserialize;

use crate::store::ConnectionUpdate;

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

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::PATCH)?;
    let caller = app.authenticate_writer(req).await?;
    let (provider, account_id) = path_param(req, "provider", 2)
        .zip(path_param(req, "account_id", 1))
        .ok_or_else(|| {
            ApiError::invalid_request("the path must end with /{provider}/{account_id}")
        })?;
    let provider = supported_provider(&provider)?;
    valid_account_id(&account_id, "account_id")?;
    let body: UpdateBody = json_body(req)?;
    if body.is_primary == Some(false) {
        return Err(ApiError::invalid_request(
            "is_primary cannot be set to false: make another account primary instead",
        ));
    }
    let update = ConnectionUpdate {
        provider,
        account_id,
        account_label: label(body.account_label, "account_label")?,
        account_type: label(body.account_type, "account_type")?,
        make_primary: body.is_primary == Some(true),
    };
    if update.account_label.is_none() && update.account_type.is_none() && !update.make_primary {
        return Err(ApiError::invalid_request(
            "nothing to change: give account_label, account_type or is_primary: true",
        ));
    }
    let view = app
        .store
        .update_connection(&caller, &update)
        .await?
        .ok_or(ApiError::TikTokNotConnected)?;
    Ok(json_response(StatusCode::OK, &view))
}

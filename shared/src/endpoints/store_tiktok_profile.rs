//! `POST /api/v1/social-connections/store-tiktok-profile`: stores a client-supplied
//! profile on one of the caller's TikTok connections (`source: "client"`).

use super::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::profile::Profile;

#[derive(Debug, Deserialize)]
struct StoreProfileBody {
    profile: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct Stored {
    success: bool,
    profile: Profile,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.authenticate_writer(req).await?;
    let body: StoreProfileBody = json_body(req)?;
    let value = body
        .profile
        .ok_or_else(|| ApiError::invalid_request("profile is required"))?;
    let profile = Profile::from_client(&value, OffsetDateTime::now_utc())?;
    let open_id = profile.open_id.clone().unwrap_or_default();
    let stored_value = serde_json::to_value(&profile).map_err(|_| ApiError::Internal)?;
    app.store
        .store_client_profile(&caller, &open_id, &stored_value)
        .await?
        .ok_or(ApiError::TikTokNotConnected)?;
    Ok(json_response(
        StatusCode::OK,
        &Stored {
            success: true,
            profile,
        },
    ))
}

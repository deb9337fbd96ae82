//! `GET /api/v1/social-connections/tiktok/analytics/videos/{video_id}?account_id=`: the
//! video with its whole series (hourly in its first 24 hours, then daily), when it was
//! last synced and is next due. A video that is not the account's: 404
//! `video_not_found`.

use super::{answered, Asked};
use crate::endpoints::prelude::*;
use crate::error::code;
use crate::store::AnalyticsStore;

fn not_found() -> ApiError {
    ApiError::NotFound {
        code: code::VIDEO_NOT_FOUND,
        detail: "No such video of this account".into(),
    }
}

/// A TikTok video id (digits, as TikTok writes them; letters and `_` allowed): anything
/// else is no video of anyone's.
fn video_id(req: &Request) -> Result<String, ApiError> {
    match crate::http::path_param(req, "video_id", 1) {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok(id)
        }
        _ => Err(not_found()),
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    let asked = Asked::of(app, req).await?;
    let id = video_id(req)?;
    let found = app.store.video_analytics(&asked.of_ref(), &id).await?;
    if found
        .as_ref()
        .is_some_and(|f| f.get("video").is_none_or(serde_json::Value::is_null))
    {
        return Err(not_found());
    }
    answered(found)
}

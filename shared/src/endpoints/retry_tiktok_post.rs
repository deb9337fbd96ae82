//! `POST /api/v1/social-connections/tiktok/posts/{id}/retry` with `{"confirm": true}`:
//! a new attempt of the caller's `UNCONFIRMED` or `FAILED` scheduled post, due now (the
//! dispatcher sends it within a minute). The user decides: TikTok may have made an
//! `UNCONFIRMED` post, so the API never retries one by itself. Another status, or a post
//! made at once (nothing stored to send again), 409 `post_not_editable`.

use serde::Deserialize;

use super::post_view::{changed, post_id_at};
use super::prelude::*;
use crate::store::CalendarStore;

#[derive(Deserialize)]
struct Retry {
    #[serde(default)]
    confirm: Option<bool>,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.authenticate_writer(req).await?;
    // .../posts/{id}/retry
    let id = post_id_at(req, 2)?;
    let retry: Retry = json_body(req)?;
    if retry.confirm != Some(true) {
        return Err(ApiError::invalid_request(
            "confirm must be true: TikTok may already have made an unconfirmed post, and a \
             new attempt can post it twice",
        ));
    }
    changed(
        app.store.retry_post(&caller.firebase_uid, &id).await?,
        "retried",
    )
}

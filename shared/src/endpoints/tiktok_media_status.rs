//! `GET /api/v1/social-connections/tiktok/media/{id}`: the caller's media. A `pending`
//! one is checked in the bucket first (a HEAD): there, with the declared size, it is
//! `ready` from then on; never on the client's word. Its header is read then (ranged
//! reads: duration, size, frame rate, codec, container), and the answer carries those
//! `facts`, or `facts: null` with a `facts_error` for a file that is no video TikTok takes.
//! Another user's or an unknown id: 404 `media_not_found`.

use super::media_view::{ensure_facts, media_id, not_found, MediaView};
use super::prelude::*;
use crate::media::MediaStorage;
use crate::store::MediaStore;

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let id = media_id(req)?;
    let mut row = app
        .store
        .media_for(&caller.firebase_uid, &id)
        .await?
        .ok_or_else(not_found)?;
    if row.status == "pending" {
        let size = app.media()?.size_of(&row.object_key).await.map_err(|err| {
            tracing::warn!(error = %err, "media bucket unavailable");
            ApiError::StorageUnavailable
        })?;
        match size {
            Some(size) if size == row.size as u64 => {
                row.status = "ready".into();
                row = ensure_facts(app, row).await?;
            }
            Some(size) => tracing::info!(
                declared = row.size,
                found = size,
                "media object of another size than declared; still pending"
            ),
            None => {}
        }
    }
    // A media made ready before its facts were read.
    if row.status == "ready" {
        row = ensure_facts(app, row).await?;
    }
    Ok(json_response(StatusCode::OK, &MediaView::from(row)))
}

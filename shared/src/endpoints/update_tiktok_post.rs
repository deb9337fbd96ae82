//! `PATCH /api/v1/social-connections/tiktok/posts/{id}` with `scheduled_at` and/or
//! `post_info`: reschedules or edits the caller's `SCHEDULED` post, checked as creating
//! one is (the new post_info replaces the old one whole). Once publishing has begun, 409
//! `post_not_editable`; another user's post, 404 `post_not_found`.

use serde::Deserialize;

use super::post_view::{changed, not_found, post_id};
use super::prelude::*;
use super::tiktok_publish::request::{PostInfo, Publish, Source};
use crate::store::{CalendarStore, Changed, MediaStore, PostChange, PostStore};

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    scheduled_at: Option<String>,
    #[serde(default)]
    post_info: Option<PostInfo>,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::PATCH)?;
    let caller = app.authenticate_writer(req).await?;
    let id = post_id(req)?;
    let change: Change = json_body(req)?;
    if change.scheduled_at.is_none() && change.post_info.is_none() {
        return Err(ApiError::invalid_request(
            "send scheduled_at and/or post_info to change",
        ));
    }
    let found = app
        .store
        .post_for(&caller.firebase_uid, &id)
        .await?
        .ok_or_else(not_found)?;
    let post = found.post;
    let stored = post
        .request
        .clone()
        .and_then(|r| serde_json::from_value::<Publish>(r).ok());
    let Some(mut publish) = stored.filter(|_| matches!(post.status.as_str(), "SCHEDULED" | "HELD"))
    else {
        return changed(
            Changed::NotEditable {
                post: Box::new(post),
            },
            "changed",
        );
    };
    if let Some(info) = change.post_info {
        publish.post_info = Some(info);
    }
    // A new time is checked as a new post's; an unchanged one may be due already.
    let at = match change.scheduled_at {
        Some(text) => {
            publish.scheduled_at = Some(text);
            publish.scheduled_time(time::OffsetDateTime::now_utc())?
        }
        None => None,
    };
    publish.validate()?;
    // A post of uploaded media must be due before the media is deleted.
    if let (Some(at), Source::Media { media_id, .. }) = (at, &publish.source) {
        let media = app.store.media_for(&caller.firebase_uid, media_id).await?;
        super::media_view::check_kept(media.and_then(|m| m.created_at), at)?;
    }
    let request = serde_json::to_value(&publish).map_err(|_| ApiError::Internal)?;
    let update = PostChange {
        firebase_uid: caller.firebase_uid.clone(),
        id,
        request,
        scheduled_at: at,
    };
    changed(app.store.change_post(&update).await?, "changed")
}

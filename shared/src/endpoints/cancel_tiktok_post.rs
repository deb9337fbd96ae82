//! `DELETE /api/v1/social-connections/tiktok/posts/{id}`: cancels the caller's scheduled
//! post (status `CANCELLED`, 200 with the post; again: the same). Once publishing has
//! begun, 409 `post_not_editable`; another user's post, 404 `post_not_found`. Its media
//! is not deleted (the user may reuse it).

use super::post_view::{changed, post_id};
use super::prelude::*;
use crate::store::CalendarStore;

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::DELETE)?;
    let caller = app.authenticate_writer(req).await?;
    let id = post_id(req)?;
    changed(
        app.store.cancel_post(&caller.firebase_uid, &id).await?,
        "cancelled",
    )
}

//! `GET /api/v1/social-connections/tiktok/posts/{id}`: the caller's post (another user's,
//! or unknown, is 404 `post_not_found`). While TikTok is not done with it, one
//! `/v2/post/publish/status/fetch/` moves the row on first; statuses never move back
//! (the webhook's `post.publish.*` events move them on too, without polling).

use serde::Serialize;

use super::prelude::*;
use crate::access::AccessError;
use crate::store::{PostRow, PostStatusUpdate, PostStore};
use crate::tiktok::TikTokError;

/// A status read needs either posting scope; the refusal names direct posting.
const STATUS_SCOPE: NeededScope = PUBLISH_SCOPE;

#[derive(Serialize)]
pub(crate) struct PostView {
    id: String,
    /// TikTok's, once initialised (a scheduled post has none before).
    publish_id: Option<String>,
    account_id: String,
    mode: String,
    status: String,
    fail_reason: Option<String>,
    public_post_ids: Vec<String>,
    uploaded_bytes: Option<i64>,
    #[serde(with = "crate::timestamp::option")]
    scheduled_at: Option<time::OffsetDateTime>,
    attempts: i32,
    #[serde(with = "crate::timestamp::option")]
    next_attempt_at: Option<time::OffsetDateTime>,
    #[serde(with = "crate::timestamp::option")]
    created_at: Option<time::OffsetDateTime>,
    #[serde(with = "crate::timestamp::option")]
    updated_at: Option<time::OffsetDateTime>,
}

impl From<PostRow> for PostView {
    fn from(p: PostRow) -> Self {
        PostView {
            id: p.id,
            publish_id: p.publish_id,
            account_id: p.open_id,
            mode: p.mode,
            status: p.status,
            fail_reason: p.fail_reason,
            public_post_ids: p.public_post_ids,
            uploaded_bytes: p.uploaded_bytes,
            scheduled_at: p.scheduled_at,
            attempts: p.attempts,
            next_attempt_at: p.next_attempt_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound {
        code: code::POST_NOT_FOUND,
        detail: "No such post".into(),
    }
}

/// A post id as the publish answer gives it (a UUID); anything else cannot be a post.
fn post_id(req: &Request) -> Result<String, ApiError> {
    let id = path_param(req, "id", 1).ok_or_else(not_found)?;
    let shaped = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if shaped {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(not_found())
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let id = post_id(req)?;
    let found = app
        .store
        .post_for(&caller.firebase_uid, &id)
        .await?
        // Not recorded yet (TikTok's init in flight): no publish_id, and its id was not
        // answered to anyone yet. A scheduled post is answered from its making on.
        .filter(|found| found.post.publish_id.is_some() || found.post.scheduled_at.is_some())
        .ok_or_else(not_found)?;
    let mut post = found.post;
    // A disconnected or revoked account's post is shown as last known.
    let usable = found.connection.filter(|c| c.revoked_at.is_none());
    let settled = post.is_settled(time::OffsetDateTime::now_utc());
    if let (false, Some(connection), Some(publish_id)) = (settled, usable, post.publish_id.clone())
    {
        let publish_id = &publish_id;
        let asked = app
            .tokens()
            .with_live_token(connection, |token| async move {
                app.tiktok.post_status(&token, publish_id).await
            })
            .await;
        let status = match asked {
            Ok((status, _)) => status,
            // TikTok busy (30 status calls a minute) or down: the post as last known,
            // which the webhook keeps moving on.
            Err(AccessError::TikTok(
                err @ (TikTokError::RateLimited { .. }
                | TikTokError::Unavailable(_)
                | TikTokError::NotSent(_)),
            )) => {
                tracing::info!(error = %err, "post status from the database: TikTok did not answer");
                return Ok(json_response(StatusCode::OK, &PostView::from(post)));
            }
            // TikTok does not know the publish id (yet, or for this token): no outage.
            // The post as last known; a day after it was made nothing is asked any more.
            Err(AccessError::TikTok(TikTokError::PublishIdRefused(tiktok_code))) => {
                tracing::warn!(
                    tiktok_code,
                    post = %post.id,
                    "TikTok refused the post's publish id; answered as last known"
                );
                return Ok(json_response(StatusCode::OK, &PostView::from(post)));
            }
            Err(err) => return Err(STATUS_SCOPE.refused(err)),
        };
        let update = PostStatusUpdate {
            id: post.id.clone(),
            status: status.status,
            fail_reason: status.fail_reason,
            // 64-bit numbers as exact decimal strings, so JavaScript keeps every digit.
            public_post_ids: status.public_post_ids,
            uploaded_bytes: status.uploaded_bytes,
        };
        if let Some(row) = app.store.set_post_status(&update).await? {
            post = row;
        }
    }
    Ok(json_response(StatusCode::OK, &PostView::from(post)))
}

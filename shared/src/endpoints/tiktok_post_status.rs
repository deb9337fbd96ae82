//! `GET /api/v1/social-connections/tiktok/posts/{id}`: the caller's post (another user's,
//! or unknown, is 404 `post_not_found`). While TikTok is not done with it, one
//! `/v2/post/publish/status/fetch/` moves the row on first; statuses never move back
//! (the webhook's `post.publish.*` events move them on too, without polling).

use super::post_view::{post_id, PostView};
use super::prelude::*;
use crate::access::AccessError;
use crate::store::{CapacityStore, PostStatusUpdate, PostStore};
use crate::tiktok::posting::PublishStatus;
use crate::tiktok::TikTokError;

/// A status read needs either posting scope; the refusal names direct posting.
const STATUS_SCOPE: NeededScope = PUBLISH_SCOPE;

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
        .ok_or_else(super::post_view::not_found)?;
    let mut post = found.post;
    // A disconnected or revoked account's post is shown as last known.
    let usable = found.connection.filter(|c| c.revoked_at.is_none());
    let settled = post.is_settled(time::OffsetDateTime::now_utc());
    if let (false, Some(connection), Some(publish_id)) = (settled, usable, post.publish_id.clone())
    {
        let status = match ask_status(app, connection, &publish_id).await? {
            Some(Ok(status)) => status,
            // The creator's 30 status calls of the minute are spent: as last known.
            None => {
                tracing::info!(
                    "post status from the database: the creator's status calls are spent"
                );
                return Ok(json_response(StatusCode::OK, &PostView::from(post)));
            }
            // TikTok busy (30 status calls a minute) or down: the post as last known,
            // which the webhook keeps moving on.
            Some(Err(AccessError::TikTok(
                err @ (TikTokError::RateLimited { .. }
                | TikTokError::Unavailable(_)
                | TikTokError::NotSent(_)),
            ))) => {
                tracing::info!(error = %err, "post status from the database: TikTok did not answer");
                return Ok(json_response(StatusCode::OK, &PostView::from(post)));
            }
            // TikTok does not know the publish id (yet, or for this token): no outage.
            // The post as last known; a day after it was made nothing is asked any more.
            Some(Err(AccessError::TikTok(TikTokError::PublishIdRefused(tiktok_code)))) => {
                tracing::warn!(
                    tiktok_code,
                    post = %post.id,
                    "TikTok refused the post's publish id; answered as last known"
                );
                return Ok(json_response(StatusCode::OK, &PostView::from(post)));
            }
            Some(Err(err)) => return Err(STATUS_SCOPE.refused(err)),
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

/// Asks TikTok for a post's status with the connection's live token, the call counted in
/// the capacity ledger first (TikTok allows 30 a creator a minute; reads and the
/// dispatcher share them): `None` when the creator's minute is spent, nothing sent.
pub(crate) async fn ask_status<P: Ports>(
    app: &App<P>,
    connection: crate::store::Connection,
    publish_id: &str,
) -> Result<Option<Result<PublishStatus, AccessError>>, ApiError> {
    if !app.store.reserve_status_call(connection.id).await? {
        return Ok(None);
    }
    let asked = app
        .tokens()
        .with_live_token(connection, |token| async move {
            app.tiktok.post_status(&token, publish_id).await
        })
        .await
        .map(|(status, _)| status);
    Ok(Some(asked))
}

//! Settling posts no one asks about: TikTok's webhooks move posts on, and so does a read
//! of the post; where neither comes, the dispatcher asks TikTok for the status of a post
//! still on its way (PROCESSING_*, SEND_TO_USER_INBOX) at most every
//! [`ASK_EVERY_SECONDS`], as a read would, during the post's first day. A day-old post,
//! one whose account is gone, or whose publish id TikTok no longer knows, is left as last
//! known (webhooks still move it on).

use time::OffsetDateTime;

use super::Dispatcher;
use crate::access::AccessError;
use crate::app::Ports;
use crate::jobs::Counted;
use crate::store::{ClaimedPost, PostStatusUpdate, PostStore, ScheduleStore};
use crate::tiktok::TikTokError;

/// How often a post on its way is asked about.
pub const ASK_EVERY_SECONDS: i64 = 5 * 60;

impl<P: Ports> Dispatcher<'_, P> {
    /// One status call for a post no one asked about.
    pub(super) async fn settle(&self, claimed: ClaimedPost) -> Counted {
        let post = claimed.post;
        // A day after it was made, or after its (scheduled) attempt.
        let day_old = post
            .attempted_at
            .or(post.created_at)
            .is_some_and(|at| OffsetDateTime::now_utc() - at > time::Duration::hours(24));
        let usable = claimed.connection.filter(|c| c.revoked_at.is_none());
        let (Some(connection), Some(publish_id), false) =
            (usable, post.publish_id.clone(), day_old)
        else {
            return self.stop_settling(&post.id).await;
        };
        let asked =
            crate::endpoints::tiktok_post_status::ask_status(self.app, connection, &publish_id)
                .await;
        let asked = match asked {
            Ok(Some(asked)) => asked,
            // The creator's status calls of the minute are spent: asked at the next turn.
            Ok(None) => return Counted::neutral("settle_checked"),
            Err(err) => {
                tracing::warn!(post = %post.id, error = %err, "a post's status call not counted; asked again later");
                return Counted::outage("settle_checked", "database_unavailable");
            }
        };
        let status = match asked {
            Ok(status) => status,
            Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                return Counted::neutral("settle_checked")
            }
            Err(AccessError::TikTok(TikTokError::PublishIdRefused(_))) => {
                return self.stop_settling(&post.id).await
            }
            Err(err) if err.is_reauth() => return self.stop_settling(&post.id).await,
            Err(err) => {
                tracing::warn!(post = %post.id, error = %err, "a post's status unreadable; asked again later");
                return Counted::outage("settle_checked", "tiktok_unavailable");
            }
        };
        let update = PostStatusUpdate {
            id: post.id.clone(),
            status: status.status,
            fail_reason: status.fail_reason,
            public_post_ids: status.public_post_ids,
            uploaded_bytes: status.uploaded_bytes,
        };
        match self.app.store.set_post_status(&update).await {
            Ok(_) => Counted::healthy("settle_checked"),
            Err(err) => {
                tracing::warn!(post = %post.id, error = %err, "a post's status not recorded");
                Counted::outage("settle_checked", "database_unavailable")
            }
        }
    }

    async fn stop_settling(&self, id: &str) -> Counted {
        if let Err(err) = self.app.store.stop_settling(id).await {
            tracing::warn!(post = %id, error = %err, "a settled post not marked; asked again later");
        }
        Counted::neutral("settle_checked")
    }
}

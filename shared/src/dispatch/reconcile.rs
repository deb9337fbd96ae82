//! Reconciling UNCONFIRMED posts: TikTok's answer to the init was lost, so the post may
//! exist. Where the account granted `video.list`, the dispatcher looks among its newest
//! videos for one made within 30 minutes after the attempt with the post's title (or
//! photo description); found, the post is PUBLISH_COMPLETE with the video's id. Each post
//! is looked for at most every [`LOOK_EVERY_SECONDS`]; 24 hours after the attempt, a post
//! not found stays UNCONFIRMED with `not_found_on_tiktok`. The API never sends it again:
//! the user decides (`POST posts/{id}/retry`).

use time::{Duration, OffsetDateTime};

use super::Dispatcher;
use crate::access::AccessError;
use crate::app::Ports;
use crate::endpoints::tiktok_publish::request::Publish;
use crate::endpoints::tiktok_videos::SCOPE as VIDEO_LIST;
use crate::jobs::Counted;
use crate::store::{ClaimedPost, Resolution, ScheduleStore};
use crate::tiktok::videos::Video;
use crate::tiktok::{TikTokApi, TikTokError};

/// How often one UNCONFIRMED post is looked for.
pub const LOOK_EVERY_SECONDS: i64 = 5 * 60;
/// How long after its attempt a post is looked for.
const LOOK_FOR: Duration = Duration::hours(24);
/// A video counts when TikTok made it this long after the attempt at most (its clock
/// may also run a minute behind ours).
const MADE_WITHIN: Duration = Duration::minutes(30);
const CLOCK_SKEW: Duration = Duration::minutes(1);
/// Pages of 20 videos read at most per look.
const PAGES: usize = 5;

/// The text a post's video would carry: its title (videos), else its description.
fn caption(claimed: &ClaimedPost) -> Option<String> {
    let publish: Publish = serde_json::from_value(claimed.post.request.clone()?).ok()?;
    let info = publish.post_info?;
    info.title
        .or(info.description)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Whether `video` is the post: made in the window after the attempt, with its caption.
fn is_the_post(video: &Video, caption: &str, attempted: OffsetDateTime) -> bool {
    let made = video
        .create_time
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
    let in_window =
        made.is_some_and(|m| m >= attempted - CLOCK_SKEW && m <= attempted + MADE_WITHIN);
    let same = |text: &Option<String>| text.as_deref().map(str::trim) == Some(caption);
    in_window && (same(&video.title) || same(&video.video_description))
}

impl<P: Ports> Dispatcher<'_, P> {
    /// One look for an UNCONFIRMED post among its account's videos.
    pub(super) async fn reconcile(&self, claimed: ClaimedPost) -> Counted {
        let id = claimed.post.id.clone();
        let attempted = claimed.post.attempted_at;
        let caption = caption(&claimed);
        let usable = claimed
            .connection
            .clone()
            .filter(|c| c.revoked_at.is_none() && VIDEO_LIST.check(c).is_ok());
        let (Some(connection), Some(caption), Some(attempted)) = (usable, caption, attempted)
        else {
            return self
                .resolved(&id, Resolution::Unable, "unconfirmed_unable")
                .await;
        };
        let mut cursor = None;
        for _ in 0..PAGES {
            let page = self
                .tokens
                .with_live_token(connection.clone(), |token| async move {
                    self.app.tiktok.list_videos(&token, cursor, 20).await
                })
                .await;
            let page = match page {
                Ok((page, _)) => page,
                // The creator's limit: looked for again at its next time.
                Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                    return Counted::neutral("unconfirmed_checked")
                }
                Err(err) if err.is_reauth() => {
                    return self
                        .resolved(&id, Resolution::Unable, "unconfirmed_unable")
                        .await
                }
                Err(AccessError::TikTok(TikTokError::ScopeNotAuthorized)) => {
                    return self
                        .resolved(&id, Resolution::Unable, "unconfirmed_unable")
                        .await
                }
                Err(err) => {
                    tracing::warn!(post = %id, error = %err, "videos unreadable; looked for again later");
                    return Counted::outage("unconfirmed_checked", "tiktok_unavailable");
                }
            };
            if let Some(video) = page
                .videos
                .iter()
                .find(|v| is_the_post(v, &caption, attempted))
            {
                if let Some(video_id) = video.id.clone() {
                    return self
                        .resolved(&id, Resolution::Found(video_id), "reconciled")
                        .await;
                }
            }
            // Newest first: past the attempt's window, no older page can hold it.
            let older = page
                .videos
                .iter()
                .filter_map(|v| v.create_time)
                .min()
                .is_some_and(|t| t < (attempted - CLOCK_SKEW).unix_timestamp());
            if !page.has_more || older {
                break;
            }
            cursor = page.cursor;
        }
        if OffsetDateTime::now_utc() > attempted + LOOK_FOR {
            return self
                .resolved(&id, Resolution::NotFound, "not_found_on_tiktok")
                .await;
        }
        Counted::healthy("unconfirmed_checked")
    }

    async fn resolved(&self, id: &str, resolution: Resolution, counter: &'static str) -> Counted {
        match self.app.store.resolve_unconfirmed(id, &resolution).await {
            Ok(_) => Counted::neutral(counter),
            Err(err) => {
                tracing::warn!(post = %id, error = %err, "a look's outcome not recorded; looked for again");
                Counted::outage("unconfirmed_checked", "database_unavailable")
            }
        }
    }
}

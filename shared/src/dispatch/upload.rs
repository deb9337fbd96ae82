//! A media post's server-side upload: its video streamed from S3 to TikTok's upload URL,
//! chunk by chunk (ranged GETs, one chunk in memory at a time, shared by its PUT and its
//! retries rather than copied), each chunk tried up to
//! [`CHUNK_TRIES`] times and recorded once TikTok acknowledged it. An upload the run has
//! no time left for is left to the next run at once (its lease ended), which carries on
//! after the last acknowledged chunk: the init is never sent again. An upload URL TikTok
//! no longer takes (it expires in an hour), or an object gone from the bucket, fails the
//! post (`upload_failed`, `media_missing`): TikTok publishes nothing without the whole
//! file, so a new attempt is safe.

use tokio::time::Instant;

use super::{reason, Dispatcher, UPLOAD_LEASE_SECONDS};
use crate::app::Ports;
use crate::endpoints::tiktok_publish::request::{Publish, Source};
use crate::jobs::Counted;
use crate::media::{MediaError, MediaStorage};
use crate::store::{MediaStore, PostRow, PostStatusUpdate, PostStore};
use crate::tiktok::posting::UploadPlan;
use crate::tiktok::TikTokApi;

/// Tries of one chunk (its read from S3, its PUT to TikTok) before giving up.
const CHUNK_TRIES: u32 = 3;
/// No chunk is started with less time than this left before the run's deadline.
const CHUNK_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Where a media post's video is, from its stored request.
struct MediaObject {
    key: String,
    content_type: String,
}

fn media_object(post: &PostRow) -> Option<MediaObject> {
    let publish: Publish = serde_json::from_value(post.request.clone()?).ok()?;
    match publish.source {
        Source::Media {
            object_key: Some(key),
            content_type: Some(content_type),
            ..
        } => Some(MediaObject { key, content_type }),
        _ => None,
    }
}

/// What one chunk's PUT came to.
enum ChunkSent {
    Acknowledged,
    /// A 4xx: the URL expired, or TikTok will not take this chunk.
    Refused(u16),
    /// No answer, or 5xx, after every try.
    Unreachable,
}

/// The bytes acknowledged before chunk `index`.
fn done_before(plan: &UploadPlan, index: u64) -> u64 {
    match index {
        0 => 0,
        i => plan.range(i - 1).1 + 1,
    }
}

fn pause(attempt: u32) -> tokio::time::Sleep {
    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
}

/// A chunk's bytes from S3, tried up to [`CHUNK_TRIES`] times while S3 is unavailable.
async fn read_chunk<M: MediaStorage>(
    media: &M,
    key: &str,
    (first, last): (u64, u64),
) -> Result<bytes::Bytes, MediaError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match media.read_range(key, first, last).await {
            Err(MediaError::Unavailable(_)) if tries < CHUNK_TRIES => pause(tries).await,
            answer => return answer,
        }
    }
}

impl<P: Ports> Dispatcher<'_, P> {
    /// Streams a media post's video to TikTok after its last acknowledged chunk, while
    /// the run has time.
    pub(super) async fn carry_upload(&self, post: PostRow) -> Counted {
        let Some(claim) = post.claim_token.as_deref() else {
            tracing::error!(post = %post.id, "an upload claimed without its claim token");
            return Counted::neutral("upload_left");
        };
        let (Some(stored), Some(object)) = (post.upload.clone(), media_object(&post)) else {
            tracing::error!(post = %post.id, "a media upload without its plan or object");
            return self.fail_upload(&post, reason::UPLOAD_FAILED).await;
        };
        let Ok(url) = self.app.cipher.decrypt(&stored.upload_url) else {
            tracing::error!(post = %post.id, "a stored upload URL does not decrypt: check ENCRYPTION_KEY");
            return self.fail_upload(&post, reason::UPLOAD_FAILED).await;
        };
        let Ok(media) = self.app.media() else {
            return self.leave_upload(&post, 0).await;
        };
        let plan = UploadPlan {
            video_size: stored.video_size,
            chunk_size: stored.chunk_size,
            total_chunk_count: stored.total_chunk_count,
        };
        let done = post.uploaded_bytes.unwrap_or(0).max(0) as u64;
        let first_index = (done / plan.chunk_size.max(1)).min(plan.total_chunk_count);
        for index in first_index..plan.total_chunk_count {
            if self.until.saturating_duration_since(Instant::now()) < CHUNK_TIME {
                return self.leave_upload(&post, done_before(&plan, index)).await;
            }
            let range = plan.range(index);
            let bytes = match read_chunk(media, &object.key, range).await {
                Ok(bytes) => bytes,
                Err(MediaError::NotFound) => {
                    return self.fail_upload(&post, reason::MEDIA_MISSING).await
                }
                Err(err) => {
                    tracing::warn!(post = %post.id, error = %err, "media unreadable; the upload waits");
                    self.leave_upload(&post, range.0).await;
                    return Counted::outage("upload_left", "media_unavailable");
                }
            };
            match self
                .put_chunk(&url, &object.content_type, range, &plan, bytes)
                .await
            {
                ChunkSent::Acknowledged => {}
                ChunkSent::Refused(status) => {
                    tracing::warn!(post = %post.id, status, chunk = index, "TikTok refused an upload chunk");
                    return self.fail_upload(&post, reason::UPLOAD_FAILED).await;
                }
                ChunkSent::Unreachable => {
                    self.leave_upload(&post, range.0).await;
                    return Counted::outage("upload_left", "tiktok_unavailable");
                }
            }
            let progress = self
                .app
                .store
                .record_upload_progress(&post.id, claim, (range.1 + 1) as i64, UPLOAD_LEASE_SECONDS)
                .await;
            match progress {
                Ok(true) => {}
                // Moved on meanwhile (a webhook failed it): nothing more to send.
                Ok(false) => return Counted::neutral("upload_failed"),
                Err(err) => {
                    // Unrecorded, the chunk is sent again by the run that carries on.
                    tracing::warn!(post = %post.id, error = %err, "upload progress not recorded");
                    return Counted::outage("upload_left", "database_unavailable");
                }
            }
        }
        let whole = PostStatusUpdate {
            id: post.id.clone(),
            status: "PROCESSING_UPLOAD".into(),
            fail_reason: None,
            public_post_ids: Vec::new(),
            uploaded_bytes: Some(plan.video_size as i64),
        };
        if let Err(err) = self.app.store.set_post_status(&whole).await {
            tracing::warn!(post = %post.id, error = %err, "an upload's last progress not recorded");
        }
        Counted::healthy("uploaded")
    }

    /// One chunk PUT to TikTok, tried up to [`CHUNK_TRIES`] times while TikTok does not
    /// answer, or answers 5xx or 429.
    async fn put_chunk(
        &self,
        url: &str,
        content_type: &str,
        range: (u64, u64),
        plan: &UploadPlan,
        bytes: bytes::Bytes,
    ) -> ChunkSent {
        for attempt in 1..=CHUNK_TRIES {
            let sent = self
                .app
                .tiktok
                .upload_chunk(url, content_type, range, plan.video_size, bytes.clone())
                .await;
            match sent {
                Ok(status) if (200..300).contains(&status) => return ChunkSent::Acknowledged,
                Ok(status) if status < 500 && status != 429 => return ChunkSent::Refused(status),
                _ if attempt < CHUNK_TRIES => pause(attempt).await,
                _ => {}
            }
        }
        ChunkSent::Unreachable
    }

    /// Leaves an unfinished upload to the next run at once (its lease ends now).
    pub(super) async fn leave_upload(&self, post: &PostRow, uploaded: u64) -> Counted {
        if let Some(claim) = post.claim_token.as_deref() {
            let ended = self
                .app
                .store
                .record_upload_progress(&post.id, claim, uploaded as i64, 0)
                .await;
            if let Err(err) = ended {
                tracing::warn!(post = %post.id, error = %err, "an unfinished upload's lease not ended; it lapses");
            }
        }
        Counted::neutral("upload_left")
    }

    /// The upload cannot finish: the post FAILED with `why` (only this claim's).
    async fn fail_upload(&self, post: &PostRow, why: &str) -> Counted {
        if let Some(claim) = post.claim_token.as_deref() {
            if let Err(err) = self.app.store.fail_upload(&post.id, claim, why).await {
                tracing::warn!(post = %post.id, error = %err, "a failed upload not recorded; it is tried again");
            }
        }
        Counted::neutral("upload_failed")
    }
}

//! Media rows (`tiktok_media`) and the dispatcher's server-side uploads
//! (`supabase/migrations/*_scheduled_media.sql`).

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{PostRow, StoreError};
use crate::timestamp;

/// A `tiktok_media` row: an object the browser uploads once to the media bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRow {
    pub id: String,
    pub user_id: i64,
    pub content_type: String,
    pub size: i64,
    /// `media/<user id>/<media id>` in the media bucket.
    pub object_key: String,
    /// `pending` until the object is in S3 with the declared size, then `ready`.
    pub status: String,
    #[serde(default, with = "timestamp::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub ready_at: Option<OffsetDateTime>,
    /// What its header says, once `ready` and read ([`crate::media::facts`]).
    #[serde(default)]
    pub facts: Option<MediaFacts>,
    /// Why the header could not be read (the file is not a video this API can post).
    #[serde(default)]
    pub facts_error: Option<String>,
}

/// What a video's header says ([`crate::media::facts`] reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaFacts {
    /// `mp4`, `mov` or `webm` (or `mkv`, which TikTok does not take).
    pub container: String,
    /// `h264`, `hevc`, `vp8`, `vp9`, `av1`, `mpeg4`, else the sample entry's name.
    pub codec: String,
    pub duration_ms: u64,
    pub width: u32,
    pub height: u32,
    /// Frames a second, to two decimals (`None` when the file does not say).
    pub frame_rate: Option<f64>,
}

/// What a ready object's header said: its facts, or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum FactsRead {
    Facts(MediaFacts),
    Unreadable(String),
}

/// A new media object of the caller's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewMedia {
    #[serde(rename = "p_firebase_uid")]
    pub firebase_uid: String,
    #[serde(rename = "p_content_type")]
    pub content_type: String,
    #[serde(rename = "p_size")]
    pub size: i64,
}

/// What media and the dispatcher's uploads need from the database.
pub trait MediaStore: Send + Sync {
    fn create_media(
        &self,
        media: &NewMedia,
    ) -> impl Future<Output = Result<MediaRow, StoreError>> + Send;

    /// The caller's media (`None`: unknown, or another user's).
    fn media_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<MediaRow>, StoreError>> + Send;

    /// The object is in the bucket with its declared size, and what its header said.
    fn mark_media_ready(
        &self,
        id: &str,
        facts: &FactsRead,
    ) -> impl Future<Output = Result<Option<MediaRow>, StoreError>> + Send;

    /// Claims up to `limit` media uploads a run left unfinished (their lease lapsed).
    fn claim_uploads(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> impl Future<Output = Result<Vec<PostRow>, StoreError>> + Send;

    /// TikTok acknowledged the bytes up to `uploaded_bytes`; the lease renewed. False
    /// when the upload is no longer claim `claim`'s to carry on.
    fn record_upload_progress(
        &self,
        id: &str,
        claim: &str,
        uploaded_bytes: i64,
        lease_seconds: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The upload cannot finish: FAILED with `reason` (only claim `claim`'s).
    fn fail_upload(
        &self,
        id: &str,
        claim: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

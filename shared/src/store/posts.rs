//! Posts made through the Content Posting API: the rows (`tiktok_posts`) and the port.
//! A post with an `Idempotency-Key` is reserved before TikTok is asked, so concurrent
//! retries cannot both initialise one.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Connection, StoreError};
use crate::timestamp;

/// A `tiktok_posts` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRow {
    pub id: String,
    pub user_id: i64,
    #[serde(default)]
    pub connection_id: Option<i64>,
    pub open_id: String,
    #[serde(default)]
    pub publish_id: Option<String>,
    pub mode: String,
    pub source_type: String,
    pub status: String,
    #[serde(default)]
    pub fail_reason: Option<String>,
    #[serde(default)]
    pub public_post_ids: Vec<String>,
    #[serde(default)]
    pub uploaded_bytes: Option<i64>,
    /// The video it became (its first public post id), which the analytics sync tracks.
    #[serde(default)]
    pub video_id: Option<String>,
    /// That video's latest totals (`views`, `likes`, `comments`, `shares`, `synced_at`).
    #[serde(default)]
    pub video_metrics: Option<serde_json::Value>,
    #[serde(default)]
    pub upload: Option<StoredUpload>,
    /// A scheduled post's time (none for a post made at once).
    #[serde(default, with = "timestamp::option")]
    pub scheduled_at: Option<OffsetDateTime>,
    /// A scheduled post's request, as the dispatcher will send it.
    #[serde(default)]
    pub request: Option<serde_json::Value>,
    /// The dispatcher's inits of a scheduled post so far.
    #[serde(default)]
    pub attempts: i32,
    /// When the dispatcher tries again, after a refusal that only needed time.
    #[serde(default, with = "timestamp::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the dispatcher last claimed it (its init went out at most a lease later).
    #[serde(default, with = "timestamp::option")]
    pub attempted_at: Option<OffsetDateTime>,
    /// The dispatcher's current claim (a due post's, or an unfinished upload's): only
    /// that claim records its outcome.
    #[serde(default)]
    pub claim_token: Option<String>,
    /// Until when that claim holds.
    #[serde(default, with = "timestamp::option")]
    pub lease_until: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl PostRow {
    /// Nothing more to ask TikTok: failed, public with its post ids, or a day old (an
    /// inbox upload the creator never posted, a private post that never becomes
    /// public). Until then a read asks TikTok; the webhook moves it on too.
    pub fn is_settled(&self, now: OffsetDateTime) -> bool {
        // A day after it was made, or after its (scheduled) attempt.
        let day_old = self
            .attempted_at
            .or(self.created_at)
            .is_some_and(|at| now - at > time::Duration::hours(24));
        match self.status.as_str() {
            "FAILED" | "CANCELLED" => true,
            // No publish id yet: nothing TikTok could say.
            "SCHEDULED" | "HELD" | "PUBLISHING" | "UNCONFIRMED" => true,
            "PUBLISH_COMPLETE" if !self.public_post_ids.is_empty() => true,
            _ => day_old,
        }
    }
}

/// The upload plan answered at init, with the upload URL Fernet-encrypted. `Debug`
/// leaves the URL out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUpload {
    pub upload_url: String,
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunk_count: u64,
}

impl std::fmt::Debug for StoredUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUpload")
            .field("video_size", &self.video_size)
            .field("chunk_size", &self.chunk_size)
            .field("total_chunk_count", &self.total_chunk_count)
            .finish_non_exhaustive()
    }
}

/// Who posts, with which connection, how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewPost {
    #[serde(rename = "p_user_id")]
    pub user_id: i64,
    #[serde(rename = "p_connection_id")]
    pub connection_id: i64,
    #[serde(rename = "p_open_id")]
    pub open_id: String,
    #[serde(rename = "p_mode")]
    pub mode: String,
    #[serde(rename = "p_source_type")]
    pub source_type: String,
}

/// `begin_tiktok_post`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Begun {
    /// A reservation, to fill with [`RecordPost`] or release.
    New { id: String },
    /// The same request within 24 hours: its post.
    Replay { post: Box<PostRow> },
    /// The key was used for another request.
    Mismatch,
    /// The first request with the key has not finished.
    InProgress,
    /// TikTok's answer to the key's init was lost: it may have made the post. Kept for
    /// the key's day (a new key posts again).
    Unknown,
}

/// A post TikTok initialised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordPost {
    #[serde(flatten)]
    pub post: NewPost,
    #[serde(rename = "p_publish_id")]
    pub publish_id: String,
    #[serde(rename = "p_status")]
    pub status: String,
    #[serde(rename = "p_upload", skip_serializing_if = "Option::is_none")]
    pub upload: Option<StoredUpload>,
    /// The reservation to fill.
    #[serde(rename = "p_id", skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// What TikTok says of a post now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostStatusUpdate {
    #[serde(rename = "p_id")]
    pub id: String,
    #[serde(rename = "p_status")]
    pub status: String,
    #[serde(rename = "p_fail_reason", skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    #[serde(rename = "p_public_post_ids")]
    pub public_post_ids: Vec<String>,
    #[serde(rename = "p_uploaded_bytes", skip_serializing_if = "Option::is_none")]
    pub uploaded_bytes: Option<i64>,
}

/// A caller's post and the connection it was made with (gone after a disconnect).
#[derive(Debug, Clone, Deserialize)]
pub struct PostWithConnection {
    pub post: PostRow,
    #[serde(default)]
    pub connection: Option<Connection>,
}

/// What publishing needs from the database.
pub trait PostStore: Send + Sync {
    /// Reserves `key` for this request (`request_hash`) of the user, or says why not.
    fn begin_post(
        &self,
        post: &NewPost,
        key: &str,
        request_hash: &str,
    ) -> impl Future<Output = Result<Begun, StoreError>> + Send;

    /// Records a post TikTok initialised (filling its reservation, if any).
    fn record_post(
        &self,
        record: &RecordPost,
    ) -> impl Future<Output = Result<PostRow, StoreError>> + Send;

    /// Removes a reservation whose init TikTok refused.
    fn release_post(
        &self,
        id: &str,
        user_id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps a reservation whose init's outcome is unknown (TikTok may have made the
    /// post) for its key's day.
    fn mark_post_unknown(
        &self,
        id: &str,
        user_id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The caller's post (`None`: unknown, or another user's).
    fn post_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<PostWithConnection>, StoreError>> + Send;

    /// Moves a post on (never back); the row as it now is.
    fn set_post_status(
        &self,
        update: &PostStatusUpdate,
    ) -> impl Future<Output = Result<Option<PostRow>, StoreError>> + Send;
}

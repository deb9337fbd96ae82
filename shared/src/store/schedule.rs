//! Scheduled posts (`supabase/migrations/*_scheduled_posts.sql`): made once, claimed by
//! the dispatcher when due, and settled with what TikTok answered, each init at most once.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Connection, NewPost, PostRow, StoreError};
use crate::timestamp;

/// A post to schedule: who posts how, the request the dispatcher will send, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulePost {
    #[serde(flatten)]
    pub post: NewPost,
    #[serde(rename = "p_request")]
    pub request: serde_json::Value,
    #[serde(rename = "p_scheduled_at", serialize_with = "timestamp::serialize")]
    pub scheduled_at: OffsetDateTime,
    #[serde(rename = "p_idempotency_key", skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(rename = "p_request_hash", skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
}

/// `schedule_tiktok_post`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Scheduled {
    /// Scheduled now.
    New { post: Box<PostRow> },
    /// The same request with the same Idempotency-Key within 24 hours: its post.
    Replay { post: Box<PostRow> },
    /// The key was used for another request.
    Mismatch,
}

/// A post the dispatcher claimed (now `PUBLISHING`, its attempt counted), with the
/// connection it posts with (none once disconnected).
#[derive(Debug, Clone, Deserialize)]
pub struct ClaimedPost {
    pub post: PostRow,
    #[serde(default)]
    pub connection: Option<Connection>,
}

/// What became of a claimed post's attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatched {
    /// TikTok took the init: its publish id and the post's first status (and, for a
    /// FILE_UPLOAD, the plan with its URL encrypted, stored before any byte is sent).
    Initiated {
        publish_id: String,
        status: String,
        upload: Option<super::StoredUpload>,
    },
    /// TikTok refused for a reason that only needs time: due again then.
    Rescheduled {
        at: OffsetDateTime,
        reason: &'static str,
    },
    /// Not sent: a known cap is full (the capacity ledger). HELD until its slot, the cap
    /// its reason; not counted as an attempt.
    Held {
        until: OffsetDateTime,
        reason: String,
    },
    /// TikTok made no post, and will not: FAILED with the reason.
    Failed { reason: String },
    /// TikTok's answer was lost: it may have made the post. The user decides.
    Unconfirmed { reason: &'static str },
}

/// `settle_tiktok_dispatch`'s arguments.
#[derive(Serialize)]
pub struct Settle<'a> {
    #[serde(rename = "p_id")]
    pub id: &'a str,
    #[serde(rename = "p_claim")]
    pub claim: &'a str,
    #[serde(rename = "p_outcome")]
    pub outcome: &'static str,
    #[serde(rename = "p_publish_id", skip_serializing_if = "Option::is_none")]
    pub publish_id: Option<&'a str>,
    #[serde(rename = "p_status", skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
    #[serde(rename = "p_fail_reason", skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<&'a str>,
    #[serde(
        rename = "p_next_attempt_at",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(rename = "p_upload", skip_serializing_if = "Option::is_none")]
    pub upload: Option<&'a super::StoredUpload>,
}

impl<'a> Settle<'a> {
    pub fn new(id: &'a str, claim: &'a str, outcome: &'a Dispatched) -> Settle<'a> {
        let mut settle = Settle {
            id,
            claim,
            outcome: "failed",
            publish_id: None,
            status: None,
            fail_reason: None,
            next_attempt_at: None,
            upload: None,
        };
        match outcome {
            Dispatched::Initiated {
                publish_id,
                status,
                upload,
            } => {
                settle.outcome = "initiated";
                settle.publish_id = Some(publish_id);
                settle.status = Some(status);
                settle.upload = upload.as_ref();
            }
            Dispatched::Rescheduled { at, reason } => {
                settle.outcome = "rescheduled";
                settle.next_attempt_at = Some(*at);
                settle.fail_reason = Some(reason);
            }
            Dispatched::Failed { reason } => settle.fail_reason = Some(reason),
            // Settled by `hold_tiktok_claim` instead; as a reschedule should it come here.
            Dispatched::Held { until, reason } => {
                settle.outcome = "rescheduled";
                settle.next_attempt_at = Some(*until);
                settle.fail_reason = Some(reason);
            }
            Dispatched::Unconfirmed { reason } => {
                settle.outcome = "unconfirmed";
                settle.fail_reason = Some(reason);
            }
        }
        settle
    }
}

/// What a look for an UNCONFIRMED post among the account's videos found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The video TikTok made of it: PUBLISH_COMPLETE with its id.
    Found(String),
    /// Not there 24 hours after the attempt: no more looks (`not_found_on_tiktok`).
    NotFound,
    /// The account cannot be asked (gone, no `video.list`): no more looks.
    Unable,
}

/// What scheduling and the dispatcher need from the database.
pub trait ScheduleStore: Send + Sync {
    /// Schedules a post (with its Idempotency-Key, if any).
    fn schedule_post(
        &self,
        post: &SchedulePost,
    ) -> impl Future<Output = Result<Scheduled, StoreError>> + Send;

    /// Claims up to `limit` due posts for `lease_seconds`; empty when none is due.
    fn claim_due_posts(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> impl Future<Output = Result<Vec<ClaimedPost>, StoreError>> + Send;

    /// Records what became of claim `claim` of post `id`; `None` when the post is no
    /// longer that claim's (its lease lapsed, the user retried it since).
    fn settle_dispatch(
        &self,
        id: &str,
        claim: &str,
        outcome: &Dispatched,
    ) -> impl Future<Output = Result<Option<PostRow>, StoreError>> + Send;

    /// Puts a claimed post whose init was not sent back to SCHEDULED (only that claim's).
    fn release_claim(
        &self,
        id: &str,
        claim: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Posts due now (counted up to 10,000).
    fn count_due_posts(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Claims up to `limit` UNCONFIRMED posts due a look, each not again for
    /// `every_seconds`.
    fn claim_unconfirmed_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> impl Future<Output = Result<Vec<ClaimedPost>, StoreError>> + Send;

    /// Claims up to `limit` posts on their way that no one asked TikTok about for
    /// `every_seconds`.
    fn claim_unsettled_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> impl Future<Output = Result<Vec<ClaimedPost>, StoreError>> + Send;

    /// No more asking TikTok about this post (it stays as last known).
    fn stop_settling(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records what a look found (only an UNCONFIRMED post changes).
    fn resolve_unconfirmed(
        &self,
        id: &str,
        resolution: &Resolution,
    ) -> impl Future<Output = Result<Option<PostRow>, StoreError>> + Send;
}

/// A page of the caller's posts, newest first (by `scheduled_at`, else `created_at`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostQuery {
    #[serde(rename = "p_firebase_uid")]
    pub firebase_uid: String,
    /// One TikTok account's posts only.
    #[serde(rename = "p_open_id", skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    #[serde(rename = "p_statuses", skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<String>>,
    #[serde(
        rename = "p_from",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub from: Option<OffsetDateTime>,
    #[serde(
        rename = "p_to",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub to: Option<OffsetDateTime>,
    /// Paging on: posts before this one (its time and id) only.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub before: Option<PageMark>,
    #[serde(rename = "p_limit")]
    pub limit: i64,
}

/// Where a page ended: its last post's time and id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageMark {
    #[serde(rename = "p_before_at", serialize_with = "timestamp::serialize_exact")]
    pub at: OffsetDateTime,
    #[serde(rename = "p_before_id")]
    pub id: String,
}

/// What a change of a scheduled post found.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Changed {
    /// Changed (or, cancelling a cancelled post, as it was).
    Changed { post: Box<PostRow> },
    /// Publishing has begun (or it is no scheduled post): unchanged.
    NotEditable { post: Box<PostRow> },
    /// Not the caller's post.
    NotFound,
}

/// `change_scheduled_tiktok_post`'s arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostChange {
    #[serde(rename = "p_firebase_uid")]
    pub firebase_uid: String,
    #[serde(rename = "p_id")]
    pub id: String,
    /// The request with its new post_info (or time), as the dispatcher will send it.
    #[serde(rename = "p_request")]
    pub request: serde_json::Value,
    #[serde(
        rename = "p_scheduled_at",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_at: Option<OffsetDateTime>,
}

/// The calendar's reads and changes.
pub trait CalendarStore: Send + Sync {
    /// A page of the caller's posts (up to `query.limit`).
    fn list_posts(
        &self,
        query: &PostQuery,
    ) -> impl Future<Output = Result<Vec<PostRow>, StoreError>> + Send;

    /// The caller's post with its stored request, for a change (`None`: not theirs).
    fn change_post(
        &self,
        change: &PostChange,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;

    /// Cancels the caller's scheduled post.
    fn cancel_post(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;

    /// A new attempt of the caller's UNCONFIRMED or FAILED scheduled post, due now.
    fn retry_post(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
}

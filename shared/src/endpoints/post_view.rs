//! A post as every posts endpoint answers it (the contract's `Post`), and the post id of
//! a request's path.

use serde::Serialize;

use super::prelude::*;
use crate::store::{Changed, PostRow};

#[derive(Serialize)]
pub struct PostView {
    id: String,
    /// TikTok's, once initialised (a scheduled post has none before).
    publish_id: Option<String>,
    account_id: String,
    mode: String,
    status: String,
    fail_reason: Option<String>,
    public_post_ids: Vec<String>,
    uploaded_bytes: Option<i64>,
    /// The video it became, once TikTok published it, and its latest totals.
    video_id: Option<String>,
    metrics: Option<serde_json::Value>,
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
            video_id: p.video_id,
            metrics: p.video_metrics,
            scheduled_at: p.scheduled_at,
            attempts: p.attempts,
            next_attempt_at: p.next_attempt_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

pub fn not_found() -> ApiError {
    ApiError::NotFound {
        code: code::POST_NOT_FOUND,
        detail: "No such post".into(),
    }
}

/// A post id as the publish answer gives it (a UUID); anything else cannot be a post.
pub fn post_id(req: &Request) -> Result<String, ApiError> {
    post_id_at(req, 1)
}

/// As [`post_id`], for a path whose id is segment `from_end` from its end (1: the last).
pub fn post_id_at(req: &Request, from_end: usize) -> Result<String, ApiError> {
    super::path_uuid(req, from_end, not_found)
}

/// The answer to a change of a scheduled post: 200 with the post; 409
/// `post_not_editable` once publishing has begun; 404 `post_not_found` for a post that is
/// not the caller's.
pub fn changed(outcome: Changed, what: &str) -> Outcome {
    match outcome {
        Changed::Changed { post } => Ok(json_response(StatusCode::OK, &PostView::from(*post))),
        Changed::NotEditable { post } => Err(ApiError::conflict(
            code::POST_NOT_EDITABLE,
            format!("This post cannot be {what}: it is {}", post.status),
        )),
        Changed::NotFound => Err(not_found()),
    }
}

//! The in-memory posts, with the SQL functions' rules: a key reserved once per user for
//! 24 hours, statuses that only move forward, posts readable by their owner only.

use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::store::*;

/// A post row and the Idempotency-Key it was made with.
#[derive(Debug, Clone)]
pub(super) struct MemPost {
    pub(super) row: PostRow,
    pub(super) key: Option<(String, String)>,
    /// A reservation whose init's outcome is unknown.
    pub(super) unknown: bool,
}

/// The order of the statuses (`tiktok_post_status_rank`).
fn rank(status: &str) -> i32 {
    match status {
        "INITIALIZING" => 0,
        "PROCESSING_UPLOAD" | "PROCESSING_DOWNLOAD" => 1,
        "SEND_TO_USER_INBOX" => 2,
        "PUBLISH_COMPLETE" | "FAILED" | "CANCELLED" => 3,
        _ => -1,
    }
}

/// Moves a post on, never back (`apply_tiktok_post_status`).
pub(super) fn apply_status(
    row: &mut PostRow,
    status: &str,
    fail_reason: Option<&str>,
    public_post_ids: &[String],
    uploaded_bytes: Option<i64>,
) {
    if rank(status) > rank(&row.status) {
        row.status = status.to_owned();
        if status == "FAILED" {
            row.fail_reason = fail_reason.map(str::to_owned);
        }
    }
    if !public_post_ids.is_empty() {
        row.public_post_ids = public_post_ids.to_vec();
    }
    row.uploaded_bytes = uploaded_bytes.or(row.uploaded_bytes);
    // As the SQL's trigger: the video a published post became.
    if let Some(first) = row.public_post_ids.first() {
        row.video_id = Some(first.clone());
    }
    row.updated_at = Some(OffsetDateTime::now_utc());
}

pub(super) fn new_row(post: &NewPost, id: String) -> PostRow {
    let now = OffsetDateTime::now_utc();
    PostRow {
        id,
        user_id: post.user_id,
        connection_id: Some(post.connection_id),
        open_id: post.open_id.clone(),
        publish_id: None,
        mode: post.mode.clone(),
        source_type: post.source_type.clone(),
        status: "INITIALIZING".into(),
        fail_reason: None,
        public_post_ids: Vec::new(),
        uploaded_bytes: None,
        video_id: None,
        video_metrics: None,
        upload: None,
        scheduled_at: None,
        request: None,
        attempts: 0,
        next_attempt_at: None,
        attempted_at: None,
        claim_token: None,
        lease_until: None,
        created_at: Some(now),
        updated_at: Some(now),
    }
}

impl PostStore for MemoryStore {
    async fn begin_post(
        &self,
        post: &NewPost,
        key: &str,
        request_hash: &str,
    ) -> Result<Begun, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let found = state.posts.iter().position(|p| {
            p.row.user_id == post.user_id && p.key.as_ref().is_some_and(|(k, _)| k == key)
        });
        if let Some(at) = found {
            let existing = &state.posts[at];
            let created = existing.row.created_at.unwrap_or(now);
            if created <= now - Duration::hours(24) {
                state.posts[at].key = None;
            } else if existing
                .key
                .as_ref()
                .is_some_and(|(_, h)| h != request_hash)
            {
                return Ok(Begun::Mismatch);
            } else if existing.row.publish_id.is_some() {
                return Ok(Begun::Replay {
                    post: Box::new(existing.row.clone()),
                });
            } else if !existing.unknown && created > now - Duration::seconds(60) {
                return Ok(Begun::InProgress);
            } else {
                // The outcome is unknown (TikTok may have made the post): for the key's
                // day. (The PostgREST store also adopts a post TikTok told of since.)
                return Ok(Begun::Unknown);
            }
        }
        let id = format!("00000000-0000-4000-8000-{:012}", state.id());
        state.posts.push(MemPost {
            row: new_row(post, id.clone()),
            key: Some((key.to_owned(), request_hash.to_owned())),
            unknown: false,
        });
        Ok(Begun::New { id })
    }

    async fn record_post(&self, record: &RecordPost) -> Result<PostRow, StoreError> {
        let mut state = self.state()?;
        let reserved = state.posts.iter_mut().find(|p| {
            record.reservation.as_deref() == Some(p.row.id.as_str())
                && p.row.user_id == record.post.user_id
                && p.row.publish_id.is_none()
        });
        let row = match reserved {
            Some(post) => &mut post.row,
            None => {
                let id = format!("00000000-0000-4000-8000-{:012}", state.id());
                state.posts.push(MemPost {
                    row: new_row(&record.post, id),
                    key: None,
                    unknown: false,
                });
                &mut state.posts.last_mut().expect("pushed").row
            }
        };
        row.publish_id = Some(record.publish_id.clone());
        row.status = record.status.clone();
        row.upload = record.upload.clone();
        Ok(row.clone())
    }

    async fn release_post(&self, id: &str, user_id: i64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        state.posts.retain(|p| {
            !(p.row.id == id && p.row.user_id == user_id && p.row.publish_id.is_none())
        });
        Ok(())
    }

    async fn mark_post_unknown(&self, id: &str, user_id: i64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for post in state.posts.iter_mut() {
            if post.row.id == id && post.row.user_id == user_id && post.row.publish_id.is_none() {
                post.unknown = true;
            }
        }
        Ok(())
    }

    async fn post_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> Result<Option<PostWithConnection>, StoreError> {
        let state = self.state()?;
        let Some(user) = state.user_by_uid(firebase_uid).map(|u| u.row.id) else {
            return Ok(None);
        };
        Ok(state
            .posts
            .iter()
            .find(|p| {
                p.row.id == id
                    && p.row.user_id == user
                    && (p.row.publish_id.is_some() || p.row.scheduled_at.is_some())
            })
            .map(|p| PostWithConnection {
                post: p.row.clone(),
                connection: p
                    .row
                    .connection_id
                    .and_then(|c| state.connections.get(&c).cloned()),
            }))
    }

    async fn set_post_status(
        &self,
        update: &PostStatusUpdate,
    ) -> Result<Option<PostRow>, StoreError> {
        let mut state = self.state()?;
        Ok(state
            .posts
            .iter_mut()
            .find(|p| p.row.id == update.id)
            .map(|p| {
                apply_status(
                    &mut p.row,
                    &update.status,
                    update.fail_reason.as_deref(),
                    &update.public_post_ids,
                    update.uploaded_bytes,
                );
                p.row.clone()
            }))
    }
}

//! The in-memory scheduled posts, with the SQL functions' rules: a key per user for 24
//! hours, one claim per due post (SCHEDULED -> PUBLISHING, its attempt counted), a lapsed
//! claim without a publish id UNCONFIRMED, a settle only for the claim's own attempt.

use time::{Duration, OffsetDateTime};

use super::posts::{new_row, MemPost};
use super::MemoryStore;
use crate::store::*;

fn due_at(row: &PostRow) -> Option<OffsetDateTime> {
    row.next_attempt_at.or(row.scheduled_at)
}

impl ScheduleStore for MemoryStore {
    async fn schedule_post(&self, post: &SchedulePost) -> Result<Scheduled, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        if let Some(key) = &post.idempotency_key {
            let found = state.posts.iter().position(|p| {
                p.row.user_id == post.post.user_id && p.key.as_ref().is_some_and(|(k, _)| k == key)
            });
            if let Some(at) = found {
                let existing = &state.posts[at];
                if existing.row.created_at.unwrap_or(now) <= now - Duration::hours(24) {
                    state.posts[at].key = None;
                } else if existing.key.as_ref().map(|(_, h)| Some(h))
                    != Some(post.request_hash.as_ref())
                {
                    return Ok(Scheduled::Mismatch);
                } else {
                    return Ok(Scheduled::Replay {
                        post: Box::new(existing.row.clone()),
                    });
                }
            }
        }
        let id = format!("00000000-0000-4000-8000-{:012}", state.id());
        let mut row = new_row(&post.post, id);
        row.status = "SCHEDULED".into();
        row.scheduled_at = Some(post.scheduled_at);
        row.request = Some(post.request.clone());
        let key = post.idempotency_key.clone().zip(post.request_hash.clone());
        state.posts.push(MemPost {
            row: row.clone(),
            key,
            unknown: false,
        });
        Ok(Scheduled::New {
            post: Box::new(row),
        })
    }

    async fn claim_due_posts(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        for post in state.posts.iter_mut() {
            let lapsed = post.row.status == "PUBLISHING"
                && post.row.publish_id.is_none()
                && post.row.lease_until.is_some_and(|until| until < now);
            if lapsed {
                post.row.status = "UNCONFIRMED".into();
                post.row.fail_reason = Some("init_outcome_unknown".into());
            }
        }
        let held_long: Vec<String> = state
            .held_since
            .iter()
            .filter(|(_, since)| now - **since > Duration::hours(24))
            .map(|(id, _)| id.clone())
            .collect();
        for id in held_long {
            state.held_since.remove(&id);
            if let Some(post) = state
                .posts
                .iter_mut()
                .find(|p| p.row.id == id && p.row.status == "HELD")
            {
                post.row.status = "FAILED".into();
                post.row.next_attempt_at = None;
            }
        }
        let mut due: Vec<usize> = (0..state.posts.len())
            .filter(|&i| {
                let row = &state.posts[i].row;
                matches!(row.status.as_str(), "SCHEDULED" | "HELD")
                    && due_at(row).is_some_and(|at| at <= now)
            })
            .collect();
        due.sort_by_key(|&i| (due_at(&state.posts[i].row), state.posts[i].row.scheduled_at));
        due.truncate(limit.max(0) as usize);
        let mut claimed = Vec::with_capacity(due.len());
        for i in due {
            let token = format!("00000000-0000-4000-a000-{:012}", state.id());
            let row = &mut state.posts[i].row;
            row.status = "PUBLISHING".into();
            row.attempts += 1;
            row.attempted_at = Some(now);
            row.claim_token = Some(token);
            row.lease_until = Some(now + Duration::seconds(lease_seconds));
            row.updated_at = Some(now);
            let row = row.clone();
            let connection = row
                .connection_id
                .and_then(|c| state.connections.get(&c).cloned());
            claimed.push(ClaimedPost {
                post: row,
                connection,
            });
        }
        Ok(claimed)
    }

    async fn settle_dispatch(
        &self,
        id: &str,
        claim: &str,
        outcome: &Dispatched,
    ) -> Result<Option<PostRow>, StoreError> {
        let mut state = self.state()?;
        let Some(post) = state.posts.iter_mut().find(|p| {
            p.row.id == id
                && p.row.status == "PUBLISHING"
                && p.row.claim_token.as_deref() == Some(claim)
        }) else {
            return Ok(None);
        };
        let row = &mut post.row;
        row.claim_token = None;
        row.lease_until = None;
        match outcome {
            Dispatched::Initiated {
                publish_id,
                status,
                upload,
            } => {
                row.publish_id = Some(publish_id.clone());
                row.status = status.clone();
                row.fail_reason = None;
                if upload.is_some() {
                    row.upload = upload.clone();
                    row.uploaded_bytes = Some(0);
                }
            }
            Dispatched::Rescheduled { at, reason } => {
                row.status = "SCHEDULED".into();
                row.next_attempt_at = Some(*at);
                row.fail_reason = Some((*reason).to_owned());
            }
            Dispatched::Held { until, reason } => {
                row.status = "HELD".into();
                row.next_attempt_at = Some(*until);
                row.fail_reason = Some(reason.clone());
                row.attempts = (row.attempts - 1).max(0);
                let held = row.clone();
                state
                    .held_since
                    .entry(held.id.clone())
                    .or_insert_with(OffsetDateTime::now_utc);
                return Ok(Some(held));
            }
            Dispatched::Failed { reason } => {
                row.status = "FAILED".into();
                row.fail_reason = Some(reason.clone());
            }
            Dispatched::Unconfirmed { reason } => {
                row.status = "UNCONFIRMED".into();
                row.fail_reason = Some((*reason).to_owned());
            }
        }
        row.updated_at = Some(OffsetDateTime::now_utc());
        Ok(Some(row.clone()))
    }

    async fn claim_unconfirmed_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let mut claimed = Vec::new();
        for i in 0..state.posts.len() {
            if claimed.len() as i64 >= limit {
                break;
            }
            let row = &state.posts[i].row;
            let looked = state
                .reconcile_at
                .get(&row.id)
                .copied()
                .or(row.attempted_at);
            let due = row.status == "UNCONFIRMED"
                && row.fail_reason.as_deref() == Some("init_outcome_unknown")
                && looked.is_some_and(|at| at <= now);
            if due {
                let (id, row) = (row.id.clone(), row.clone());
                let connection = row
                    .connection_id
                    .and_then(|c| state.connections.get(&c).cloned());
                claimed.push(ClaimedPost {
                    post: row,
                    connection,
                });
                state
                    .reconcile_at
                    .insert(id, now + Duration::seconds(every_seconds));
            }
        }
        Ok(claimed)
    }

    async fn claim_unsettled_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let mut claimed = Vec::new();
        for i in 0..state.posts.len() {
            if claimed.len() as i64 >= limit {
                break;
            }
            let row = &state.posts[i].row;
            let asked = state.settle_at.get(&row.id).copied().or(row.updated_at);
            let on_its_way = row.publish_id.is_some()
                && matches!(
                    row.status.as_str(),
                    "PROCESSING_UPLOAD" | "PROCESSING_DOWNLOAD" | "SEND_TO_USER_INBOX"
                );
            let uploading = row.source_type == "media"
                && row
                    .upload
                    .as_ref()
                    .is_some_and(|u| (row.uploaded_bytes.unwrap_or(0) as u64) < u.video_size);
            let due = asked.is_some_and(|at| at <= now - Duration::seconds(every_seconds));
            if on_its_way && !uploading && due {
                let (id, row) = (row.id.clone(), row.clone());
                let connection = row
                    .connection_id
                    .and_then(|c| state.connections.get(&c).cloned());
                claimed.push(ClaimedPost {
                    post: row,
                    connection,
                });
                state.settle_at.insert(id, now);
            }
        }
        Ok(claimed)
    }

    async fn stop_settling(&self, id: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        state.settle_at.insert(
            id.to_owned(),
            OffsetDateTime::now_utc() + Duration::days(36500),
        );
        Ok(())
    }

    async fn resolve_unconfirmed(
        &self,
        id: &str,
        resolution: &Resolution,
    ) -> Result<Option<PostRow>, StoreError> {
        let mut state = self.state()?;
        let Some(post) = state
            .posts
            .iter_mut()
            .find(|p| p.row.id == id && p.row.status == "UNCONFIRMED")
        else {
            return Ok(None);
        };
        match resolution {
            Resolution::Found(video) => {
                post.row.status = "PUBLISH_COMPLETE".into();
                post.row.public_post_ids = vec![video.clone()];
                post.row.fail_reason = None;
            }
            Resolution::NotFound => post.row.fail_reason = Some("not_found_on_tiktok".into()),
            Resolution::Unable => {}
        }
        let row = post.row.clone();
        state.reconcile_at.insert(
            id.to_owned(),
            OffsetDateTime::now_utc() + Duration::days(36500),
        );
        Ok(Some(row))
    }

    async fn release_claim(&self, id: &str, claim: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(post) = state.posts.iter_mut().find(|p| {
            p.row.id == id
                && p.row.status == "PUBLISHING"
                && p.row.claim_token.as_deref() == Some(claim)
                && p.row.publish_id.is_none()
        }) {
            post.row.status = "SCHEDULED".into();
            post.row.attempts = (post.row.attempts - 1).max(0);
            post.row.claim_token = None;
            post.row.lease_until = None;
        }
        Ok(())
    }

    async fn count_due_posts(&self) -> Result<i64, StoreError> {
        let state = self.state()?;
        let now = OffsetDateTime::now_utc();
        Ok(state
            .posts
            .iter()
            .filter(|p| p.row.status == "SCHEDULED" && due_at(&p.row).is_some_and(|at| at <= now))
            .count() as i64)
    }
}

/// The caller's post (with a publish id, or scheduled): its index.
fn caller_post(state: &super::state::State, firebase_uid: &str, id: &str) -> Option<usize> {
    let user = state.user_by_uid(firebase_uid)?.row.id;
    state.posts.iter().position(|p| {
        p.row.id == id
            && p.row.user_id == user
            && (p.row.publish_id.is_some() || p.row.scheduled_at.is_some())
    })
}

fn time_of(row: &PostRow) -> Option<OffsetDateTime> {
    row.scheduled_at.or(row.created_at)
}

impl CalendarStore for MemoryStore {
    async fn list_posts(&self, query: &PostQuery) -> Result<Vec<PostRow>, StoreError> {
        let state = self.state()?;
        let Some(user) = state.user_by_uid(&query.firebase_uid).map(|u| u.row.id) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<PostRow> = state
            .posts
            .iter()
            .map(|p| &p.row)
            .filter(|r| r.user_id == user && (r.publish_id.is_some() || r.scheduled_at.is_some()))
            .filter(|r| query.open_id.as_ref().is_none_or(|o| &r.open_id == o))
            .filter(|r| {
                query
                    .statuses
                    .as_ref()
                    .is_none_or(|s| s.contains(&r.status))
            })
            .filter(|r| query.from.is_none_or(|from| time_of(r) >= Some(from)))
            .filter(|r| query.to.is_none_or(|to| time_of(r) < Some(to)))
            .filter(|r| {
                query
                    .before
                    .as_ref()
                    .is_none_or(|b| (time_of(r), r.id.as_str()) < (Some(b.at), b.id.as_str()))
            })
            .cloned()
            .collect();
        rows.sort_by(|a, b| (time_of(b), &b.id).cmp(&(time_of(a), &a.id)));
        rows.truncate(query.limit.clamp(1, 101) as usize);
        Ok(rows)
    }

    async fn change_post(&self, change: &PostChange) -> Result<Changed, StoreError> {
        let mut state = self.state()?;
        let Some(at) = caller_post(&state, &change.firebase_uid, &change.id) else {
            return Ok(Changed::NotFound);
        };
        let row = &mut state.posts[at].row;
        if !matches!(row.status.as_str(), "SCHEDULED" | "HELD") {
            return Ok(Changed::NotEditable {
                post: Box::new(row.clone()),
            });
        }
        row.request = Some(change.request.clone());
        if let Some(when) = change.scheduled_at {
            row.scheduled_at = Some(when);
            row.next_attempt_at = None;
            if row.status == "HELD" {
                row.status = "SCHEDULED".into();
                row.fail_reason = None;
            }
        }
        Ok(Changed::Changed {
            post: Box::new(row.clone()),
        })
    }

    async fn cancel_post(&self, firebase_uid: &str, id: &str) -> Result<Changed, StoreError> {
        let mut state = self.state()?;
        let Some(at) = caller_post(&state, firebase_uid, id) else {
            return Ok(Changed::NotFound);
        };
        let row = &mut state.posts[at].row;
        match row.status.as_str() {
            "CANCELLED" => {}
            "SCHEDULED" | "HELD" => {
                row.status = "CANCELLED".into();
                row.next_attempt_at = None;
            }
            _ => {
                return Ok(Changed::NotEditable {
                    post: Box::new(row.clone()),
                })
            }
        }
        Ok(Changed::Changed {
            post: Box::new(row.clone()),
        })
    }

    async fn retry_post(&self, firebase_uid: &str, id: &str) -> Result<Changed, StoreError> {
        let mut state = self.state()?;
        let Some(at) = caller_post(&state, firebase_uid, id) else {
            return Ok(Changed::NotFound);
        };
        let row = &mut state.posts[at].row;
        if !matches!(row.status.as_str(), "UNCONFIRMED" | "FAILED") || row.request.is_none() {
            return Ok(Changed::NotEditable {
                post: Box::new(row.clone()),
            });
        }
        row.status = "SCHEDULED".into();
        row.publish_id = None;
        row.fail_reason = None;
        row.public_post_ids.clear();
        row.uploaded_bytes = None;
        row.attempts = 0;
        row.next_attempt_at = Some(OffsetDateTime::now_utc());
        Ok(Changed::Changed {
            post: Box::new(row.clone()),
        })
    }
}

//! The in-memory connection health: webhook deliveries recorded once, revocations,
//! and the sweep's claims, with the SQL functions' rules.

use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::store::*;

impl HealthStore for MemoryStore {
    async fn record_tiktok_webhook(
        &self,
        event: &WebhookEvent,
    ) -> Result<WebhookOutcome, StoreError> {
        let mut state = self.state()?;
        if !state.webhook_keys.insert(event.event_key.clone()) {
            return Ok(WebhookOutcome {
                duplicate: true,
                revoked: 0,
                posts: 0,
            });
        }
        let mut revoked = 0;
        let posts = i64::from(post_event(&mut state.posts, event));
        if let ("authorization.removed", Some(open_id)) = (event.event.as_str(), &event.user_openid)
        {
            let reason = event
                .content
                .get("reason")
                .and_then(|r| r.as_i64())
                .filter(|r| (0..=5).contains(r))
                .unwrap_or(0) as i16;
            // A late delivery does not clear a grant made after the event.
            let happened = event
                .create_time
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
            for c in state.connections.values_mut() {
                let newer_grant = happened
                    .zip(c.refreshed_at)
                    .is_some_and(|(at, r)| r.unix_timestamp() > at.unix_timestamp());
                if c.provider == "tiktok" && &c.provider_account_id == open_id && !newer_grant {
                    c.revoked_at = Some(OffsetDateTime::now_utc());
                    c.revoked_reason = Some(reason);
                    c.access_token = Some(String::new());
                    c.refresh_token = None;
                    revoked += 1;
                }
            }
        }
        Ok(WebhookOutcome {
            duplicate: false,
            revoked,
            posts,
        })
    }

    async fn claim_due_connections(
        &self,
        limit: i64,
        stale_before: OffsetDateTime,
        lease_seconds: i64,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let mut due: Vec<Connection> = state
            .connections
            .values()
            .filter(|c| is_due(c, stale_before, now))
            .filter(|c| !state.reauth_required.contains_key(&c.id))
            .filter(|c| state.claims.get(&c.id).is_none_or(|until| *until < now))
            // As in SQL: a refresh needs no metadata, and a batch stays small.
            .map(|c| Connection {
                metadata: None,
                ..c.clone()
            })
            .collect();
        due.sort_by_key(|c| c.refreshed_at);
        due.truncate(usize::try_from(limit).unwrap_or(0));
        for c in &due {
            state
                .claims
                .insert(c.id, now + Duration::seconds(lease_seconds));
        }
        Ok(due)
    }

    async fn count_due_connections(&self, stale_before: OffsetDateTime) -> Result<i64, StoreError> {
        let state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let due = state
            .connections
            .values()
            .filter(|c| is_due(c, stale_before, now) && !state.reauth_required.contains_key(&c.id))
            .count();
        Ok(due as i64)
    }
}

/// A `post.publish.*` event moves its post on (`record_tiktok_webhook`); whether one did.
fn post_event(posts: &mut [super::posts::MemPost], event: &WebhookEvent) -> bool {
    let text = |name: &str| event.content.get(name).and_then(|v| v.as_str());
    let Some(publish_id) = text("publish_id").filter(|_| event.event.starts_with("post.publish."))
    else {
        return false;
    };
    let Some(post) = posts.iter_mut().find(|p| {
        p.row.publish_id.as_deref() == Some(publish_id)
            && event
                .user_openid
                .as_ref()
                .is_none_or(|o| *o == p.row.open_id)
    }) else {
        return false;
    };
    let row = &mut post.row;
    let mut ids = row.public_post_ids.clone();
    let status = match event.event.as_str() {
        "post.publish.failed" => "FAILED",
        "post.publish.complete" => "PUBLISH_COMPLETE",
        "post.publish.inbox_delivered" => "SEND_TO_USER_INBOX",
        "post.publish.publicly_available" => {
            if let Some(id) = text("post_id").filter(|id| !ids.iter().any(|i| i == id)) {
                ids.push(id.to_owned());
            }
            "PUBLISH_COMPLETE"
        }
        "post.publish.no_longer_publicaly_available" => {
            ids.retain(|i| Some(i.as_str()) != text("post_id"));
            row.public_post_ids = ids.clone();
            row.status.as_str()
        }
        _ => row.status.as_str(),
    }
    .to_owned();
    super::posts::apply_status(row, &status, text("reason"), &ids, None);
    true
}

/// A live TikTok grant last refreshed before `stale_before`.
fn is_due(c: &Connection, stale_before: OffsetDateTime, now: OffsetDateTime) -> bool {
    c.provider == "tiktok"
        && c.revoked_at.is_none()
        && c.refresh_token.as_deref().is_some_and(|t| !t.is_empty())
        && c.refreshed_at.is_some_and(|at| at < stale_before)
        && c.refresh_expires_at.is_none_or(|at| at > now)
}

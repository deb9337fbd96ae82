//! The capacity ledger in memory, by the rules of `tiktok_post_capacity`.

use time::{Duration, OffsetDateTime};

use super::state::State;
use super::MemoryStore;
use crate::store::*;

const FINAL: [&str; 3] = ["PUBLISH_COMPLETE", "FAILED", "CANCELLED"];

fn capacity(state: &State, of: &CapacityOf<'_>, now: OffsetDateTime) -> Capacity {
    let mut blocked = Vec::new();
    let mut slots = Vec::new();
    let mut recent: Vec<OffsetDateTime> = state
        .ledger
        .iter()
        .filter(|(c, _, at)| *c == of.connection_id && now - *at < Duration::seconds(60))
        .map(|(_, _, at)| *at)
        .collect();
    recent.sort_unstable_by(|a, b| b.cmp(a));
    recent.truncate(6);
    if recent.len() >= 6 {
        blocked.push(cap::INIT_RATE);
        slots.push(recent[5] + Duration::seconds(60));
    }
    let posts: Vec<&PostRow> = state
        .posts
        .iter()
        .map(|p| &p.row)
        .filter(|r| {
            r.connection_id == Some(of.connection_id)
                && r.publish_id.is_some()
                && r.attempted_at
                    .or(r.created_at)
                    .is_some_and(|at| now - at < Duration::hours(24))
        })
        .collect();
    let made = |r: &&PostRow| r.attempted_at.or(r.created_at);
    let pending: Vec<&&PostRow> = posts
        .iter()
        .filter(|r| r.mode == "inbox" && !FINAL.contains(&r.status.as_str()))
        .collect();
    if of.mode == "inbox" && pending.len() >= 5 {
        blocked.push(cap::PENDING_INBOX_SHARES);
        slots.extend(
            pending
                .iter()
                .filter_map(|r| made(r))
                .min()
                .map(|at| at + Duration::hours(24)),
        );
    }
    let observed = state
        .daily_caps
        .get(&of.connection_id)
        .filter(|(_, at)| now - *at < Duration::days(30))
        .map(|(cap, _)| *cap);
    if observed.is_some_and(|cap| posts.len() as i64 >= cap) {
        blocked.push(cap::DAILY_CAP);
        slots.extend(
            posts
                .iter()
                .filter_map(made)
                .min()
                .map(|at| at + Duration::hours(24)),
        );
    }
    let (unaudited, user_cap) = state.app_flags.get(of.app).copied().unwrap_or_default();
    if let Some(seen) = user_cap.filter(|at| now - *at < Duration::hours(1)) {
        blocked.push(cap::APP_ACTIVE_USER_CAP);
        slots.push(seen + Duration::hours(1));
    }
    let audited = of
        .audited
        .unwrap_or_else(|| unaudited.is_none_or(|at| now - at > Duration::days(7)));
    if !audited {
        let mut last: std::collections::BTreeMap<i64, OffsetDateTime> = Default::default();
        for (c, _, at) in state
            .ledger
            .iter()
            .filter(|(_, _, at)| now - *at < Duration::hours(24))
        {
            last.insert(*c, *at);
        }
        let mine = last.remove(&of.connection_id).is_some();
        if last.len() >= 5 && !mine {
            blocked.push(cap::APP_UNAUDITED_USER_CAP);
            slots.extend(last.values().min().map(|at| *at + Duration::hours(24)));
        }
    }
    Capacity {
        can_post_now: blocked.is_empty(),
        blocked_by: blocked.into_iter().map(str::to_owned).collect(),
        next_slot_at: slots.into_iter().max(),
        inits_last_minute: recent.len() as i64,
        status_calls_last_minute: state
            .status_calls
            .iter()
            .filter(|(c, at)| *c == of.connection_id && now - *at < Duration::seconds(60))
            .count() as i64,
        pending_inbox_shares: pending.len() as i64,
        posts_last_24h: posts.len() as i64,
        observed_daily_cap: observed,
        app_audited: audited,
    }
}

impl CapacityStore for MemoryStore {
    async fn post_capacity(&self, of: &CapacityOf<'_>) -> Result<Capacity, StoreError> {
        let state = self.state()?;
        Ok(capacity(&state, of, OffsetDateTime::now_utc()))
    }

    async fn reserve_init(&self, of: &CapacityOf<'_>) -> Result<Capacity, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let mut answer = capacity(&state, of, now);
        if answer.can_post_now {
            state
                .ledger
                .push((of.connection_id, of.mode.to_owned(), now));
            answer.inits_last_minute += 1;
        }
        Ok(answer)
    }

    async fn reserve_status_call(&self, connection_id: i64) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let recent = state
            .status_calls
            .iter()
            .filter(|(c, at)| *c == connection_id && now - *at < Duration::seconds(60))
            .count();
        if recent >= 30 {
            return Ok(false);
        }
        state.status_calls.push((connection_id, now));
        Ok(true)
    }

    async fn release_init(&self, connection_id: i64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(last) = state
            .ledger
            .iter()
            .rposition(|(c, _, _)| *c == connection_id)
        {
            state.ledger.remove(last);
        }
        Ok(())
    }

    async fn note_refusal(
        &self,
        connection_id: i64,
        app: &str,
        code: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        match code {
            "spam_risk_too_many_posts" => {
                let of = CapacityOf {
                    connection_id,
                    mode: "direct",
                    app,
                    audited: Some(true),
                };
                let posts = capacity(&state, &of, now).posts_last_24h;
                if posts >= 1 {
                    state.daily_caps.insert(connection_id, (posts, now));
                }
            }
            "reached_active_user_cap" => {
                state.app_flags.entry(app.to_owned()).or_default().1 = Some(now);
            }
            "unaudited_client_can_only_post_to_private_accounts" => {
                state.app_flags.entry(app.to_owned()).or_default().0 = Some(now);
            }
            _ => {}
        }
        Ok(())
    }
}

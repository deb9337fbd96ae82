//! The analytics history in memory, with the SQL's rules that the sync's logic leans
//! on: due work leased at claim, accounts without the scopes skipped, videos TikTok no
//! longer answers deleted, the budget a token bucket of a tenth of the minute refilled
//! with the rest. The reads answer the caller's account only, with the stored points
//! (their statistics, e.g. velocity, are the SQL's and tested against the database).

use std::collections::BTreeMap;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::store::*;
use crate::tiktok::videos::Video;

#[derive(Default)]
pub struct AnalyticsState {
    /// (connection id, video id) -> the video.
    videos: BTreeMap<(i64, String), MemVideo>,
    /// Connection id -> when its account work is next due.
    accounts_due: BTreeMap<i64, OffsetDateTime>,
    /// Connections a discovery has listed to the end.
    walked: std::collections::BTreeSet<i64>,
    /// Connection id -> the day's stats, by day.
    account_points: BTreeMap<i64, BTreeMap<time::Date, crate::tiktok::UserInfo>>,
    /// Endpoint -> (tokens, refilled at, blocked until).
    budgets: BTreeMap<String, (f64, OffsetDateTime, Option<OffsetDateTime>)>,
}

struct MemVideo {
    video: Video,
    next_sync: Option<OffsetDateTime>,
    deleted: bool,
}

fn has_scope(c: &Connection, scope: &str) -> bool {
    c.scope
        .as_deref()
        .is_some_and(|s| s.split(',').any(|x| x.trim() == scope))
}

fn syncable(c: &Connection) -> bool {
    c.revoked_at.is_none() && c.provider == "tiktok"
}

impl AnalyticsStore for MemoryStore {
    async fn claim_analytics(
        &self,
        accounts: i64,
        videos: i64,
        lease_seconds: i64,
    ) -> Result<AnalyticsClaim, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let lease = now + Duration::seconds(lease_seconds);
        let mut claim = AnalyticsClaim::default();
        let due: Vec<Connection> = state
            .connections
            .values()
            .filter(|c| c.provider == "tiktok")
            .filter(|c| {
                state
                    .analytics
                    .accounts_due
                    .get(&c.id)
                    .is_none_or(|at| *at <= now)
            })
            .take(accounts.max(0) as usize)
            .cloned()
            .collect();
        for connection in due {
            let list = syncable(&connection) && has_scope(&connection, "video.list");
            let stats = syncable(&connection) && has_scope(&connection, "user.info.stats");
            let next = if list || stats {
                lease
            } else {
                now + Duration::days(1)
            };
            state.analytics.accounts_due.insert(connection.id, next);
            if list || stats {
                let walked = state.analytics.walked.contains(&connection.id);
                claim.accounts.push(DueAccount {
                    connection,
                    list,
                    stats,
                    walked,
                });
            }
        }
        let mut due: Vec<(i64, String)> = state
            .analytics
            .videos
            .iter()
            .filter(|(_, v)| v.next_sync.is_some_and(|at| at <= now))
            .map(|(k, _)| k.clone())
            .take(videos.max(0) as usize)
            .collect();
        due.sort();
        let mut batches: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (connection_id, video_id) in due {
            let Some(connection) = state.connections.get(&connection_id).cloned() else {
                continue;
            };
            let video = state
                .analytics
                .videos
                .get_mut(&(connection_id, video_id.clone()))
                .expect("listed above");
            if !syncable(&connection) || !has_scope(&connection, "video.list") {
                video.next_sync = Some(now + Duration::days(1));
                continue;
            }
            video.next_sync = Some(lease);
            batches.entry(connection_id).or_default().push(video_id);
        }
        for (connection_id, ids) in batches {
            let connection = state.connections[&connection_id].clone();
            for chunk in ids.chunks(20) {
                claim.videos.push(DueVideos {
                    connection: connection.clone(),
                    video_ids: chunk.to_vec(),
                });
            }
        }
        Ok(claim)
    }

    async fn release_analytics(
        &self,
        connection_id: i64,
        video_ids: &[String],
        account: bool,
        after_seconds: i64,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let at = OffsetDateTime::now_utc() + Duration::seconds(after_seconds.max(0));
        if account {
            state.analytics.accounts_due.insert(connection_id, at);
        }
        for id in video_ids {
            if let Some(video) = state
                .analytics
                .videos
                .get_mut(&(connection_id, id.clone()))
                .filter(|v| !v.deleted)
            {
                video.next_sync = Some(at);
            }
        }
        Ok(())
    }

    async fn record_videos(
        &self,
        connection_id: i64,
        videos: &[Video],
        cadence: &serde_json::Value,
        asked: Option<&[String]>,
    ) -> Result<Recorded, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let steps: Vec<(i64, i64)> = serde_json::from_value(cadence.clone()).unwrap_or_default();
        let mut recorded = Recorded::default();
        for video in videos {
            let Some(id) = video.id.clone().filter(|id| !id.is_empty()) else {
                continue;
            };
            let key = (connection_id, id);
            let age = video.create_time.map_or(0, |t| now.unix_timestamp() - t);
            let every = steps.iter().find(|(until, _)| age < *until).map(|s| s.1);
            let next_sync = every.map(|e| now + Duration::seconds(e));
            match state.analytics.videos.get_mut(&key) {
                Some(known) => {
                    recorded.known += 1;
                    known.video = video.clone();
                    known.next_sync = next_sync;
                    known.deleted = false;
                }
                None => {
                    recorded.new += 1;
                    let video = video.clone();
                    state.analytics.videos.insert(
                        key,
                        MemVideo {
                            video,
                            next_sync,
                            deleted: false,
                        },
                    );
                }
            }
        }
        for id in asked.unwrap_or_default() {
            let answered = videos.iter().any(|v| v.id.as_deref() == Some(id.as_str()));
            if let Some(video) = state
                .analytics
                .videos
                .get_mut(&(connection_id, id.clone()))
                .filter(|_| !answered)
            {
                video.deleted = true;
                video.next_sync = None;
                recorded.deleted += 1;
            }
        }
        Ok(recorded)
    }

    async fn record_account(&self, sync: &AccountSync<'_>) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        if let Some(stats) = sync.stats {
            state
                .analytics
                .account_points
                .entry(sync.connection_id)
                .or_default()
                .insert(now.date(), stats.clone());
        }
        if sync.listed {
            state.analytics.walked.insert(sync.connection_id);
        }
        let every = if sync.listed {
            sync.list_every_seconds
        } else {
            sync.stats_every_seconds
        };
        state
            .analytics
            .accounts_due
            .insert(sync.connection_id, now + Duration::seconds(every));
        Ok(())
    }

    async fn take_budget(&self, endpoint: &str, rpm: u32) -> Result<BudgetAnswer, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let capacity = (f64::from(rpm) / 10.0).max(1.0);
        let rate = (f64::from(rpm) - capacity).max(0.0) / 60.0;
        let (tokens, at, blocked) = state
            .analytics
            .budgets
            .entry(endpoint.to_owned())
            .or_insert((capacity, now, None));
        if let Some(until) = blocked.filter(|until| *until > now) {
            let wait_ms = (until - now).whole_milliseconds().max(0) as u64;
            return Ok(BudgetAnswer {
                granted: false,
                wait_ms,
            });
        }
        let refilled = (*tokens + (now - *at).as_seconds_f64().max(0.0) * rate).min(capacity);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            return Ok(BudgetAnswer {
                granted: true,
                wait_ms: 0,
            });
        }
        *tokens = refilled;
        let wait_ms = if rate > 0.0 {
            ((1.0 - refilled) / rate * 1000.0).ceil() as u64
        } else {
            60_000
        };
        Ok(BudgetAnswer {
            granted: false,
            wait_ms,
        })
    }

    async fn block_budget(&self, endpoint: &str, seconds: i64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let until = OffsetDateTime::now_utc() + Duration::seconds(seconds);
        state
            .analytics
            .budgets
            .insert(endpoint.to_owned(), (0.0, until, Some(until)));
        Ok(())
    }

    async fn maintain_analytics(
        &self,
        _retention_days: u32,
    ) -> Result<serde_json::Value, StoreError> {
        // No partitions in memory.
        let _state = self.state()?;
        Ok(json!({"made": 0, "dropped": []}))
    }

    async fn count_due_analytics(&self) -> Result<i64, StoreError> {
        let state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let videos = state
            .analytics
            .videos
            .values()
            .filter(|v| v.next_sync.is_some_and(|at| at <= now))
            .count();
        let accounts = state
            .connections
            .values()
            .filter(|c| c.provider == "tiktok")
            .filter(|c| {
                state
                    .analytics
                    .accounts_due
                    .get(&c.id)
                    .is_none_or(|at| *at <= now)
            })
            .count();
        Ok((videos + accounts) as i64)
    }

    async fn account_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let state = self.state()?;
        let Some(connection) = caller_account(&state, of) else {
            return Ok(None);
        };
        let series: Vec<serde_json::Value> = state
            .analytics
            .account_points
            .get(&connection.id)
            .into_iter()
            .flat_map(|points| points.range(range.from..=range.to))
            .map(|(day, s)| {
                json!({"date": iso_date::format(*day), "followers": s.follower_count,
                       "following": s.following_count, "likes": s.likes_count,
                       "videos": s.video_count})
            })
            .collect();
        Ok(Some(json!({
            "account_id": connection.provider_account_id,
            "from": iso_date::format(range.from),
            "to": iso_date::format(range.to),
            "series": series,
            "synced_at": null,
            "next_sync_at": null,
            "unavailable": (!has_scope(&connection, "user.info.stats")).then_some("scope_missing"),
        })))
    }

    async fn videos_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
        page: &VideoPageOf<'_>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let state = self.state()?;
        let Some(connection) = caller_account(&state, of) else {
            return Ok(None);
        };
        let start = range.from.midnight().assume_utc().unix_timestamp();
        let end = range
            .to
            .next_day()
            .unwrap_or(range.to)
            .midnight()
            .assume_utc()
            .unix_timestamp();
        let mut videos: Vec<&Video> = state
            .analytics
            .videos
            .iter()
            .filter(|((c, _), _)| *c == connection.id)
            .map(|(_, v)| &v.video)
            .filter(|v| v.create_time.is_some_and(|t| t >= start && t < end))
            .collect();
        videos.sort_by_key(|v| std::cmp::Reverse(v.create_time));
        let total = videos.len();
        let shown: Vec<serde_json::Value> = videos
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .map(|v| json!({"video_id": v.id, "title": v.title, "views": v.view_count}))
            .collect();
        let next = page.offset as usize + page.limit as usize;
        Ok(Some(json!({
            "account_id": connection.provider_account_id,
            "from": iso_date::format(range.from),
            "to": iso_date::format(range.to),
            "sort": page.sort,
            "videos": shown,
            "total": total,
            "next_cursor": (next < total).then(|| next.to_string()),
            "unavailable": (!has_scope(&connection, "video.list")).then_some("scope_missing"),
        })))
    }

    async fn video_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        video_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let state = self.state()?;
        let Some(connection) = caller_account(&state, of) else {
            return Ok(None);
        };
        let video = state
            .analytics
            .videos
            .get(&(connection.id, video_id.to_owned()))
            .map(|v| json!({"video_id": v.video.id, "title": v.video.title, "views": v.video.view_count}));
        Ok(Some(json!({
            "account_id": connection.provider_account_id,
            "video": video,
            "series": [],
        })))
    }
}

/// The caller's account a read names (else the primary), as the SQL chooses it.
fn caller_account(state: &super::State, of: &AnalyticsOf<'_>) -> Option<Connection> {
    let user = state.user_by_uid(of.firebase_uid)?.row.id;
    state
        .ranked(user, "tiktok")
        .into_iter()
        .find(|c| of.account_id.is_none_or(|a| c.provider_account_id == a))
        .cloned()
}

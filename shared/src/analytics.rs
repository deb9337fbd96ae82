//! The analytics sync (sync-analytics, every 5 minutes): keeps how each video and account
//! grows, since TikTok answers only running totals.
//!
//! On the job runner ([`crate::jobs`]) like the sweep and the dispatcher: `ANALYTICS_WORKERS`
//! workers claim their own batches (`claim_tiktok_analytics`, `FOR UPDATE SKIP LOCKED`
//! and a lease), so overlapping runs share the work. A claim hands out
//! - accounts due for discovery (`/v2/video/list/`, newest first, down to a video already
//!   known; hourly) or stats (`/v2/user/info/`, daily), and
//! - due videos, youngest cadence tier first, one connection's at most 20 to a
//!   `/v2/video/query/`.
//!
//! Every TikTok call first takes a request from its endpoint's budget (`ANALYTICS_RPM`,
//! a token bucket in PostgreSQL shared by every worker of every run: never more in any
//! 60 seconds); a worker waits for the budget while its run has time, and the run stops
//! (`budget_spent`) when it has not. A TikTok 429 blocks that endpoint's budget for the
//! rest of the minute. Connections without the scopes, revoked or needing a new
//! authorization are skipped by the claim, without calls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::time::Instant;

use crate::access::{AccessError, LiveToken, TokenAccess};
use crate::app::{App, Ports};
use crate::error::ApiError;
use crate::jobs::{self, Counted, Job, Limits};
use crate::store::{AccountSync, AnalyticsStore, Connection, DueAccount, DueVideos, StoreError};
use crate::tiktok::videos::MAX_VIDEOS;
use crate::tiktok::{TikTokApi, TikTokError, STATS_FIELDS};

pub use crate::config::analytics::{Cadence, Settings};

/// Accounts one claim hands out.
const ACCOUNT_BATCH: i64 = 5;
/// Due videos one claim hands out (up to 5 queries' worth, more with riders).
const VIDEO_BATCH: i64 = 100;
/// How long claimed work stays with a run (longer than a run's 5 minutes).
pub const LEASE_SECONDS: i64 = 10 * 60;
/// Consecutive TikTok outages after which a run stops.
const OUTAGES_TO_STOP: u32 = 3;
/// Discovery's and the stats' cadence.
const LIST_EVERY_SECONDS: i64 = 3600;
const STATS_EVERY_SECONDS: i64 = 86_400;
/// A connection TikTok refused for now (its scope, its grant) is tried again after this.
const REFUSED_RETRY_SECONDS: i64 = 86_400;
/// List pages one account's discovery reads in one item (200 videos).
const MAX_LIST_PAGES: u32 = 10;
/// How long a TikTok 429 blocks the endpoint's budget (TikTok's window).
const RATE_WINDOW_SECONDS: i64 = 60;
pub use crate::jobs::STOPPED_BY_BUDGET;

/// The budgeted endpoints (the `endpoint` of the budget metrics).
pub mod endpoint {
    pub const USER_INFO: &str = "user_info";
    pub const VIDEO_LIST: &str = "video_list";
    pub const VIDEO_QUERY: &str = "video_query";
    pub const ALL: [&str; 3] = [USER_INFO, VIDEO_LIST, VIDEO_QUERY];
}

/// One run's summary (logged as one JSON line, and the invocation's answer).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub accounts: u64,
    pub video_batches: u64,
    pub videos_new: u64,
    pub videos_refreshed: u64,
    pub videos_deleted: u64,
    /// Claimed work given back (the budget or the deadline ran out first).
    pub released: u64,
    pub rate_limited: u64,
    pub failed: u64,
    /// Requests spent per endpoint.
    pub spent: BTreeMap<&'static str, u64>,
    pub remaining: Option<i64>,
    pub stopped: Option<&'static str>,
}

/// Syncs due analytics until none is left, the budget is spent or `until` comes.
pub async fn run<P: Ports>(app: &App<P>, until: Instant) -> Result<Summary, ApiError> {
    match app
        .store
        .maintain_analytics(app.analytics.retention_days)
        .await
    {
        Ok(done) => tracing::info!(%done, "analytics partitions maintained"),
        Err(err) => tracing::warn!(error = %err, "analytics partitions not maintained"),
    }
    let sync = Sync {
        app,
        tokens: app.tokens(),
        until,
        cadence: app.analytics.cadence.to_json(),
        spent: endpoint::ALL.map(|_| AtomicU64::new(0)),
        videos: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    };
    let limits = Limits {
        workers: app.analytics.workers,
        until,
        outages_to_stop: OUTAGES_TO_STOP,
    };
    let run = jobs::run(&sync, limits).await;
    let spent: BTreeMap<&'static str, u64> = endpoint::ALL
        .iter()
        .zip(&sync.spent)
        .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
        .collect();
    budget_metrics(&spent, app.analytics.rpm);
    let [new, refreshed, deleted] = sync.videos.map(|n| n.load(Ordering::Relaxed));
    let summary = Summary {
        accounts: run.count("accounts"),
        video_batches: run.count("video_batches"),
        videos_new: new,
        videos_refreshed: refreshed,
        videos_deleted: deleted,
        released: run.count("released"),
        rate_limited: run.count("rate_limited"),
        failed: run.count("failed"),
        spent,
        remaining: run.remaining.as_ref().ok().copied(),
        stopped: run.stopped,
    };
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "analytics sync done");
    match run.failure {
        Some(err) => Err(err.into()),
        None => run.remaining.map(|_| summary).map_err(ApiError::from),
    }
}

/// `BudgetSpent` (requests) and `BudgetUsed` (percent of the run's share of a minute)
/// per endpoint.
fn budget_metrics(spent: &BTreeMap<&'static str, u64>, rpm: u32) {
    use crate::metrics::Line;
    for (endpoint, n) in spent {
        Line::new(&[("endpoint", endpoint)])
            .by(&[&["endpoint"]])
            .count("BudgetSpent", *n)
            .value(
                "BudgetPerMinute",
                crate::metrics::Unit::Count,
                f64::from(rpm),
            )
            .emit();
    }
}

/// A piece of the sync's work.
pub enum Work {
    Account(DueAccount),
    Videos(DueVideos),
}

/// The sync as a job.
struct Sync<'a, P: Ports> {
    app: &'a App<P>,
    tokens: TokenAccess<'a, P::Store, P::TikTok>,
    until: Instant,
    cadence: serde_json::Value,
    /// Requests spent, per [`endpoint::ALL`].
    spent: [AtomicU64; 3],
    /// Videos new, refreshed, deleted.
    videos: [AtomicU64; 3],
}

/// What an account's item read, and what stopped it.
#[derive(Default)]
struct AccountDone {
    stats: Option<crate::tiktok::UserInfo>,
    /// Its videos were listed down to a known one.
    listed: bool,
    refusal: Option<Refused>,
}

/// Why a call was not made or did not answer.
enum Refused {
    /// The budget has nothing left before the deadline.
    Budget,
    /// TikTok's 429 (the endpoint's budget is blocked).
    RateLimited,
    /// The database failed.
    Store(StoreError),
    Access(AccessError),
}

impl From<AccessError> for Refused {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::TikTok(TikTokError::RateLimited { .. }) => Refused::RateLimited,
            other => Refused::Access(other),
        }
    }
}

impl From<StoreError> for Refused {
    fn from(err: StoreError) -> Self {
        Refused::Store(err)
    }
}

impl<P: Ports> Sync<'_, P> {
    /// Takes one request of `endpoint`'s budget, waiting while the run has time: false
    /// when it has none left before the deadline.
    async fn spend(&self, endpoint: &'static str) -> Result<bool, StoreError> {
        loop {
            let answer = self
                .app
                .store
                .take_budget(endpoint, self.app.analytics.rpm)
                .await?;
            if answer.granted {
                let i = endpoint::ALL
                    .iter()
                    .position(|e| *e == endpoint)
                    .unwrap_or(0);
                self.spent[i].fetch_add(1, Ordering::Relaxed);
                return Ok(true);
            }
            let wait = std::time::Duration::from_millis(answer.wait_ms.max(10));
            if Instant::now() + wait >= self.until {
                return Ok(false);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One budgeted TikTok call with the connection's token (refreshed once on
    /// `access_token_invalid`, each try budgeted).
    async fn call<V, F, Fut>(
        &self,
        endpoint: &'static str,
        connection: Connection,
        call: F,
    ) -> Result<(V, LiveToken), Refused>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<V, TikTokError>>,
    {
        let budget_error = std::sync::Mutex::new(None);
        let outcome = self
            .tokens
            .with_live_token(connection, |token| {
                let fut = call(token);
                let budget_error = &budget_error;
                async move {
                    match self.spend(endpoint).await {
                        Ok(true) => fut.await.map(Some),
                        Ok(false) => Ok(None),
                        Err(err) => {
                            *budget_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
                            Ok(None)
                        }
                    }
                }
            })
            .await;
        if let Some(err) = budget_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(Refused::Store(err));
        }
        match outcome {
            Ok((Some(value), token)) => Ok((value, token)),
            Ok((None, _)) => Err(Refused::Budget),
            Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                self.app
                    .store
                    .block_budget(endpoint, RATE_WINDOW_SECONDS)
                    .await?;
                Err(Refused::RateLimited)
            }
            Err(err) => Err(err.into()),
        }
    }

    fn count_videos(&self, recorded: crate::store::Recorded, refreshed: u64) {
        self.videos[0].fetch_add(recorded.new, Ordering::Relaxed);
        self.videos[1].fetch_add(refreshed, Ordering::Relaxed);
        self.videos[2].fetch_add(recorded.deleted, Ordering::Relaxed);
    }

    /// Refreshes one connection's due videos with one query.
    async fn refresh(&self, due: &DueVideos) -> Result<(), Refused> {
        let tiktok = &self.app.tiktok;
        let ids = &due.video_ids;
        let (page, _) = self
            .call(
                endpoint::VIDEO_QUERY,
                due.connection.clone(),
                |token| async move { tiktok.query_videos(&token, ids).await },
            )
            .await?;
        let recorded = self
            .app
            .store
            .record_videos(due.connection.id, &page.videos, &self.cadence, Some(ids))
            .await?;
        self.count_videos(recorded, page.videos.len() as u64);
        Ok(())
    }

    /// An account's stats of the day and its new videos: what was read (kept whatever
    /// happens after), and the refusal that stopped it, if one did.
    async fn account(&self, due: &DueAccount) -> AccountDone {
        let tiktok = &self.app.tiktok;
        let mut done = AccountDone::default();
        let mut connection = due.connection.clone();
        if due.stats {
            let read = self
                .call(
                    endpoint::USER_INFO,
                    connection.clone(),
                    |token| async move { tiktok.user_info(&token, &STATS_FIELDS).await },
                )
                .await;
            match read {
                Ok((info, token)) => {
                    done.stats = Some(info);
                    connection = token.connection;
                }
                Err(refusal) => {
                    done.refusal = Some(refusal);
                    return done;
                }
            }
        }
        if due.list {
            match self.discover(due, connection).await {
                Ok(()) => done.listed = true,
                Err(refusal) => done.refusal = Some(refusal),
            }
        }
        done
    }

    /// Lists the account's videos newest first, recording each page, down to a video it
    /// knows (once a discovery has listed the account to its end: before, a known video
    /// may be one a cut-short discovery or a post of ours left above unlisted ones) or to
    /// videos past the cadence's last age (kept with the totals listed, never
    /// refreshed): older pages are not read.
    async fn discover(&self, due: &DueAccount, mut connection: Connection) -> Result<(), Refused> {
        let connection_id = due.connection.id;
        let tiktok = &self.app.tiktok;
        let oldest_tracked = time::OffsetDateTime::now_utc().unix_timestamp()
            - self.app.analytics.cadence.last_age().as_secs() as i64;
        let mut cursor = None;
        for _ in 0..MAX_LIST_PAGES {
            let (page, token) = self
                .call(
                    endpoint::VIDEO_LIST,
                    connection.clone(),
                    |token| async move { tiktok.list_videos(&token, cursor, MAX_VIDEOS).await },
                )
                .await?;
            connection = token.connection;
            let recorded = self
                .app
                .store
                .record_videos(connection_id, &page.videos, &self.cadence, None)
                .await?;
            self.count_videos(recorded, 0);
            let past_cadence = page
                .videos
                .iter()
                .any(|v| v.create_time.is_some_and(|t| t < oldest_tracked));
            if (due.walked && recorded.known > 0)
                || !page.has_more
                || past_cadence
                || page.cursor.is_none_or(|c| c <= 0)
            {
                return Ok(());
            }
            cursor = page.cursor;
        }
        Ok(())
    }

    /// How a refusal counts, and the claimed work given back.
    async fn refused(
        &self,
        refusal: Refused,
        connection: &Connection,
        ids: &[String],
        account: bool,
    ) -> Counted {
        let (counted, after) = match &refusal {
            Refused::Budget => (Counted::stop("released", STOPPED_BY_BUDGET), 0),
            Refused::RateLimited => (Counted::neutral("rate_limited"), 0),
            Refused::Store(_) => (Counted::stop("failed", jobs::STOPPED_BY_CLAIM), 0),
            Refused::Access(err) if err.is_reauth() => {
                (Counted::neutral("unavailable"), REFUSED_RETRY_SECONDS)
            }
            Refused::Access(AccessError::TikTok(TikTokError::ScopeNotAuthorized)) => {
                (Counted::neutral("unavailable"), REFUSED_RETRY_SECONDS)
            }
            Refused::Access(AccessError::TikTok(_)) => {
                (Counted::outage("failed", "tiktok_unavailable"), 0)
            }
            // A row of its own (tokens no key decrypts, someone else refreshing it).
            Refused::Access(_) => (Counted::neutral("failed"), 3600),
        };
        match &refusal {
            Refused::Access(err) => {
                tracing::warn!(connection_id = connection.id, error = %err, "analytics sync refused");
            }
            Refused::Store(err) => {
                tracing::warn!(connection_id = connection.id, error = %err, "analytics sync stopped by the database");
            }
            Refused::Budget | Refused::RateLimited => {}
        }
        if let Err(err) = self
            .app
            .store
            .release_analytics(connection.id, ids, account, after)
            .await
        {
            tracing::warn!(connection_id = connection.id, error = %err, "analytics work not given back: its lease lapses");
        }
        counted
    }
}

impl<P: Ports> Job for Sync<'_, P> {
    type Item = Work;
    type Error = StoreError;
    const NAME: &'static str = "analytics sync";
    const COUNTERS: &'static [&'static str] = &[
        "accounts",
        "video_batches",
        "released",
        "rate_limited",
        "unavailable",
        "failed",
    ];

    async fn claim(&self) -> Result<Vec<Work>, StoreError> {
        let claim = self
            .app
            .store
            .claim_analytics(ACCOUNT_BATCH, VIDEO_BATCH, LEASE_SECONDS)
            .await?;
        // Videos first: the claim put the youngest first, and they are what is late soonest.
        Ok(claim
            .videos
            .into_iter()
            .map(Work::Videos)
            .chain(claim.accounts.into_iter().map(Work::Account))
            .collect())
    }

    async fn work(&self, item: Work) -> Counted {
        match item {
            Work::Videos(due) => match self.refresh(&due).await {
                Ok(()) => Counted::healthy("video_batches"),
                Err(refusal) => {
                    self.refused(refusal, &due.connection, &due.video_ids, false)
                        .await
                }
            },
            Work::Account(due) => {
                let done = self.account(&due).await;
                // TikTok's refusals that say the account gives nothing now: recorded, and
                // tried again after their time.
                let unavailable = match &done.refusal {
                    Some(Refused::Access(err)) if err.is_reauth() => Some("reauth_required"),
                    Some(Refused::Access(AccessError::TikTok(TikTokError::ScopeNotAuthorized))) => {
                        Some("scope_missing")
                    }
                    _ => None,
                };
                // The discovery's own refusal is asked again a day later, not at the next
                // hourly discovery. A refusal of the stats (read first) leaves the
                // discovery unasked: it comes at its hour, alone (the stats wait a day).
                let discovery_refused =
                    unavailable.is_some() && (done.stats.is_some() || !due.stats);
                let mut other = done.refusal.filter(|_| unavailable.is_none());
                // Nothing read and nothing to say: the refusal decides (the work given back).
                if done.stats.is_none() {
                    if let Some(refusal) = other.take() {
                        return self.refused(refusal, &due.connection, &[], true).await;
                    }
                }
                let sync = AccountSync {
                    connection_id: due.connection.id,
                    stats: done.stats.as_ref(),
                    listed: done.listed,
                    unavailable,
                    list_every_seconds: if discovery_refused {
                        REFUSED_RETRY_SECONDS
                    } else {
                        LIST_EVERY_SECONDS
                    },
                    stats_every_seconds: STATS_EVERY_SECONDS,
                };
                let recorded = self.app.store.record_account(&sync).await;
                match (recorded, other) {
                    (Err(_), _) => Counted::stop("failed", jobs::STOPPED_BY_CLAIM),
                    // The stats are kept; the discovery the refusal stopped is due again.
                    (Ok(()), Some(refusal)) => {
                        self.refused(refusal, &due.connection, &[], true).await
                    }
                    (Ok(()), None) if unavailable.is_some() => Counted::neutral("unavailable"),
                    (Ok(()), None) => Counted::healthy("accounts"),
                }
            }
        }
    }

    async fn remaining(&self) -> Result<i64, StoreError> {
        self.app.store.count_due_analytics().await
    }

    async fn release(&self, item: Work) {
        let (connection, ids, account) = match &item {
            Work::Videos(due) => (&due.connection, due.video_ids.as_slice(), false),
            Work::Account(due) => (&due.connection, &[][..], true),
        };
        if let Err(err) = self
            .app
            .store
            .release_analytics(connection.id, ids, account, 0)
            .await
        {
            tracing::warn!(connection_id = connection.id, error = %err, "analytics work not given back: its lease lapses");
        }
    }
}

//! The keep-alive sweep (refresh-connections, on a schedule): refreshes every TikTok
//! connection not refreshed for `KEEPALIVE_INTERVAL_HOURS`, with the same
//! compare-and-swap as on-demand refresh, so refresh tokens keep rotating and dead
//! grants are found (and marked `reauth_required`) before a user meets them.
//!
//! Work is claimed in batches (`FOR UPDATE SKIP LOCKED` and a lease), never looped over,
//! by the job runner ([`crate::jobs`]): a run's `SWEEP_WORKERS` workers each claim their
//! own batches, and any number of concurrent runs share the work the same way. A run
//! stops claiming before its deadline, and early on TikTok's 429 or when TikTok is down
//! (three outages in a row; the rest waits for the next run). Whatever ends it, the run
//! logs one summary line.

use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::access::{AccessError, TokenAccess};
use crate::app::{App, Ports};
use crate::error::ApiError;
use crate::jobs::{self, Counted, Job, Limits};
use crate::store::{Connection, HealthStore, StoreError};
use crate::tiktok::TikTokError;

/// Connections one worker claims at a time.
pub const BATCH: i64 = 50;
/// How long a claim holds: a run that dies leaves its batch to the next run after this.
pub const LEASE_SECONDS: i64 = 15 * 60;
/// Consecutive TikTok outages after which a run stops.
const OUTAGES_TO_STOP: u32 = 3;

/// One run's summary (logged as one JSON line).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub refreshed: u64,
    pub reauth_required: u64,
    pub failed: u64,
    /// Connections another refresher (a user's request) held for longer than the run
    /// waited: left to it, and to the next run.
    pub skipped: u64,
    /// Connections still due when the run ended, counted up to 100 (`None` when the
    /// database could not say).
    pub remaining: Option<i64>,
    /// Why the run stopped before the work was done, if it did.
    pub stopped: Option<&'static str>,
}

/// Refreshes due connections until none is left or `until` comes.
pub async fn run<P: Ports>(app: &App<P>, until: Instant) -> Result<Summary, ApiError> {
    let sweep = KeepAlive {
        app,
        tokens: app.tokens(),
        stale_before: OffsetDateTime::now_utc() - app.keepalive_interval,
    };
    let limits = Limits {
        workers: app.sweep_workers,
        until,
        outages_to_stop: OUTAGES_TO_STOP,
    };
    let run = jobs::run(&sweep, limits).await;
    let summary = Summary {
        refreshed: run.count("refreshed"),
        reauth_required: run.count("reauth_required"),
        failed: run.count("failed"),
        skipped: run.count("skipped"),
        remaining: run.remaining.as_ref().ok().copied(),
        stopped: run.stopped,
    };
    match run.failure {
        Some(err) => Err(err.into()),
        None => run.remaining.map(|_| summary).map_err(ApiError::from),
    }
}

/// The keep-alive sweep as a job: claim due connections, refresh each.
struct KeepAlive<'a, P: Ports> {
    app: &'a App<P>,
    tokens: TokenAccess<'a, P::Store, P::TikTok>,
    stale_before: OffsetDateTime,
}

impl<P: Ports> Job for KeepAlive<'_, P> {
    type Item = Connection;
    type Error = StoreError;
    const NAME: &'static str = "keep-alive sweep";
    const COUNTERS: &'static [&'static str] =
        &["refreshed", "reauth_required", "failed", "skipped"];

    async fn claim(&self) -> Result<Vec<Connection>, StoreError> {
        self.app
            .store
            .claim_due_connections(BATCH, self.stale_before, LEASE_SECONDS)
            .await
    }

    async fn work(&self, connection: Connection) -> Counted {
        let outcome = self.tokens.refresh(&connection).await;
        match outcome {
            Ok(_) => Counted::healthy("refreshed"),
            Err(err) if err.is_reauth() => Counted::neutral("reauth_required"),
            // Someone else is refreshing it: no outage, nothing to count against TikTok.
            Err(AccessError::RefreshInProgress) => Counted::neutral("skipped"),
            Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                Counted::stop("failed", "tiktok_rate_limited")
            }
            Err(err @ AccessError::TikTok(_)) => {
                tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                Counted::outage("failed", "tiktok_unavailable")
            }
            // A row of its own that cannot be refreshed (tokens no key decrypts, a
            // store error): counted, and the next connection goes on.
            Err(err) => {
                tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                Counted::neutral("failed")
            }
        }
    }

    async fn remaining(&self) -> Result<i64, StoreError> {
        self.app
            .store
            .count_due_connections(self.stale_before)
            .await
    }
}

//! The keep-alive sweep (refresh-connections, on a schedule): refreshes every TikTok
//! connection not refreshed for `KEEPALIVE_INTERVAL_HOURS`, with the same
//! compare-and-swap as on-demand refresh, so refresh tokens keep rotating and dead
//! grants are found (and marked `reauth_required`) before a user meets them.
//!
//! Work is claimed in batches (`FOR UPDATE SKIP LOCKED` and a lease), never looped over:
//! a run's `SWEEP_WORKERS` workers each claim their own batches, and any number of
//! concurrent runs share the work the same way. A run stops claiming before its
//! deadline, and early on TikTok's 429 or when TikTok is down (the rest waits for the
//! next run). Whatever ends it, the run logs one summary line.

use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::access::{AccessError, TokenAccess};
use crate::app::{App, Ports};
use crate::error::ApiError;
use crate::store::{Connection, HealthStore};
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
    let stale_before = OffsetDateTime::now_utc() - app.keepalive_interval;
    let sweep = Sweep {
        app,
        tokens: app.tokens(),
        stale_before,
        until,
        tally: Mutex::new(Tally::default()),
    };
    let workers = (0..app.sweep_workers.max(1)).map(|_| sweep.worker());
    let failure = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .find_map(Result::err);
    let mut summary = sweep
        .tally
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .summary;
    let remaining = app.store.count_due_connections(stale_before).await;
    summary.remaining = remaining.as_ref().ok().copied();
    tracing::info!(
        refreshed = summary.refreshed,
        reauth_required = summary.reauth_required,
        failed = summary.failed,
        skipped = summary.skipped,
        remaining = summary.remaining,
        stopped = summary.stopped,
        "keep-alive sweep done"
    );
    match failure {
        Some(err) => Err(err.into()),
        None => remaining.map(|_| summary).map_err(ApiError::from),
    }
}

/// One run: what its workers share.
struct Sweep<'a, P: Ports> {
    app: &'a App<P>,
    tokens: TokenAccess<'a, P::Store, P::TikTok>,
    stale_before: OffsetDateTime,
    until: Instant,
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    summary: Summary,
    /// TikTok outages in a row, over all workers.
    outages: u32,
}

impl<P: Ports> Sweep<'_, P> {
    /// Claims and refreshes batches until the work, the time or TikTok runs out.
    async fn worker(&self) -> Result<(), crate::store::StoreError> {
        loop {
            if !self.going_on() {
                return Ok(());
            }
            let batch = self
                .app
                .store
                .claim_due_connections(BATCH, self.stale_before, LEASE_SECONDS)
                .await
                .inspect_err(|_| self.stop("database_unavailable"))?;
            if batch.is_empty() {
                return Ok(());
            }
            for connection in batch {
                // What is left of the batch stays claimed until the lease lapses.
                if !self.going_on() {
                    return Ok(());
                }
                let outcome = self.tokens.refresh(&connection).await;
                self.count(&connection, outcome.map(drop));
            }
        }
    }

    /// False once the run has stopped (or its deadline has come: it stops then).
    fn going_on(&self) -> bool {
        let mut tally = self.tally();
        if tally.summary.stopped.is_none() && Instant::now() >= self.until {
            tally.summary.stopped = Some("deadline");
        }
        tally.summary.stopped.is_none()
    }

    fn stop(&self, why: &'static str) {
        self.tally().summary.stopped.get_or_insert(why);
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, connection: &Connection, outcome: Result<(), AccessError>) {
        let mut tally = self.tally();
        let tally = &mut *tally;
        match outcome {
            Ok(()) => {
                tally.summary.refreshed += 1;
                tally.outages = 0;
            }
            Err(err) if err.is_reauth() => tally.summary.reauth_required += 1,
            // Someone else is refreshing it: no outage, nothing to count against TikTok.
            Err(AccessError::RefreshInProgress) => tally.summary.skipped += 1,
            Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                tally.summary.failed += 1;
                tally.summary.stopped.get_or_insert("tiktok_rate_limited");
            }
            Err(err @ AccessError::TikTok(_)) => {
                tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                tally.summary.failed += 1;
                tally.outages += 1;
                if tally.outages >= OUTAGES_TO_STOP {
                    tally.summary.stopped.get_or_insert("tiktok_unavailable");
                }
            }
            // A row of its own that cannot be refreshed (tokens no key decrypts, a
            // store error): counted, and the next connection goes on.
            Err(err) => {
                tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                tally.summary.failed += 1;
            }
        }
    }
}

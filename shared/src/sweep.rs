//! The keep-alive sweep (refresh-connections, on a schedule): refreshes every TikTok
//! connection not refreshed for `KEEPALIVE_INTERVAL_HOURS`, with the same
//! compare-and-swap as on-demand refresh, so refresh tokens keep rotating and dead
//! grants are found (and marked `reauth_required`) before a user meets them. Work is
//! claimed in batches (`FOR UPDATE SKIP LOCKED` and a lease), so concurrent runs share
//! it; a run stops claiming before its deadline, and early on TikTok's 429 or when
//! TikTok is down (the rest waits for the next run).

use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::access::AccessError;
use crate::app::{App, Ports};
use crate::error::ApiError;
use crate::store::HealthStore;
use crate::tiktok::TikTokError;

/// Connections claimed at a time.
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
    /// Connections still due when the run ended, counted up to 100.
    pub remaining: i64,
    /// Why the run stopped before the work was done, if it did.
    pub stopped: Option<&'static str>,
}

/// Refreshes due connections until none is left or `until` comes.
pub async fn run<P: Ports>(app: &App<P>, until: Instant) -> Result<Summary, ApiError> {
    let stale_before = OffsetDateTime::now_utc() - app.keepalive_interval;
    let tokens = app.tokens();
    let mut summary = Summary::default();
    let mut outages = 0;
    'claiming: while summary.stopped.is_none() {
        if Instant::now() >= until {
            summary.stopped = Some("deadline");
            break;
        }
        let batch = app
            .store
            .claim_due_connections(BATCH, stale_before, LEASE_SECONDS)
            .await?;
        if batch.is_empty() {
            break;
        }
        for connection in batch {
            if Instant::now() >= until {
                summary.stopped = Some("deadline");
                break 'claiming;
            }
            match tokens.refresh(&connection).await {
                Ok(_) => {
                    summary.refreshed += 1;
                    outages = 0;
                }
                Err(err) if err.is_reauth() => summary.reauth_required += 1,
                Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => {
                    summary.failed += 1;
                    summary.stopped = Some("tiktok_rate_limited");
                    break 'claiming;
                }
                Err(err @ AccessError::TikTok(_)) => {
                    tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                    summary.failed += 1;
                    outages += 1;
                    if outages >= OUTAGES_TO_STOP {
                        summary.stopped = Some("tiktok_unavailable");
                        break 'claiming;
                    }
                }
                // A row of its own that cannot be refreshed (tokens no key decrypts, a
                // store error): counted, and the next connection goes on.
                Err(err) => {
                    tracing::warn!(connection_id = connection.id, error = %err, "keep-alive refresh failed");
                    summary.failed += 1;
                }
            }
        }
    }
    summary.remaining = app.store.count_due_connections(stale_before).await?;
    tracing::info!(
        refreshed = summary.refreshed,
        reauth_required = summary.reauth_required,
        failed = summary.failed,
        remaining = summary.remaining,
        stopped = summary.stopped,
        "keep-alive sweep done"
    );
    Ok(summary)
}

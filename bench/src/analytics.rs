//! The analytics sync (sync-analytics) as it runs on its schedule: the release binary
//! under the Runtime API, one scheduled event each run. Measures what one run gets
//! through when TikTok's budget is not what holds it (the budget at TikTok's 600 a
//! minute: its bucket holds 60 of each endpoint's requests at once): the discovery and
//! stats of `ACCOUNTS` new accounts, then one query of 20 ids each for their videos, and
//! its peak memory. The rest of the database's analytics is parked for the runs.

use std::path::Path;
use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};

use crate::process::{scheduled_run, Env};

/// Accounts synced (as many as the bucket lets through at once: 60 a minute / 10 * 10).
const ACCOUNTS: usize = 60;
/// Videos each account has (one query's worth).
const VIDEOS: usize = 20;

pub struct SyncRuns {
    pub discovery: SyncRun,
    pub refresh: SyncRun,
}

pub struct SyncRun {
    pub ready_ms: f64,
    pub run_ms: f64,
    pub peak_rss_kib: u64,
    pub summary: Value,
}

impl SyncRun {
    fn json(&self) -> Value {
        json!({"cold_ready_ms": self.ready_ms, "run_ms": self.run_ms,
               "peak_rss_kib": self.peak_rss_kib, "summary": self.summary})
    }
}

impl SyncRuns {
    pub fn json(&self) -> Value {
        json!({"accounts": ACCOUNTS, "videos_per_account": VIDEOS,
               "discovery": self.discovery.json(), "refresh": self.refresh.json(),
               "accounts_per_second": self.accounts_per_second(),
               "videos_refreshed_per_second": self.videos_per_second()})
    }

    pub fn accounts_per_second(&self) -> f64 {
        self.discovery.summary["accounts"].as_f64().unwrap_or(0.0)
            / (self.discovery.run_ms / 1000.0)
    }

    pub fn videos_per_second(&self) -> f64 {
        self.refresh.summary["videos_refreshed"]
            .as_f64()
            .unwrap_or(0.0)
            / (self.refresh.run_ms / 1000.0)
    }

    /// What the runs must do: every account discovered with its videos, then every video
    /// refreshed with one or two queries per account.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let (d, r) = (&self.discovery.summary, &self.refresh.summary);
        if d["accounts"].as_u64() != Some(ACCOUNTS as u64)
            || d["videos_new"].as_u64() != Some((ACCOUNTS * VIDEOS) as u64)
        {
            failures.push(format!("sync-analytics: the discovery run did {d}"));
        }
        // One query an account, or two where concurrent workers' claims split an account's
        // videos between them.
        let batches = r["video_batches"].as_u64().unwrap_or(0);
        if !(ACCOUNTS as u64..=2 * ACCOUNTS as u64).contains(&batches)
            || r["videos_refreshed"].as_u64() != Some((ACCOUNTS * VIDEOS) as u64)
        {
            failures.push(format!("sync-analytics: the refresh run did {r}"));
        }
        failures
    }

    pub fn line(&self) -> String {
        format!(
            "\nAnalytics sync (sync-analytics, one scheduled run each, its default 4 workers, the \
             budget at 600 a minute): {ACCOUNTS} new accounts discovered (their {} videos listed, \
             stats read) in {:.0} ms after a {:.1} ms cold start, {:.0} accounts a second; then \
             their videos refreshed in {} queries (at most {VIDEOS} ids each), in {:.0} ms: {:.0} \
             videos a second; peak RSS {:.1} MiB. Against TikTok each call waits for its round \
             trip; the budget (270 a minute per endpoint by default) is what limits a run, not \
             this.\n",
            ACCOUNTS * VIDEOS,
            self.discovery.run_ms,
            self.discovery.ready_ms,
            self.accounts_per_second(),
            self.refresh.summary["video_batches"],
            self.refresh.run_ms,
            self.videos_per_second(),
            self.discovery.peak_rss_kib.max(self.refresh.peak_rss_kib) as f64 / 1024.0
        )
    }
}

/// `ACCOUNTS` connected accounts, each with `VIDEOS` videos of the last hours at TikTok;
/// only their analytics is due.
async fn seed() -> Vec<String> {
    let (app, fake) = (live_app(), TikTokFake::new());
    let mut ids = Vec::with_capacity(ACCOUNTS);
    let mut user = firebase_user().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for i in 0..ACCOUNTS {
        if i % 40 == 39 {
            user = firebase_user().await;
        }
        let account = fake.account(ALL_SCOPES).await;
        fake.add_videos(
            &account.open_id,
            json!({"count": VIDEOS, "newest": now - 600}),
        )
        .await;
        let id = given::connection(&user, &account)
            .not_primary()
            .through_store_token(&app)
            .await;
        ids.push(id.to_string());
    }
    ids
}

fn only_due(ids: &[String]) {
    let ids = ids.join(",");
    psql(&format!(
        "update tiktok_analytics_accounts set due_at = now() + interval '1 day' where connection_id not in ({ids}); \
         update tiktok_videos set next_sync_at = now() + interval '1 day' \
         where connection_id not in ({ids}) and next_sync_at is not null; \
         delete from tiktok_rate_buckets;"
    ));
}

async fn one_run(binary: &Path, env: &impl Fn(&str) -> Env) -> SyncRun {
    // The budget at TikTok's 600 a minute; the template's timeout.
    let env = |runtime: &str| {
        let mut env = env(runtime);
        env.insert("ANALYTICS_RPM".into(), "600".into());
        env
    };
    let run = scheduled_run(
        binary,
        &env,
        "events/refresh-connections/scheduled.json",
        Duration::from_secs(300),
    )
    .await;
    SyncRun {
        ready_ms: run.ready_ms,
        run_ms: run.run_ms,
        peak_rss_kib: run.peak_rss_kib,
        summary: run.summary,
    }
}

/// A discovery run over `ACCOUNTS` new accounts, then a refresh run of their videos.
pub async fn measure(binary: &Path, env: impl Fn(&str) -> Env) -> SyncRuns {
    let ids = seed().await;
    only_due(&ids);
    let discovery = one_run(binary, &env).await;
    only_due(&ids);
    psql(&format!(
        "update tiktok_videos set next_sync_at = now() - interval '1 minute' where connection_id in ({})",
        ids.join(",")
    ));
    let refresh = one_run(binary, &env).await;
    SyncRuns { discovery, refresh }
}

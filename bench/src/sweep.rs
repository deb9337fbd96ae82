//! The keep-alive sweep (refresh-connections) as it runs on its schedule: the release
//! binary under the Runtime API, one scheduled event, a few hundred due connections.
//! Measures its cold start, how long the run takes and how many connections it
//! refreshes a second, its peak memory, and the TikTok refresh calls per connection
//! (exactly one: neither workers nor runs refresh a connection twice).

use std::path::Path;
use std::time::Duration;

use integration_tests::*;

use crate::process::{scheduled_run, Env};
use serde_json::{json, Value};

/// Due connections the run refreshes (over several users: a user connects at most 50).
const DUE: usize = 300;

pub struct SweepRun {
    pub due: usize,
    pub ready_ms: f64,
    pub run_ms: f64,
    pub per_second: f64,
    pub tiktok_calls_per_connection: f64,
    pub peak_rss_kib: u64,
    pub summary: Value,
}

impl SweepRun {
    pub fn json(&self) -> Value {
        json!({"due_connections": self.due, "cold_ready_ms": self.ready_ms,
               "run_ms": self.run_ms, "refreshed_per_second": self.per_second,
               "tiktok_refresh_calls_per_connection": self.tiktok_calls_per_connection,
               "peak_rss_kib": self.peak_rss_kib, "summary": self.summary})
    }

    /// What the run must do: refresh every due connection, each exactly once.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.summary["refreshed"].as_u64() != Some(self.due as u64) {
            failures.push(format!(
                "refresh-connections: refreshed {} of {} due connections",
                self.summary["refreshed"], self.due
            ));
        }
        if self.tiktok_calls_per_connection != 1.0 {
            failures.push(format!(
                "refresh-connections: {:.2} TikTok refreshes per connection (one expected)",
                self.tiktok_calls_per_connection
            ));
        }
        failures
    }
}

/// `DUE` connections last refreshed two days ago, written as the functions write rows.
async fn seed_due_connections() {
    let (db, fake) = (Db::new(), TikTokFake::new());
    let mut ids = Vec::with_capacity(DUE);
    let mut user = firebase_user().await;
    for i in 0..DUE {
        if i % 40 == 39 {
            user = firebase_user().await;
        }
        let account = fake.account(ALL_SCOPES).await;
        let row = given::connection(&user, &account)
            .not_primary()
            .as_row(&db)
            .await;
        ids.push(row["id"].as_i64().expect("id").to_string());
    }
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '2 days' where id in ({})",
        ids.join(",")
    ));
}

async fn token_calls(fake: &TikTokFake) -> usize {
    fake.all_calls()
        .await
        .iter()
        .filter(|c| c["endpoint"] == "token")
        .count()
}

/// One scheduled run of the release binary over `DUE` due connections.
pub async fn measure(binary: &Path, env: impl Fn(&str) -> Env) -> SweepRun {
    seed_due_connections().await;
    let fake = TikTokFake::new();
    let calls_before = token_calls(&fake).await;
    let run = scheduled_run(
        binary,
        &env,
        "events/refresh-connections/scheduled.json",
        Duration::from_secs(600),
    )
    .await;
    let (summary, ready_ms, run_ms, peak_rss_kib) =
        (run.summary, run.ready_ms, run.run_ms, run.peak_rss_kib);
    let calls = token_calls(&fake).await - calls_before;
    let refreshed = summary["refreshed"].as_f64().unwrap_or(0.0);
    SweepRun {
        due: DUE,
        ready_ms,
        run_ms,
        per_second: refreshed / (run_ms / 1000.0),
        tiktok_calls_per_connection: calls as f64 / DUE as f64,
        peak_rss_kib,
        summary,
    }
}

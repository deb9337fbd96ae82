//! The dispatcher of scheduled posts (publish-scheduled-posts) as its schedule runs it:
//! the release binary under the Runtime API, one scheduled event each.
//!
//! - A burst: [`BURST`] URL posts due in the same minute, TikTok answering every call
//!   after [`TIKTOK_LATENCY_MS`]: each initiated exactly once, by the one run, the last
//!   within a minute of its time.
//! - An upload: a [`UPLOAD_MB`] MB video streamed from S3 (moto) to TikTok's upload URL:
//!   its throughput and the run's peak memory (at most two chunks and 32 MiB).

use std::path::Path;
use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};

use crate::process::{scheduled_run, Env};

/// Posts due in the same minute.
pub const BURST: usize = 10_000;
/// What TikTok takes to answer each call during the burst.
const TIKTOK_LATENCY_MS: u64 = 20;
/// Accounts the burst posts with, five posts each: a creator may init 6 a minute (TikTok's
/// limit, which the capacity ledger keeps), so a minute's burst is many creators'. Their
/// daily caps at the fake are off.
const ACCOUNTS: usize = 2_000;
/// Connections one user has at most (50): the burst's accounts are spread over users.
const ACCOUNTS_PER_USER: usize = 40;
/// The uploaded video.
pub const UPLOAD_MB: u64 = 200;
/// Peak memory the upload may take: two 10 MB chunks and 32 MiB.
const UPLOAD_MEMORY_KIB: u64 = (2 * 10_000_000 / 1024) + 32 * 1024;

pub struct DispatchRuns {
    pub burst: Value,
    pub upload: Value,
    failures: Vec<String>,
}

impl DispatchRuns {
    pub fn json(&self) -> Value {
        json!({"burst": self.burst, "upload": self.upload})
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.clone()
    }
}

/// One run of the release binary: (its answer, run ms, peak RSS KiB).
async fn one_run(binary: &Path, env: &impl Fn(&str) -> Env) -> (Value, f64, u64) {
    // The function's timeout in the template: a run works until 20 s before it.
    let run = scheduled_run(
        binary,
        env,
        "events/publish-scheduled-posts/scheduled.json",
        Duration::from_secs(900),
    )
    .await;
    (run.summary, run.run_ms, run.peak_rss_kib)
}

/// A connected account whose per-user posting limits are off.
async fn poster(app: &shared::LiveApp) -> (FirebaseUser, TikTokAccount, i64) {
    let user = firebase_user().await;
    let creator = json!({"rate_limited": false, "max_posts_per_day": 1_000_000});
    let account = TikTokFake::new().account_with(ALL_SCOPES, creator).await;
    let id = given::connection(&user, &account)
        .through_store_token(app)
        .await;
    (user, account, id)
}

async fn burst(binary: &Path, env: &impl Fn(&str) -> Env) -> (Value, Vec<String>) {
    let (app, fake) = (live_app(), TikTokFake::new());
    let creator = json!({"rate_limited": false, "max_posts_per_day": 1_000_000});
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    while accounts.len() < ACCOUNTS {
        let user = firebase_user().await;
        for _ in 0..ACCOUNTS_PER_USER.min(ACCOUNTS - accounts.len()) {
            let account = fake.account_with(ALL_SCOPES, creator.clone()).await;
            let id = given::connection(&user, &account)
                .through_store_token(&app)
                .await;
            accounts.push((account, id));
        }
    }
    let per_account = BURST / ACCOUNTS;
    // The burst is all the work due (what the functions' workloads scheduled is not).
    psql(
        "update tiktok_posts set status = 'CANCELLED' where status = 'SCHEDULED'; \
         update tiktok_posts set reconcile_at = 'infinity' where status = 'UNCONFIRMED'",
    );
    // Written as tiktok-publish writes a scheduled post, all due this minute.
    let connections = accounts
        .iter()
        .map(|(_, id)| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    psql(&format!(
        "insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type, status, \
         scheduled_at, request) \
         select c.user_id, c.id, c.provider_account_id, 'direct', 'url', 'SCHEDULED', now(), \
         jsonb_build_object('mode', 'direct', 'source', jsonb_build_object('type', 'url', \
         'video_url', 'https://media.example.com/verified/burst-' || n || '.mp4'), \
         'post_info', jsonb_build_object('title', 'Burst ' || n, 'privacy_level', 'SELF_ONLY')) \
         from social_connections c, generate_series(1, {per_account}) n \
         where c.id in ({connections})"
    ));
    fake.set_latency(TIKTOK_LATENCY_MS).await;
    let (summary, run_ms, peak_rss_kib) = one_run(binary, env).await;
    fake.set_latency(0).await;
    let ours: std::collections::HashSet<&str> =
        accounts.iter().map(|(a, _)| a.open_id.as_str()).collect();
    let inits = fake
        .all_calls()
        .await
        .iter()
        .filter(|c| c["endpoint"] == "video_init")
        .filter(|c| c["open_id"].as_str().is_some_and(|o| ours.contains(o)))
        .count();
    let ids = accounts
        .iter()
        .map(|(a, _)| format!("'{}'", a.open_id))
        .collect::<Vec<_>>()
        .join(",");
    let rows = psql(&format!(
        "select count(*) filter (where publish_id is not null and attempts = 1), \
         coalesce(max(extract(epoch from attempted_at - scheduled_at)), -1)::int \
         from tiktok_posts where open_id in ({ids}) and scheduled_at is not null"
    ));
    let (initiated, lag_max) = rows.trim().split_once('|').unwrap_or(("0", "-1"));
    let (initiated, lag_max): (usize, i64) = (
        initiated.parse().unwrap_or(0),
        lag_max.parse().unwrap_or(-1),
    );
    let mut failures = Vec::new();
    if inits != BURST || initiated != BURST {
        failures.push(format!(
            "publish-scheduled-posts burst: {inits} inits at TikTok and {initiated} posts initiated once, of {BURST}"
        ));
    }
    if summary["initiated"].as_u64() != Some(BURST as u64) || summary["remaining"] != 0 {
        failures.push(format!(
            "publish-scheduled-posts burst: one run initiated {} of {BURST}",
            summary["initiated"]
        ));
    }
    if !(0..=60).contains(&lag_max) {
        failures.push(format!(
            "publish-scheduled-posts burst: the last post initiated {lag_max} s after its time (60 s at most)"
        ));
    }
    let result = json!({"posts": BURST, "accounts": ACCOUNTS, "tiktok_latency_ms": TIKTOK_LATENCY_MS,
        "run_ms": run_ms, "inits_per_second": BURST as f64 / (run_ms / 1000.0),
        "tiktok_inits": inits, "lag_max_seconds": lag_max, "peak_rss_kib": peak_rss_kib,
        "summary": summary});
    (result, failures)
}

async fn upload(binary: &Path, env: &impl Fn(&str) -> Env) -> (Value, Vec<String>) {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account, _) = poster(&app).await;
    let size = UPLOAD_MB * 1_000_000;
    let made = with_json_body(
        request("tiktok-media/ok.json", &user, &account, &[]),
        &json!({"content_type": "video/mp4", "size": size}),
    );
    let media = send("tiktok-media", &app, made).await;
    assert_eq!(media.status, 201, "{}", media.body);
    let upload = &media.body["upload"];
    let mut put = http()
        .put(upload["url"].as_str().unwrap())
        .timeout(Duration::from_secs(600))
        .body(video_of_size(size));
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    assert!(put
        .send()
        .await
        .expect("PUT to the bucket")
        .status()
        .is_success());
    let id = media.body["id"].as_str().unwrap();
    let ready = send(
        "tiktok-media-status",
        &app,
        request(
            "tiktok-media-status/ok.json",
            &user,
            &account,
            &[("REPLACE_WITH_MEDIA_ID", id)],
        ),
    )
    .await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    let post = json!({"mode": "direct", "source": {"type": "media", "media_id": id},
                      "post_info": {"title": "Benchmark upload", "privacy_level": "SELF_ONLY"}});
    let posted = send(
        "tiktok-publish",
        &app,
        with_json_body(
            request("tiktok-publish/ok.json", &user, &account, &[]),
            &post,
        ),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let (summary, run_ms, peak_rss_kib) = one_run(binary, env).await;
    let uploads = fake.count(&account.open_id, "upload").await;
    let mb_per_second = UPLOAD_MB as f64 / (run_ms / 1000.0);
    // What one 15-minute run carries at this rate (less its 20 s margin).
    let largest_gib = mb_per_second * 880.0 / 1024.0;
    let mut failures = Vec::new();
    if summary["uploaded"].as_u64() != Some(1) {
        failures.push(format!(
            "publish-scheduled-posts upload: not uploaded in one run: {summary}"
        ));
    }
    if peak_rss_kib > UPLOAD_MEMORY_KIB {
        failures.push(format!(
            "publish-scheduled-posts upload: peak memory {:.1} MiB (limit {:.1} MiB: two chunks and 32 MiB)",
            peak_rss_kib as f64 / 1024.0,
            UPLOAD_MEMORY_KIB as f64 / 1024.0
        ));
    }
    let result = json!({"megabytes": UPLOAD_MB, "run_ms": run_ms, "megabytes_per_second": mb_per_second,
        "chunks": uploads, "peak_rss_kib": peak_rss_kib,
        "largest_file_one_run_gib": largest_gib, "summary": summary});
    (result, failures)
}

/// Both measures, each with its own run of the release binary.
pub async fn measure(binary: &Path, env: impl Fn(&str) -> Env) -> DispatchRuns {
    let (burst, mut failures) = burst(binary, &env).await;
    eprintln!("{burst}");
    let (upload, upload_failures) = upload(binary, &env).await;
    eprintln!("{upload}");
    failures.extend(upload_failures);
    DispatchRuns {
        burst,
        upload,
        failures,
    }
}

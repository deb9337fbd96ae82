//! The benchmark (`scripts/bench.sh`): release binaries of every function and of a
//! hello-world `lambda_http` floor, run under a minimal Lambda Runtime API against the
//! local stack. Measures cold start (to ready, to first response; config from the
//! environment and from a Secrets Manager secret: `cold.rs`), peak memory after 200 warm
//! requests, warm latency, CPU time and upstream round trips per request (`warm.rs`,
//! over `workloads.rs`), binary and zip sizes. Writes `bench/results/bench.json`,
//! `bench.md` and `cold-start.svg` (`report.rs`).
//!
//! Also one scheduled run of the keep-alive sweep over a few hundred due connections
//! (`sweep.rs`), and of the dispatcher over a burst of due posts and a 200 MB upload
//! (`dispatch.rs`).
//!
//! `--check`: exit non-zero when a function's cold-start ratio to the floor passes 1.5x
//! its target (3x) or its peak memory passes 32 MiB, or when the sweep leaves a due
//! connection unrefreshed or refreshes one twice.

use std::path::{Path, PathBuf};

use integration_tests::*;
use serde_json::{json, Value};

mod analytics;
mod cold;
mod dispatch;
mod emf;
mod process;
mod report;
mod sweep;
mod warm;
mod workloads;

use cold::{cold_start, secret_call_ms};
use process::{env_config, function_lambda_env, median, moto, secret_config, zipped_size};
use warm::{round_trips, warm, RoundTrips};
use workloads::{sign_up_workload, workload};

const COLD_RUNS: usize = 11;
const WARM_REQUESTS: usize = 200;
const COUNTED_REQUESTS: usize = 10;
const COLD_TARGET_RATIO: f64 = 3.0;
const CHECK_MARGIN: f64 = 1.5;
const MEMORY_TARGET_KIB: u64 = 32 * 1024;
const ALL: &str = ALL_SCOPES;

/// A request every function answers without upstream calls: the cold start alone.
fn cold_event(name: &str) -> String {
    match name {
        "floor" => event_json("tiktok-test/no-auth.json", &[]),
        "oauth-tiktok" => event_json("oauth-tiktok/missing-open-id.json", &[]),
        "tiktok-authorize" | "tiktok-callback" | "tiktok-webhook" => {
            event_json(&format!("{name}/wrong-method.json"), &[])
        }
        CATCH_ALL => event_json("route-not-found/unknown-path.json", &[]),
        other => event_json(
            &format!("{other}/no-auth.json"),
            &[
                ("REPLACE_WITH_OPEN_ID", "x"),
                ("REPLACE_WITH_PROVIDER", "tiktok"),
                ("REPLACE_WITH_ACCOUNT_ID", "x"),
            ],
        ),
    }
}

/// One function's row: cold starts both ways, Secrets Manager calls, warm requests,
/// round trips, sizes.
async fn measure(name: &str, bin: &Path, secret_id: &str) -> Value {
    let event = cold_event(name);
    let (mut env_ready, mut env_first) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        let (r, f) = cold_start(bin, &env_config(), name, &event).await;
        env_ready.push(r);
        env_first.push(f);
    }
    moto("reset-recording").await;
    moto("start-recording").await;
    let (mut secret_ready, mut secret_first) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        let (r, f) = cold_start(bin, &secret_config(secret_id), name, &event).await;
        secret_ready.push(r);
        secret_first.push(f);
    }
    moto("stop-recording").await;
    let secret_calls = moto("download-recording")
        .await
        .lines()
        .filter(|l| l.contains("secretsmanager.GetSecretValue"))
        .count();

    let load = workload(name, WARM_REQUESTS).await;
    let warm = warm(bin, name, &env_config(), &load).await;
    let trips = if name == "floor" {
        RoundTrips {
            postgrest: 0.0,
            tiktok: 0.0,
            firebase: 0.0,
            sequential: 0,
        }
    } else {
        round_trips(bin, name, &workload(name, COUNTED_REQUESTS).await).await
    };
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    json!({
        "function": name,
        "cold_ready_ms_env": median(&mut env_ready),
        "cold_first_response_ms_env": median(&mut env_first),
        "cold_ready_ms_secret": median(&mut secret_ready),
        "cold_first_response_ms_secret": median(&mut secret_first),
        "secrets_manager_calls_per_cold_start": secret_calls as f64 / COLD_RUNS as f64,
        "peak_rss_kib_after_warm": warm.peak_rss_kib,
        "binary_bytes": size,
        "zip_bytes": zipped_size(bin),
        "warm_p50_ms": warm.p50,
        "warm_p99_ms": warm.p99,
        "cpu_ms_per_request": warm.cpu_ms_per_request,
        "postgrest_calls_per_request": trips.postgrest,
        "tiktok_calls_per_request": trips.tiktok,
        "firebase_calls_per_request": trips.firebase,
        "sequential_round_trips": trips.sequential,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let profile_dir = std::env::var("BENCH_PROFILE_DIR").unwrap_or_else(|_| "release".into());
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_path("target"));
    let binary = |name: &str| target.join(&profile_dir).join(name);
    let names: Vec<&str> = std::iter::once("floor")
        .chain(FUNCTIONS)
        .chain([CATCH_ALL])
        .collect();

    // `BENCH_ONLY=dispatch`: the dispatcher's runs alone (its release binary and the
    // bench are all it needs built), for working on it.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("dispatch") {
        let runs = dispatch::measure(&binary("publish-scheduled-posts"), |runtime| {
            function_lambda_env(&env_config(), runtime, "publish-scheduled-posts")
        })
        .await;
        let failures = runs.failures();
        if !failures.is_empty() {
            eprintln!("benchmark targets missed:\n{}", failures.join("\n"));
            std::process::exit(1);
        }
        return;
    }

    // `BENCH_ONLY=analytics`: the analytics sync's runs alone.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("analytics") {
        let runs = analytics::measure(&binary("sync-analytics"), |runtime| {
            function_lambda_env(&env_config(), runtime, "sync-analytics")
        })
        .await;
        println!("{}", runs.line());
        let failures = runs.failures();
        if !failures.is_empty() {
            eprintln!("benchmark targets missed:\n{}", failures.join("\n"));
            std::process::exit(1);
        }
        return;
    }

    // The warm requests of user info, videos and their like go past TikTok's 600 a minute:
    // the fake's limit is raised for the benchmark's load.
    TikTokFake::new().set_display_rpm(1_000_000_000).await;

    // The app secret, as in staging.
    let secret_id = unique("bench-app-secret");
    create_app_secret(&secret_id).await;
    let secret_call = secret_call_ms(&secret_id).await;

    let mut results = Vec::new();
    for name in &names {
        let row = measure(name, &binary(name), &secret_id).await;
        eprintln!("{row}");
        results.push(row);
    }
    let signup = round_trips(
        &binary("oauth-tiktok"),
        "oauth-tiktok",
        &sign_up_workload(COUNTED_REQUESTS).await,
    )
    .await;
    let sweep = sweep::measure(&binary("refresh-connections"), |runtime| {
        function_lambda_env(&env_config(), runtime, "refresh-connections")
    })
    .await;
    let dispatch = dispatch::measure(&binary("publish-scheduled-posts"), |runtime| {
        function_lambda_env(&env_config(), runtime, "publish-scheduled-posts")
    })
    .await;
    let analytics = analytics::measure(&binary("sync-analytics"), |runtime| {
        function_lambda_env(&env_config(), runtime, "sync-analytics")
    })
    .await;
    let failures = report::write(
        results,
        &report::Extras {
            signup,
            sweep,
            dispatch,
            analytics,
            secret_call,
            emf_us: emf::request_cost_us(),
        },
    );
    if check && !failures.is_empty() {
        eprintln!("benchmark targets missed:\n{}", failures.join("\n"));
        std::process::exit(1);
    }
}

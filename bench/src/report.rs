//! The report: the table of every function (with the checks against the targets), the
//! new-user sign-in's and the sweep's lines, `bench.json`, `bench.md` and the cold-start
//! chart.

use integration_tests::*;
use serde_json::{json, Value};

use crate::analytics::SyncRuns;
use crate::dispatch::DispatchRuns;
use crate::process::python_import_ms;
use crate::sweep::SweepRun;
use crate::warm::RoundTrips;
use crate::{CHECK_MARGIN, COLD_RUNS, COLD_TARGET_RATIO, MEMORY_TARGET_KIB, WARM_REQUESTS};

/// What is measured once, beside the functions' rows.
pub(crate) struct Extras {
    pub(crate) signup: RoundTrips,
    pub(crate) sweep: SweepRun,
    pub(crate) dispatch: DispatchRuns,
    pub(crate) analytics: SyncRuns,
    /// Building a Secrets Manager client, and one GetSecretValue (ms).
    pub(crate) secret_call: (f64, f64),
    /// One request's metric lines (µs).
    pub(crate) emf_us: f64,
}

/// Writes bench/results/ from the functions' rows and the extras; the targets missed.
pub(crate) fn write(mut results: Vec<Value>, extras: &Extras) -> Vec<String> {
    let floor_ready = results[0]["cold_ready_ms_env"].as_f64().unwrap_or(f64::NAN);
    let python = python_import_ms();
    let mut failures = Vec::new();
    let mut md = String::new();
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| c.lines().find_map(|l| l
                .strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())))
            .unwrap_or_default()
    );
    let date = time::OffsetDateTime::now_utc().date();
    md.push_str(&format!("Measured {date} on {machine}; medians of {COLD_RUNS} cold starts, {WARM_REQUESTS} warm requests.\n\n"));
    md.push_str("| function | ready ms (env) | x floor | first response ms | ready ms (secret) | secret adds ms | SM calls / cold start | peak RSS MiB | binary MiB | zip MiB | warm p50 / p99 ms | CPU ms / req | PostgREST / TikTok / Firebase per req | in sequence |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut chart = Vec::new();
    for row in &mut results {
        let ready = row["cold_ready_ms_env"].as_f64().unwrap_or(f64::NAN);
        let ratio = ready / floor_ready;
        row["ratio_to_floor"] = json!(ratio);
        let name = row["function"].as_str().unwrap_or_default().to_owned();
        let secret_ready = row["cold_ready_ms_secret"].as_f64().unwrap_or(f64::NAN);
        let rss = row["peak_rss_kib_after_warm"].as_u64().unwrap_or(0);
        if name != "floor" {
            if ratio > COLD_TARGET_RATIO * CHECK_MARGIN {
                failures.push(format!(
                    "{name}: cold start {ratio:.2}x the floor (limit {:.1}x)",
                    COLD_TARGET_RATIO * CHECK_MARGIN
                ));
            }
            if rss > MEMORY_TARGET_KIB {
                failures.push(format!(
                    "{name}: peak memory {:.1} MiB (limit 32 MiB)",
                    rss as f64 / 1024.0
                ));
            }
        }
        chart.push((name.clone(), ready, secret_ready));
        md.push_str(&format!(
            "| {name} | {ready:.1} | {ratio:.2} | {:.1} | {secret_ready:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} / {:.1} | {:.2} | {:.1} / {:.1} / {:.1} | {} |\n",
            row["cold_first_response_ms_env"].as_f64().unwrap_or(f64::NAN),
            secret_ready - ready,
            row["secrets_manager_calls_per_cold_start"].as_f64().unwrap_or(f64::NAN),
            rss as f64 / 1024.0,
            row["binary_bytes"].as_u64().unwrap_or(0) as f64 / 1048576.0,
            row["zip_bytes"].as_u64().unwrap_or(0) as f64 / 1048576.0,
            row["warm_p50_ms"].as_f64().unwrap_or(f64::NAN),
            row["warm_p99_ms"].as_f64().unwrap_or(f64::NAN),
            row["cpu_ms_per_request"].as_f64().unwrap_or(f64::NAN),
            row["postgrest_calls_per_request"].as_f64().unwrap_or(f64::NAN),
            row["tiktok_calls_per_request"].as_f64().unwrap_or(f64::NAN),
            row["firebase_calls_per_request"].as_f64().unwrap_or(f64::NAN),
            row["sequential_round_trips"].as_u64().unwrap_or(0),
        ));
    }
    let slowest = results
        .iter()
        .skip(1)
        .filter_map(|r| r["cold_ready_ms_env"].as_f64())
        .fold(0.0, f64::max);
    match python {
        Some(py) => md.push_str(&format!(
            "\nPython stack import alone (fastapi, mangum, firebase_admin, supabase, cryptography, httpx): {py:.0} ms, {:.0}x the slowest function's ready time.\n",
            py / slowest
        )),
        None => md.push_str("\nPython stack import: not measured (no Python with those packages; scripts/bench.sh installs one unless BENCH_SKIP_PYTHON=1).\n"),
    }
    let out = workspace_path("bench/results");
    std::fs::create_dir_all(&out).expect("results dir");
    let Extras {
        signup,
        sweep,
        dispatch,
        analytics,
        secret_call,
        emf_us,
    } = extras;
    md.push_str(&format!(
        "\nNew-user sign-in (oauth-tiktok, a new TikTok account and email each time): {:.1} \
         PostgREST / {:.1} TikTok / {:.1} Firebase calls per request, {} in sequence.\n",
        signup.postgrest, signup.tiktok, signup.firebase, signup.sequential
    ));
    failures.extend(sweep.failures());
    if sweep.peak_rss_kib > MEMORY_TARGET_KIB {
        failures.push(format!(
            "refresh-connections: peak memory {:.1} MiB (limit 32 MiB)",
            sweep.peak_rss_kib as f64 / 1024.0
        ));
    }
    md.push_str(&format!(
        "\nKeep-alive sweep (refresh-connections, one scheduled run, its default workers): {} due \
         connections refreshed in {:.0} ms after a {:.1} ms cold start, {:.0} a second, {:.2} \
         TikTok refreshes per connection, peak RSS {:.1} MiB (TikTok here is the local fake, \
         which answers in about a millisecond: against TikTok each refresh waits for its \
         round trip, and the workers overlap those waits).\n",
        sweep.due,
        sweep.run_ms,
        sweep.ready_ms,
        sweep.per_second,
        sweep.tiktok_calls_per_connection,
        sweep.peak_rss_kib as f64 / 1024.0
    ));
    failures.extend(analytics.failures());
    let analytics_rss = analytics
        .discovery
        .peak_rss_kib
        .max(analytics.refresh.peak_rss_kib);
    if analytics_rss > MEMORY_TARGET_KIB {
        failures.push(format!(
            "sync-analytics: peak memory {:.1} MiB (limit 32 MiB)",
            analytics_rss as f64 / 1024.0
        ));
    }
    md.push_str(&analytics.line());
    failures.extend(dispatch.failures());
    let (burst, upload) = (&dispatch.burst, &dispatch.upload);
    md.push_str(&format!(
        "\nScheduled posts (publish-scheduled-posts, one scheduled run each, its default workers): \
         a burst of {} URL posts due in the same minute over {} accounts, TikTok answering each \
         call after {} ms: {} inits at TikTok in {:.0} ms ({:.0} a second), the last {} s after \
         its time, peak RSS {:.1} MiB. A {} MB video streamed from S3 to TikTok's upload URL in \
         {} chunks: {:.0} ms, {:.1} MB/s (one 15-minute run carries about {:.1} GiB at this \
         rate; a larger file continues in the next run), peak RSS {:.1} MiB.\n",
        burst["posts"],
        burst["accounts"],
        burst["tiktok_latency_ms"],
        burst["tiktok_inits"],
        burst["run_ms"].as_f64().unwrap_or(f64::NAN),
        burst["inits_per_second"].as_f64().unwrap_or(f64::NAN),
        burst["lag_max_seconds"],
        burst["peak_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        upload["megabytes"],
        upload["chunks"],
        upload["run_ms"].as_f64().unwrap_or(f64::NAN),
        upload["megabytes_per_second"].as_f64().unwrap_or(f64::NAN),
        upload["largest_file_one_run_gib"].as_f64().unwrap_or(f64::NAN),
        upload["peak_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
    ));
    md.push_str(&format!(
        "\nThe secret's share: from the benchmark's own process (medians of {COLD_RUNS}, a fresh \
         client each time) building the Secrets Manager client takes {:.1} ms and one \
         GetSecretValue {:.1} ms (a new connection, signing and moto's answer): compare with \
         \"secret adds\" above, which is that call plus the function's own first-time work.\n",
        secret_call.0, secret_call.1
    ));
    // The metric lines against a warm request (the median of the functions' warm p50s).
    let mut warm: Vec<f64> = results
        .iter()
        .skip(1)
        .filter_map(|r| r["warm_p50_ms"].as_f64())
        .collect();
    warm.sort_by(f64::total_cmp);
    let warm_ms = warm.get(warm.len() / 2).copied().unwrap_or(f64::NAN);
    let emf_percent = emf_us / 10.0 / warm_ms;
    if emf_percent.is_nan() || emf_percent >= crate::emf::LIMIT_PERCENT {
        failures.push(format!(
            "metrics: a request's EMF lines take {emf_us:.1} us, {emf_percent:.2}% of a warm request ({warm_ms:.2} ms; limit {}%)",
            crate::emf::LIMIT_PERCENT
        ));
    }
    md.push_str(&format!(
        "\nMetrics (CloudWatch embedded metric format): a request's lines (its own and one per \
         TikTok call, three here) are made and written in {emf_us:.1} us, {emf_percent:.2}% of \
         the median warm request ({warm_ms:.2} ms); no call, no wait.\n"
    ));
    let report = json!({"date": date.to_string(), "emf_us_per_request": emf_us, "emf_percent_of_warm": emf_percent, "machine": machine, "floor_ready_ms": floor_ready,
                        "python_import_ms": python, "functions": results, "failures": failures,
                        "secret_client_build_ms": secret_call.0, "get_secret_value_ms": secret_call.1,
                        "new_user_sign_in": {"postgrest_calls_per_request": signup.postgrest,
                            "tiktok_calls_per_request": signup.tiktok,
                            "firebase_calls_per_request": signup.firebase,
                            "sequential_round_trips": signup.sequential},
                        "keep_alive_sweep": sweep.json(),
                        "scheduled_posts": dispatch.json(),
                        "analytics_sync": analytics.json()});
    std::fs::write(
        out.join("bench.json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .expect("write json");
    std::fs::write(out.join("bench.md"), &md).expect("write md");
    std::fs::write(out.join("cold-start.svg"), svg(&chart, floor_ready)).expect("write svg");
    println!("{md}");
    failures
}

pub(crate) fn svg(rows: &[(String, f64, f64)], floor: f64) -> String {
    let width = 760.0;
    let bar_h = 22.0;
    let left = 170.0;
    let max = rows
        .iter()
        .map(|(_, a, b)| a.max(*b))
        .fold(floor * COLD_TARGET_RATIO, f64::max)
        * 1.1;
    let scale = (width - left - 20.0) / max;
    let height = 60.0 + rows.len() as f64 * (bar_h * 2.0 + 8.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Cold start to ready (median ms): environment config (blue), Secrets Manager config (orange)</text>\n"
    );
    let target_x = left + floor * COLD_TARGET_RATIO * scale;
    out.push_str(&format!(
        "<line x1=\"{target_x:.1}\" y1=\"30\" x2=\"{target_x:.1}\" y2=\"{:.1}\" stroke=\"red\" stroke-dasharray=\"4\"/>\n<text x=\"{:.1}\" y=\"42\" fill=\"red\">3x floor</text>\n",
        height - 10.0,
        target_x + 4.0
    ));
    for (i, (name, env_ms, secret_ms)) in rows.iter().enumerate() {
        let y = 50.0 + i as f64 * (bar_h * 2.0 + 8.0);
        out.push_str(&format!(
            "<text x=\"10\" y=\"{:.1}\">{name}</text>\n",
            y + bar_h
        ));
        out.push_str(&format!(
            "<rect x=\"{left}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"#4e79a7\"/><text x=\"{:.1}\" y=\"{:.1}\">{env_ms:.1}</text>\n",
            env_ms * scale,
            left + env_ms * scale + 4.0,
            y + 15.0
        ));
        out.push_str(&format!(
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"#f28e2b\"/><text x=\"{:.1}\" y=\"{:.1}\">{secret_ms:.1}</text>\n",
            y + bar_h,
            secret_ms * scale,
            left + secret_ms * scale + 4.0,
            y + bar_h + 15.0
        ));
    }
    out.push_str("</svg>\n");
    out
}

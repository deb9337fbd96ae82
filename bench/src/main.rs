//! The benchmark (`scripts/bench.sh`): release binaries of every function and of a
//! hello-world `lambda_http` floor, run under a minimal Lambda Runtime API against the
//! local stack. Measures cold start (to ready, to first response; config from the
//! environment and from a Secrets Manager secret), peak memory after 200 warm
//! requests, binary and zip sizes, warm latency, CPU time and upstream round trips per
//! request. Writes `bench/results/bench.json`, `bench.md` and `cold-start.svg`.
//!
//! Also one scheduled run of the keep-alive sweep over a few hundred due connections
//! (`sweep.rs`).
//!
//! `--check`: exit non-zero when a function's cold-start ratio to the floor passes 1.5x
//! its target (3x) or its peak memory passes 32 MiB, or when the sweep leaves a due
//! connection unrefreshed or refreshes one twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::*;
use serde_json::{json, Value};

mod sweep;

const COLD_RUNS: usize = 11;
const WARM_REQUESTS: usize = 200;
const COUNTED_REQUESTS: usize = 10;
const COLD_TARGET_RATIO: f64 = 3.0;
const CHECK_MARGIN: f64 = 1.5;
const MEMORY_TARGET_KIB: u64 = 32 * 1024;
const ALL: &str = ALL_SCOPES;

type Env = HashMap<String, String>;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The Lambda environment a function sees, plus its settings; quieter logs.
fn function_lambda_env(settings: &Env, runtime: &str, function: &str) -> Env {
    let mut env = lambda_env(settings, runtime, function);
    env.insert("AWS_LAMBDA_LOG_LEVEL".into(), "WARN".into());
    env
}

fn env_config() -> Env {
    function_env()
}

fn secret_config(secret_id: &str) -> Env {
    secret_config_env(secret_id, &stack_var("STACK_MOTO_URL"))
}

fn spawn(binary: &Path, env: &Env) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_clear()
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn function")
}

/// One cold start: spawn until the first `next` (ready), and until the first response.
async fn cold_start(binary: &Path, settings: &Env, function: &str, event: &str) -> (f64, f64) {
    let runtime = RuntimeApi::start().await;
    let env = function_lambda_env(settings, &runtime.address, function);
    let id = runtime.invoke(event);
    let started = Instant::now();
    let mut child = spawn(binary, &env);
    assert!(
        runtime.wait_ready(Duration::from_secs(30)).await,
        "{function} never became ready"
    );
    let ready = runtime
        .first_next()
        .map(|t| ms(t - started))
        .unwrap_or(f64::NAN);
    runtime
        .response(&id, Duration::from_secs(30))
        .await
        .expect("first response");
    let first = ms(started.elapsed());
    let _ = child.kill().await;
    (ready, first)
}

async fn moto(path: &str) -> String {
    let client = reqwest::Client::new();
    let url = format!("{}/moto-api/recorder/{path}", stack_var("STACK_MOTO_URL"));
    let response = if path == "download-recording" {
        client.get(url).send().await
    } else {
        client.post(url).send().await
    };
    response
        .expect("moto recorder")
        .text()
        .await
        .unwrap_or_default()
}

fn proc_stat(pid: u32) -> (u64, u64) {
    // utime and stime in clock ticks (fields 14 and 15), and VmHWM in KiB.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The requests of a function's main path, one per warm request, and their setup.
struct Workload {
    events: Vec<String>,
}

async fn workload(function: &str, n: usize) -> Workload {
    let app = live_app();
    let fake = TikTokFake::new();
    let user = firebase_user().await;
    let account = fake.account(ALL).await;
    let connect = |account: TikTokAccount| {
        let (app, user) = (&app, &user);
        async move {
            let r = reply(
                dispatch(
                    "store-token",
                    app,
                    good_request("store-token", user, &account),
                )
                .await,
            );
            assert!(r.status == 201 || r.status == 200, "{}", r.body);
        }
    };
    let events = match function {
        "oauth-tiktok" => {
            // A returning user signing in: the TikTok proof, the database's precheck and
            // write, and a Firebase email lookup it does not wait for.
            let event = sign_in_event(&account, &format!("{}@example.com", unique("bench")));
            let first = reply(
                dispatch(
                    "oauth-tiktok",
                    &app,
                    lambda_http::request::from_str(&event).unwrap(),
                )
                .await,
            );
            assert_eq!(first.status, 200, "{}", first.body);
            vec![event; n]
        }
        "disconnect-tiktok" => {
            // Each request disconnects another account (40 per user: a user connects at
            // most 50).
            let mut events = Vec::with_capacity(n);
            let mut owner = firebase_user().await;
            for i in 0..n {
                if i > 0 && i % 40 == 0 {
                    owner = firebase_user().await;
                }
                let account = fake.account(ALL).await;
                let stored = good_request("store-token", &owner, &account);
                let r = reply(dispatch("store-token", &app, stored).await);
                assert_eq!(r.status, 201, "{}", r.body);
                events.push(good_request_json(function, &owner, &account));
            }
            events
        }
        "floor" => vec![event_json("tiktok-test/no-auth.json", &[]); n],
        CATCH_ALL => vec![event_json("route-not-found/unknown-path.json", &[]); n],
        "tiktok-authorize" => {
            let redirect = [("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI)];
            vec![event_json("tiktok-authorize/sign-in.json", &redirect); n]
        }
        "tiktok-callback" => {
            // A returning user signing in through the server-side flow: each request
            // finishes its own authorization (started, consented at the fake).
            // Each from its own address: sign-in states are limited per client address.
            let mut events = Vec::with_capacity(n + 1);
            for i in 0..=n {
                let redirect = [("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI)];
                let mut start: Value =
                    serde_json::from_str(&event_json("tiktok-authorize/sign-in.json", &redirect))
                        .unwrap();
                start["requestContext"]["http"]["sourceIp"] =
                    Value::String(format!("10.{}.{}.1", i / 250, i % 250));
                let start = lambda_http::request::from_str(&start.to_string()).unwrap();
                let started = reply(dispatch("tiktok-authorize", &app, start).await);
                let url = started.body["authorize_url"].as_str().expect("url");
                let (code, _) = fake.consent(url, Some(&account.open_id), &[]).await;
                let state = started.body["state"].as_str().expect("state").to_owned();
                let fill = [
                    ("REPLACE_WITH_CODE", code.as_str()),
                    ("REPLACE_WITH_STATE", &state),
                ];
                events.push(event_json("tiktok-callback/sign-in.json", &fill));
            }
            // The first one signs the account up, so the measured ones are returning.
            let first = lambda_http::request::from_str(&events.remove(0)).unwrap();
            let signed_up = reply(dispatch("tiktok-callback", &app, first).await);
            assert_eq!(signed_up.status, 200, "{}", signed_up.body);
            events
        }
        "tiktok-creator-info" | "tiktok-publish" | "tiktok-post-status" => {
            // TikTok's per-user posting limits (6 inits a minute, 15 posts a day) are off
            // for this account: the load is the benchmark's, not one creator's.
            let creator = json!({"rate_limited": false, "max_posts_per_day": 1_000_000});
            let account = fake.account_with(ALL, creator).await;
            connect(account.clone()).await;
            if function != "tiktok-post-status" {
                // Creator info fresh from TikTok; a new direct post (upload) each time.
                vec![good_request_json(function, &user, &account); n]
            } else {
                // A post TikTok is still processing: each read asks TikTok, then updates it.
                let posted = good_request("tiktok-publish", &user, &account);
                let r = reply(dispatch("tiktok-publish", &app, posted).await);
                assert_eq!(r.status, 201, "{}", r.body);
                let id = r.body["id"].as_str().expect("post id");
                let post = [("REPLACE_WITH_POST_ID", id)];
                vec![request_json("tiktok-post-status/ok.json", &user, &account, &post); n]
            }
        }
        _ => {
            connect(account.clone()).await;
            if function == "tiktok-profile" {
                // Warm the cache: the main path is the cached profile.
                let _ = dispatch(function, &app, good_request(function, &user, &account)).await;
            }
            vec![good_request_json(function, &user, &account); n]
        }
    };
    Workload { events }
}

struct Warm {
    p50: f64,
    p99: f64,
    cpu_ms_per_request: f64,
    peak_rss_kib: u64,
}

async fn warm(binary: &Path, function: &str, settings: &Env, load: &Workload) -> Warm {
    let runtime = RuntimeApi::start().await;
    let mut child = spawn(
        binary,
        &function_lambda_env(settings, &runtime.address, function),
    );
    let pid = child.id().expect("pid");
    assert!(runtime.wait_ready(Duration::from_secs(30)).await);
    let (ticks_before, _) = proc_stat(pid);
    let mut latencies = Vec::with_capacity(load.events.len());
    for event in &load.events {
        let started = Instant::now();
        let id = runtime.invoke(event);
        let answer = runtime
            .response(&id, Duration::from_secs(30))
            .await
            .expect("response");
        latencies.push(ms(started.elapsed()));
        let status = answer["statusCode"].as_u64().unwrap_or(0);
        assert!(
            // The floor and the catch-all answer their errors: that is their work.
            function == "floor" || function == CATCH_ALL || (200..300).contains(&status),
            "{function}: {answer}"
        );
    }
    // Let the last response's bookkeeping settle before reading the counters.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (ticks_after, peak) = proc_stat(pid);
    let _ = child.kill().await;
    let cpu = (ticks_after - ticks_before) as f64 * 1000.0
        / clock_ticks_per_second()
        / load.events.len() as f64;
    Warm {
        p50: percentile(&mut latencies.clone(), 50.0),
        p99: percentile(&mut latencies, 99.0),
        cpu_ms_per_request: cpu,
        peak_rss_kib: peak,
    }
}

/// An oauth-tiktok sign-in (no session) with this account's tokens and contact email.
fn sign_in_event(account: &TikTokAccount, email: &str) -> String {
    let body = json!({"provider": "tiktok", "provider_account_id": account.open_id,
        "access_token": account.access_token, "refresh_token": account.refresh_token,
        "expires_in": 7200, "email": email});
    let mut event: Value =
        serde_json::from_str(&event_json("oauth-tiktok/no-email.json", &[])).unwrap();
    event["body"] = Value::String(body.to_string());
    event.to_string()
}

/// New users signing up with TikTok (oauth-tiktok): each request a new TikTok account
/// and email, so every one creates its user.
async fn sign_up_workload(n: usize) -> Workload {
    let fake = TikTokFake::new();
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        let account = fake.account(ALL).await;
        let email = format!("{}@example.com", unique("signup"));
        events.push(sign_in_event(&account, &email));
    }
    Workload { events }
}

/// What one GetSecretValue costs outside a function: building the client, then the call
/// (medians, ms).
async fn secret_call_ms(secret_id: &str) -> (f64, f64) {
    let (mut build, mut call) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        let started = Instant::now();
        let client = shared::config::secrets_client().await.expect("client");
        build.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .expect("the app secret");
        call.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(&mut build), median(&mut call))
}

/// Upstream round trips per request of the main path, counted at proxies in front of
/// PostgREST, the TikTok API and the Firebase Auth emulator.
struct RoundTrips {
    postgrest: f64,
    tiktok: f64,
    firebase: f64,
    /// The longest chain of round trips one after another (calls that overlap in time
    /// run concurrently), the most of any request.
    sequential: usize,
}

/// The longest chain of spans each starting after the previous one ended.
fn longest_chain(mut spans: Vec<(Instant, Instant)>) -> usize {
    spans.sort_by_key(|s| s.1);
    let mut chain = Vec::<Instant>::new();
    // chain[i]: the earliest end of a chain of i + 1 spans.
    for (start, end) in spans {
        let fits = chain.partition_point(|e| *e <= start);
        if fits == chain.len() {
            chain.push(end);
        } else if end < chain[fits] {
            chain[fits] = end;
        }
    }
    chain.len()
}

async fn round_trips(binary: &Path, function: &str, load: &Workload) -> RoundTrips {
    let postgrest = FaultProxy::start(&stack_var("SUPABASE_REST_URL")).await;
    let tiktok = FaultProxy::start(&stack_var("TIKTOK_API_BASE_URL")).await;
    let firebase = FaultProxy::start(&format!(
        "http://{}",
        stack_var("FIREBASE_AUTH_EMULATOR_HOST")
    ))
    .await;
    let mut settings = env_config();
    settings.insert("SUPABASE_REST_URL".into(), postgrest.url.clone());
    settings.insert("TIKTOK_API_BASE_URL".into(), tiktok.url.clone());
    settings.insert(
        "FIREBASE_AUTH_EMULATOR_HOST".into(),
        firebase.url.trim_start_matches("http://").into(),
    );
    let runtime = RuntimeApi::start().await;
    let mut child = spawn(
        binary,
        &function_lambda_env(&settings, &runtime.address, function),
    );
    assert!(runtime.wait_ready(Duration::from_secs(30)).await);
    let events = &load.events[load.events.len() - COUNTED_REQUESTS..];
    let all_spans = || {
        let mut spans = postgrest.spans();
        spans.extend(tiktok.spans());
        spans.extend(firebase.spans());
        spans
    };
    let mut sequential = 0;
    for event in events {
        let before = Instant::now();
        let id = runtime.invoke(event);
        runtime
            .response(&id, Duration::from_secs(30))
            .await
            .expect("response");
        let mine = all_spans().into_iter().filter(|s| s.0 >= before).collect();
        sequential = sequential.max(longest_chain(mine));
    }
    let _ = child.kill().await;
    let per = |n: usize| n as f64 / events.len() as f64;
    RoundTrips {
        postgrest: per(postgrest.forwarded().len()),
        tiktok: per(tiktok.forwarded().len()),
        firebase: per(firebase.forwarded().len()),
        sequential,
    }
}

fn zipped_size(binary: &Path) -> u64 {
    let out = std::env::temp_dir()
        .join(unique("bootstrap"))
        .with_extension("zip");
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n    z.write(sys.argv[1], 'bootstrap')";
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(binary)
        .arg(&out)
        .status();
    let size = status
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&out).ok())
        .map(|m| m.len())
        .unwrap_or(0);
    let _ = std::fs::remove_file(out);
    size
}

/// Import time of the Python stack this replaces, when a Python with it is at hand.
fn python_import_ms() -> Option<f64> {
    let python = std::env::var("BENCH_PYTHON_BASELINE").ok()?;
    let import = "import fastapi, mangum, firebase_admin, supabase, cryptography, httpx";
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let ok = std::process::Command::new(&python)
            .arg("-c")
            .arg(import)
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        runs.push(ms(started.elapsed()));
    }
    Some(median(&mut runs))
}

fn svg(rows: &[(String, f64, f64)], floor: f64) -> String {
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

    // The app secret, as in staging.
    let secret_id = unique("bench-app-secret");
    create_app_secret(&secret_id).await;
    let secret_call = secret_call_ms(&secret_id).await;

    let mut results = Vec::new();
    for name in &names {
        let bin = binary(name);
        // A request every function answers without upstream calls: the cold start alone.
        let event = match *name {
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
        };
        let (mut env_ready, mut env_first) = (Vec::new(), Vec::new());
        for _ in 0..COLD_RUNS {
            let (r, f) = cold_start(&bin, &env_config(), name, &event).await;
            env_ready.push(r);
            env_first.push(f);
        }
        moto("reset-recording").await;
        moto("start-recording").await;
        let (mut secret_ready, mut secret_first) = (Vec::new(), Vec::new());
        for _ in 0..COLD_RUNS {
            let (r, f) = cold_start(&bin, &secret_config(&secret_id), name, &event).await;
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
        let warm = warm(&bin, name, &env_config(), &load).await;
        let trips = if *name == "floor" {
            RoundTrips {
                postgrest: 0.0,
                tiktok: 0.0,
                firebase: 0.0,
                sequential: 0,
            }
        } else {
            round_trips(&bin, name, &workload(name, COUNTED_REQUESTS).await).await
        };
        let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
        let row = json!({
            "function": name,
            "cold_ready_ms_env": median(&mut env_ready),
            "cold_first_response_ms_env": median(&mut env_first),
            "cold_ready_ms_secret": median(&mut secret_ready),
            "cold_first_response_ms_secret": median(&mut secret_first),
            "secrets_manager_calls_per_cold_start": secret_calls as f64 / COLD_RUNS as f64,
            "peak_rss_kib_after_warm": warm.peak_rss_kib,
            "binary_bytes": size,
            "zip_bytes": zipped_size(&bin),
            "warm_p50_ms": warm.p50,
            "warm_p99_ms": warm.p99,
            "cpu_ms_per_request": warm.cpu_ms_per_request,
            "postgrest_calls_per_request": trips.postgrest,
            "tiktok_calls_per_request": trips.tiktok,
            "firebase_calls_per_request": trips.firebase,
            "sequential_round_trips": trips.sequential,
        });
        eprintln!("{row}");
        results.push(row);
    }

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
    let signup = round_trips(
        &binary("oauth-tiktok"),
        "oauth-tiktok",
        &sign_up_workload(COUNTED_REQUESTS).await,
    )
    .await;
    md.push_str(&format!(
        "\nNew-user sign-in (oauth-tiktok, a new TikTok account and email each time): {:.1} \
         PostgREST / {:.1} TikTok / {:.1} Firebase calls per request, {} in sequence.\n",
        signup.postgrest, signup.tiktok, signup.firebase, signup.sequential
    ));
    let sweep = sweep::measure(&binary("refresh-connections"), |runtime| {
        function_lambda_env(&env_config(), runtime, "refresh-connections")
    })
    .await;
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
    md.push_str(&format!(
        "\nThe secret's share: from the benchmark's own process (medians of {COLD_RUNS}, a fresh \
         client each time) building the Secrets Manager client takes {:.1} ms and one \
         GetSecretValue {:.1} ms (a new connection, signing and moto's answer): compare with \
         \"secret adds\" above, which is that call plus the function's own first-time work.\n",
        secret_call.0, secret_call.1
    ));
    let report = json!({"date": date.to_string(), "machine": machine, "floor_ready_ms": floor_ready,
                        "python_import_ms": python, "functions": results, "failures": failures,
                        "secret_client_build_ms": secret_call.0, "get_secret_value_ms": secret_call.1,
                        "new_user_sign_in": {"postgrest_calls_per_request": signup.postgrest,
                            "tiktok_calls_per_request": signup.tiktok,
                            "firebase_calls_per_request": signup.firebase,
                            "sequential_round_trips": signup.sequential},
                        "keep_alive_sweep": sweep.json()});
    std::fs::write(
        out.join("bench.json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .expect("write json");
    std::fs::write(out.join("bench.md"), &md).expect("write md");
    std::fs::write(out.join("cold-start.svg"), svg(&chart, floor_ready)).expect("write svg");
    println!("{md}");
    if check && !failures.is_empty() {
        eprintln!("benchmark targets missed:\n{}", failures.join("\n"));
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_chain_counts_only_calls_one_after_another() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        // Two concurrent calls (0-10, 2-8), then one after both (12-20): two in sequence.
        let spans = vec![(at(0), at(10)), (at(2), at(8)), (at(12), at(20))];
        assert_eq!(longest_chain(spans), 2);
        // Three one after another.
        let spans = vec![(at(10), at(11)), (at(0), at(5)), (at(6), at(9))];
        assert_eq!(longest_chain(spans), 3);
        assert_eq!(longest_chain(Vec::new()), 0);
    }
}

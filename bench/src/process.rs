//! The function processes and the machine: spawning a function under the runtime API
//! with its Lambda environment, reading its CPU time and peak memory, the moto
//! recorder, zip sizes, and the statistics every measure uses.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::*;

pub(crate) type Env = HashMap<String, String>;

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The Lambda environment a function sees, plus its settings; quieter logs.
pub(crate) fn function_lambda_env(settings: &Env, runtime: &str, function: &str) -> Env {
    let mut env = lambda_env(settings, runtime, function);
    env.insert("AWS_LAMBDA_LOG_LEVEL".into(), "WARN".into());
    env
}

pub(crate) fn env_config() -> Env {
    function_env()
}

pub(crate) fn secret_config(secret_id: &str) -> Env {
    secret_config_env(secret_id, &stack_var("STACK_MOTO_URL"))
}

pub(crate) fn spawn(binary: &Path, env: &Env) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_clear()
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn function")
}

pub(crate) fn proc_stat(pid: u32) -> (u64, u64) {
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

pub(crate) fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) async fn moto(path: &str) -> String {
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

pub(crate) fn zipped_size(binary: &Path) -> u64 {
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
pub(crate) fn python_import_ms() -> Option<f64> {
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

/// One scheduled invocation of a release binary under the Runtime API.
pub(crate) struct ScheduledRun {
    /// The run's answer (its summary).
    pub summary: serde_json::Value,
    pub ready_ms: f64,
    pub run_ms: f64,
    pub peak_rss_kib: u64,
}

/// Runs `binary` once on `events/<function>/scheduled.json`, its deadline `timeout`
/// away (the function's timeout in the template), until it answers.
pub(crate) async fn scheduled_run(
    binary: &Path,
    env: &impl Fn(&str) -> Env,
    event_file: &str,
    timeout: Duration,
) -> ScheduledRun {
    let runtime = RuntimeApi::start_with_timeout(timeout).await;
    let event = std::fs::read_to_string(workspace_path(event_file)).expect("scheduled event");
    let id = runtime.invoke(&event);
    let started = Instant::now();
    let mut child = spawn(binary, &env(&runtime.address));
    let pid = child.id().expect("pid");
    assert!(runtime.wait_ready(Duration::from_secs(30)).await);
    let ready_ms = runtime
        .first_next()
        .map(|t| ms(t - started))
        .unwrap_or(f64::NAN);
    let summary = runtime
        .response(&id, timeout)
        .await
        .expect("the run's summary");
    let run_ms = ms(started.elapsed()) - ready_ms;
    let (_, peak_rss_kib) = proc_stat(pid);
    let _ = child.kill().await;
    ScheduledRun {
        summary,
        ready_ms,
        run_ms,
        peak_rss_kib,
    }
}

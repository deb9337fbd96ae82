//! Warm requests: latency, CPU time and peak memory over a workload, and the upstream
//! round trips per request (counted at proxies in front of PostgREST, TikTok and
//! Firebase), with the longest chain of them one after another.

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::*;

use crate::process::{
    clock_ticks_per_second, env_config, function_lambda_env, ms, percentile, proc_stat, spawn, Env,
};
use crate::workloads::Workload;
use crate::COUNTED_REQUESTS;

pub(crate) struct Warm {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) cpu_ms_per_request: f64,
    pub(crate) peak_rss_kib: u64,
}

pub(crate) async fn warm(binary: &Path, function: &str, settings: &Env, load: &Workload) -> Warm {
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

/// Upstream round trips per request of the main path, counted at proxies in front of
/// PostgREST, the TikTok API and the Firebase Auth emulator.
pub(crate) struct RoundTrips {
    pub(crate) postgrest: f64,
    pub(crate) tiktok: f64,
    pub(crate) firebase: f64,
    /// The longest chain of round trips one after another (calls that overlap in time
    /// run concurrently), the most of any request.
    pub(crate) sequential: usize,
}

/// The longest chain of spans each starting after the previous one ended.
pub(crate) fn longest_chain(mut spans: Vec<(Instant, Instant)>) -> usize {
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

pub(crate) async fn round_trips(binary: &Path, function: &str, load: &Workload) -> RoundTrips {
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

//! Cold starts: a function spawned until its first `next` (ready) and its first
//! response, with settings from the environment or from a Secrets Manager secret; and
//! what one GetSecretValue costs outside a function.

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::*;

use crate::process::{function_lambda_env, median, ms, spawn, Env};
use crate::COLD_RUNS;

/// One cold start: spawn until the first `next` (ready), and until the first response.
pub(crate) async fn cold_start(
    binary: &Path,
    settings: &Env,
    function: &str,
    event: &str,
) -> (f64, f64) {
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

/// What one GetSecretValue costs outside a function: building the client, then the call
/// (medians, ms).
pub(crate) async fn secret_call_ms(secret_id: &str) -> (f64, f64) {
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

//! The real function binaries under a minimal Lambda Runtime API: configuration from
//! a Secrets Manager secret (moto), a cold start that stops with a log line naming
//! the secret when it cannot be read, and the next cold start after recovery serving.

use std::process::Stdio;
use std::time::Duration;

use integration_tests::*;

fn env_without_secrets(
    secret_id: &str,
    secrets_endpoint: &str,
    runtime: &str,
) -> std::collections::HashMap<String, String> {
    let mut env = lambda_env(
        &secret_config_env(secret_id, secrets_endpoint),
        runtime,
        "tiktok-test",
    );
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    env
}

#[tokio::test]
async fn secrets_manager_down_stops_init_naming_the_secret_and_recovery_serves() {
    let binary = function_binary("tiktok-test", "debug");
    let runtime = RuntimeApi::start().await;
    let secret_id = unique("staging-app-secret");

    // Secrets Manager unreachable: init stops, with a log line naming the secret.
    let output = tokio::process::Command::new(&binary)
        .env_clear()
        .envs(env_without_secrets(
            &secret_id,
            &closed_port_url(),
            &runtime.address,
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("init gives up in time")
        .unwrap();
    assert!(!output.status.success(), "init must fail");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains(&secret_id)),
        "a log line names the secret: {log}"
    );
    assert!(runtime.first_next().is_none(), "never asked for an event");

    // Recovered (the secret exists, the endpoint answers): the next cold start serves.
    create_app_secret(&secret_id).await;
    let mut child = tokio::process::Command::new(&binary)
        .env_clear()
        .envs(env_without_secrets(
            &secret_id,
            &stack_var("STACK_MOTO_URL"),
            &runtime.address,
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(
        runtime.wait_ready(Duration::from_secs(30)).await,
        "the function becomes ready"
    );
    let id = runtime.invoke(
        &std::fs::read_to_string(workspace_path("events/tiktok-test/no-auth.json")).unwrap(),
    );
    let answer = runtime
        .response(&id, Duration::from_secs(30))
        .await
        .expect("a response");
    assert_eq!(answer["statusCode"], 401, "{answer}");
    let _ = child.kill().await;
}

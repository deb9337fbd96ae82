//! Configuration coming only from a Secrets Manager secret (moto), as in staging.

use std::collections::HashMap;

use integration_tests::*;
use serde_json::json;
use shared::config::{Config, ConfigError, SECRET_SETTINGS};

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    // Region, dummy credentials and AWS_ENDPOINT_URL_SECRETS_MANAGER come from the stack.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

#[tokio::test]
async fn settings_come_from_the_secret_alone() {
    let stack = function_env();
    let secret: serde_json::Map<String, serde_json::Value> = SECRET_SETTINGS
        .iter()
        .filter_map(|name| stack.get(*name).map(|v| (name.to_string(), json!(v))))
        .chain([("UNRELATED".to_string(), json!("ignored"))])
        .collect();
    let name = unique("app-secret");
    secrets_client()
        .await
        .create_secret()
        .name(&name)
        .secret_string(serde_json::Value::Object(secret).to_string())
        .send()
        .await
        .expect("create secret");

    let mut env: HashMap<String, String> = stack
        .into_iter()
        .filter(|(k, _)| !SECRET_SETTINGS.contains(&k.as_str()))
        .collect();
    assert!(
        Config::from_sources(&env, HashMap::new()).is_err(),
        "the environment alone is not enough"
    );
    env.insert("APP_SECRET_ID".into(), name);
    let config = Config::load_from(&env)
        .await
        .expect("config from the secret");
    assert_eq!(config.service_key(), stack_var("SUPABASE_SERVICE_KEY"));

    // And it serves: a full request with that configuration.
    let app = shared::LiveApp::from_config(&config).unwrap();
    let user = firebase_user().await;
    let req = event(
        "tiktok-test/ok.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
    );
    let r = reply(dispatch("tiktok-test", &app, req).await);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn an_unreadable_secret_names_the_secret() {
    let mut env = function_env();
    env.insert("APP_SECRET_ID".into(), "no-such-secret-abc".into());
    match Config::load_from(&env).await {
        Err(ConfigError::Secret { secret_id, .. }) => assert_eq!(secret_id, "no-such-secret-abc"),
        other => panic!("expected a secret error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_secret_names_the_secret() {
    let name = unique("bad-secret");
    secrets_client()
        .await
        .create_secret()
        .name(&name)
        .secret_string("[1,2]")
        .send()
        .await
        .unwrap();
    let mut env = function_env();
    env.insert("APP_SECRET_ID".into(), name.clone());
    let err = Config::load_from(&env).await.unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
}

//! Configuration coming only from a Secrets Manager secret (moto), as in staging.

use std::collections::HashMap;

use integration_tests::*;
use serde_json::json;
use shared::config::{Config, ConfigError};

#[tokio::test]
async fn settings_come_from_the_secret_alone() {
    let mut secret = app_secret_settings();
    secret.insert("UNRELATED".to_string(), json!("ignored"));
    let name = unique("app-secret");
    create_secret(&name, &serde_json::Value::Object(secret).to_string()).await;

    let mut env = env_without_secret_settings();
    assert!(
        Config::from_sources(&env, HashMap::new()).is_err(),
        "the environment alone is not enough"
    );
    env.insert("APP_SECRET_ID".into(), name);
    let config = Config::load_from(shared::config::Needs::BOTH, &env)
        .await
        .expect("config from the secret");
    assert_eq!(config.service_key(), stack_var("SUPABASE_SERVICE_KEY"));

    // And it serves: a full request with that configuration.
    let app = shared::LiveApp::from_config(&config).unwrap();
    let user = given::user().await;
    let req = event(
        "tiktok-test/ok.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
    );
    let r = send("tiktok-test", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn an_unreadable_secret_names_the_secret() {
    let mut env = function_env();
    env.insert("APP_SECRET_ID".into(), "no-such-secret-abc".into());
    match Config::load_from(shared::config::Needs::BOTH, &env).await {
        Err(ConfigError::Secret { secret_id, .. }) => assert_eq!(secret_id, "no-such-secret-abc"),
        other => panic!("expected a secret error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_secret_names_the_secret() {
    let name = unique("bad-secret");
    create_secret(&name, "[1,2]").await;
    let mut env = function_env();
    env.insert("APP_SECRET_ID".into(), name.clone());
    let err = Config::load_from(shared::config::Needs::BOTH, &env)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
}

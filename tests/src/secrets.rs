//! Configuration from a Secrets Manager secret (moto), as in staging.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use shared::config::SECRET_SETTINGS;

use crate::stack::{function_env, stack_var};

/// A client of the stack's Secrets Manager: region, dummy credentials and
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` come from the stack.
pub async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    shared::config::secrets_client()
        .await
        .expect("the stack sets AWS_REGION")
}

/// Creates a secret holding `text`.
pub async fn create_secret(name: &str, text: &str) {
    secrets_client()
        .await
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .expect("create secret");
}

/// The stack's secret settings, as staging's app secret holds them.
pub fn app_secret_settings() -> Map<String, Value> {
    let stack = function_env();
    SECRET_SETTINGS
        .iter()
        .filter_map(|n| stack.get(*n).map(|v| (n.to_string(), json!(v))))
        .collect()
}

/// Creates a secret in the stack's Secrets Manager (moto) holding the secret settings,
/// as staging's app secret does.
pub async fn create_app_secret(name: &str) {
    create_secret(name, &Value::Object(app_secret_settings()).to_string()).await;
}

/// The functions' settings as the stack gives them, less the secret ones.
pub fn env_without_secret_settings() -> HashMap<String, String> {
    function_env()
        .into_iter()
        .filter(|(k, _)| !SECRET_SETTINGS.contains(&k.as_str()))
        .collect()
}

/// A function's environment with the secret settings left out and `APP_SECRET_ID`
/// pointing at `secret_id`, reached at `secrets_endpoint`.
pub fn secret_config_env(secret_id: &str, secrets_endpoint: &str) -> HashMap<String, String> {
    let mut env = env_without_secret_settings();
    for name in [
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        env.insert(name.into(), stack_var(name));
    }
    env.insert("APP_SECRET_ID".into(), secret_id.into());
    env.insert(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        secrets_endpoint.into(),
    );
    env
}

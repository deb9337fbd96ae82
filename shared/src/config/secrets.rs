//! The settings that come from Secrets Manager: which keys a secret may hold, reading
//! the secrets a function needs (concurrently), and parsing one.

use std::collections::HashMap;
use std::time::Duration;

use super::ConfigError;

/// Settings that may come from the app secret. Any other key in it is ignored with a warning.
pub const SECRET_SETTINGS: [&str; 5] = [
    "SUPABASE_SERVICE_KEY",
    "ENCRYPTION_KEY",
    "TIKTOK_CLIENT_KEY",
    "TIKTOK_CLIENT_SECRET",
    "FIREBASE_SERVICE_ACCOUNT",
];

/// One `GetSecretValue` call per secret, concurrently, merged. The SDK is only loaded
/// when a secret is configured, so functions configured from the environment pay
/// nothing for it at cold start.
pub(super) async fn fetch_secrets(
    ids: [Option<&str>; 3],
) -> Result<HashMap<String, String>, ConfigError> {
    let client = secrets_client().await?;
    let (app, tiktok, firebase) = tokio::join!(
        fetch_optional(&client, ids[0]),
        fetch_optional(&client, ids[1]),
        fetch_optional(&client, ids[2])
    );
    let mut settings = app?;
    settings.extend(tiktok?);
    settings.extend(firebase?);
    Ok(settings)
}

/// The Secrets Manager client a function uses. Built from what Lambda gives every
/// function, the region and the role's credentials in the environment, with no provider
/// chain (instance metadata, SSO, profiles) to build or ask, on the HTTP client of the
/// one TLS stack with compiled-in roots (see `Cargo.toml`).
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` is honoured (the local stack's moto is plain http).
pub async fn secrets_client() -> Result<aws_sdk_secretsmanager::Client, ConfigError> {
    Ok(aws_sdk_secretsmanager::Client::new(
        &aws_sdk_config().await?,
    ))
}

/// The HTTP client of every AWS client here: hyper 0.14 on the one TLS stack with
/// compiled-in roots (see `Cargo.toml`); plain http only for a local endpoint.
pub fn aws_http_client() -> aws_sdk_s3::config::SharedHttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    aws_smithy_http_client::hyper_014::HyperClientBuilder::new().build(https)
}

/// The settings every AWS client here shares: the region and credentials Lambda gives
/// the function, the one HTTP client and TLS stack, short timeouts. The SDK's endpoint
/// variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) are honoured.
async fn aws_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .map_err(|_| ConfigError::Missing("AWS_REGION"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_http_client())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .timeout_config(timeouts)
        .load()
        .await;
    Ok(sdk)
}

async fn fetch_optional(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: Option<&str>,
) -> Result<HashMap<String, String>, ConfigError> {
    match secret_id {
        Some(id) => fetch_secret(client, id).await,
        None => Ok(HashMap::new()),
    }
}

async fn fetch_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<HashMap<String, String>, ConfigError> {
    let fail = |reason: String| ConfigError::Secret {
        secret_id: secret_id.to_owned(),
        reason,
    };
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| fail(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
    let text = output
        .secret_string()
        .ok_or_else(|| fail("the secret has no SecretString".into()))?;
    parse_secret(text).map_err(fail)
}

/// The secret is a JSON object; string values are taken as they are, objects (a
/// service account pasted as JSON) are kept as their JSON text.
pub fn parse_secret(text: &str) -> Result<HashMap<String, String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the secret is not JSON".to_owned())?;
    let serde_json::Value::Object(map) = value else {
        return Err("the secret is not a JSON object".into());
    };
    let mut settings = HashMap::new();
    let mut ignored = Vec::new();
    for (key, value) in map {
        let Some(name) = SECRET_SETTINGS.iter().find(|n| **n == key) else {
            ignored.push(key);
            continue;
        };
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(_) => value.to_string(),
            _ => return Err(format!("{name} in the secret must be a string")),
        };
        settings.insert((*name).to_owned(), text);
    }
    if !ignored.is_empty() {
        tracing::warn!(keys = ?ignored, "app secret has keys that are not secret settings; ignored");
    }
    Ok(settings)
}

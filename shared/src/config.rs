//! Typed configuration, read once per cold start from the environment and, when
//! `APP_SECRET_ID` is set, from that Secrets Manager secret (which wins).

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::TokenCipher;

/// Settings that may come from the app secret. Any other key in it is ignored with a warning.
pub const SECRET_SETTINGS: [&str; 5] = [
    "SUPABASE_SERVICE_KEY",
    "ENCRYPTION_KEY",
    "TIKTOK_CLIENT_KEY",
    "TIKTOK_CLIENT_SECRET",
    "FIREBASE_SERVICE_ACCOUNT",
];

const DEFAULT_TIKTOK_API_BASE_URL: &str = "https://open.tiktokapis.com";
const DEFAULT_FIREBASE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
const DEFAULT_PROFILE_CACHE_TTL_SECONDS: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing")]
    Missing(&'static str),
    #[error("setting {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
    #[error("secret {secret_id} cannot be read: {reason}")]
    Secret { secret_id: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// PostgREST root, without a trailing slash.
    pub supabase_rest_url: String,
    pub supabase_service_key: SecretString,
    pub cipher: TokenCipher,
    pub tiktok: TikTokConfig,
    pub firebase: FirebaseConfig,
    pub profile_cache_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct TikTokConfig {
    pub api_base_url: String,
    pub client_key: SecretString,
    pub client_secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct FirebaseConfig {
    pub project_id: String,
    /// `host:port` of the Auth emulator; only ever set for a `demo-` project.
    pub emulator_host: Option<String>,
    pub certs_url: String,
    /// Service-account JSON, needed to mint custom tokens and administer users.
    pub service_account: Option<SecretString>,
}

/// Where settings are looked up: the environment, overlaid with the app secret.
pub struct Sources<'a> {
    env: &'a HashMap<String, String>,
    secret: HashMap<String, String>,
}

impl Sources<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.secret
            .get(name)
            .or_else(|| self.env.get(name))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }
}

impl Config {
    /// Reads the process environment and, if `APP_SECRET_ID` is set, the secret.
    pub async fn load() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(&env).await
    }

    /// As [`Config::load`], from the given variables (the AWS SDK still reads its own
    /// settings, region and endpoint, from the process environment).
    pub async fn load_from(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let secret = match env
            .get("APP_SECRET_ID")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            Some(secret_id) => fetch_secret(secret_id).await?,
            None => HashMap::new(),
        };
        Self::from_sources(env, secret)
    }

    /// Builds the configuration from the environment and the app secret's settings.
    pub fn from_sources(
        env: &HashMap<String, String>,
        secret: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let src = Sources { env, secret };

        let supabase_rest_url = match src.get("SUPABASE_REST_URL") {
            Some(url) => http_url("SUPABASE_REST_URL", url)?,
            None => format!(
                "{}/rest/v1",
                http_url("SUPABASE_URL", src.required("SUPABASE_URL")?)?
            ),
        };
        let service_key = src.required("SUPABASE_SERVICE_KEY")?;
        if !service_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(malformed(
                "SUPABASE_SERVICE_KEY",
                "must be printable ASCII without spaces",
            ));
        }
        let cipher = TokenCipher::from_keys(src.required("ENCRYPTION_KEY")?)
            .map_err(|e| malformed("ENCRYPTION_KEY", e))?;

        let tiktok = TikTokConfig {
            api_base_url: http_url(
                "TIKTOK_API_BASE_URL",
                src.get("TIKTOK_API_BASE_URL")
                    .unwrap_or(DEFAULT_TIKTOK_API_BASE_URL),
            )?,
            client_key: SecretString::from(src.required("TIKTOK_CLIENT_KEY")?),
            client_secret: SecretString::from(src.required("TIKTOK_CLIENT_SECRET")?),
        };

        let project_id = src.required("FIREBASE_PROJECT_ID")?.to_owned();
        if !project_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(malformed(
                "FIREBASE_PROJECT_ID",
                "letters, digits and '-' only",
            ));
        }
        let emulator_host = src.get("FIREBASE_AUTH_EMULATOR_HOST").map(str::to_owned);
        if let Some(host) = &emulator_host {
            if !project_id.starts_with("demo-") {
                return Err(malformed(
                    "FIREBASE_AUTH_EMULATOR_HOST",
                    "the Auth emulator is only allowed with a demo- project (FIREBASE_PROJECT_ID)",
                ));
            }
            if host.contains("://") || host.contains('/') || !host.contains(':') {
                return Err(malformed(
                    "FIREBASE_AUTH_EMULATOR_HOST",
                    "expected host:port",
                ));
            }
        }
        let certs_url = http_url(
            "FIREBASE_CERTS_URL",
            src.get("FIREBASE_CERTS_URL")
                .unwrap_or(DEFAULT_FIREBASE_CERTS_URL),
        )?;
        let service_account = match src.get("FIREBASE_SERVICE_ACCOUNT") {
            Some(json) => Some(SecretString::from(json)),
            None => match src.get("GOOGLE_APPLICATION_CREDENTIALS") {
                Some(path) => Some(SecretString::from(std::fs::read_to_string(path).map_err(
                    |e| malformed("GOOGLE_APPLICATION_CREDENTIALS", format!("{path}: {e}")),
                )?)),
                None => None,
            },
        };

        let ttl = match src.get("PROFILE_CACHE_TTL_SECONDS") {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| malformed("PROFILE_CACHE_TTL_SECONDS", "a whole number of seconds"))?,
            None => DEFAULT_PROFILE_CACHE_TTL_SECONDS,
        };

        Ok(Config {
            supabase_rest_url,
            supabase_service_key: SecretString::from(service_key),
            cipher,
            tiktok,
            firebase: FirebaseConfig {
                project_id,
                emulator_host,
                certs_url,
                service_account,
            },
            profile_cache_ttl: Duration::from_secs(ttl),
        })
    }

    pub fn service_key(&self) -> &str {
        self.supabase_service_key.expose_secret()
    }
}

fn malformed(name: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError::Malformed {
        name,
        reason: reason.to_string(),
    }
}

fn http_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| malformed(name, "expected an http(s) URL"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.chars().any(char::is_whitespace) {
        return Err(malformed(name, "expected an http(s) URL"));
    }
    Ok(value.to_owned())
}

/// One `GetSecretValue` call. The SDK is only loaded when a secret is configured, so
/// functions configured from the environment pay nothing for it at cold start.
async fn fetch_secret(secret_id: &str) -> Result<HashMap<String, String>, ConfigError> {
    let fail = |reason: String| ConfigError::Secret {
        secret_id: secret_id.to_owned(),
        reason,
    };
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("SUPABASE_URL", "https://abc.supabase.co/"),
            ("SUPABASE_SERVICE_KEY", "service-key"),
            (
                "ENCRYPTION_KEY",
                "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
            ),
            ("TIKTOK_CLIENT_KEY", "ck"),
            ("TIKTOK_CLIENT_SECRET", "cs"),
            ("FIREBASE_PROJECT_ID", "demo-app"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn defaults_and_derived_urls() {
        let config = Config::from_sources(&base(), HashMap::new()).unwrap();
        assert_eq!(config.supabase_rest_url, "https://abc.supabase.co/rest/v1");
        assert_eq!(config.tiktok.api_base_url, "https://open.tiktokapis.com");
        assert_eq!(config.profile_cache_ttl, Duration::from_secs(3600));
        assert!(config.firebase.emulator_host.is_none());
    }

    #[test]
    fn rest_url_overrides_supabase_url() {
        let mut env = base();
        env.remove("SUPABASE_URL");
        env.insert("SUPABASE_REST_URL".into(), "http://127.0.0.1:3000/".into());
        let config = Config::from_sources(&env, HashMap::new()).unwrap();
        assert_eq!(config.supabase_rest_url, "http://127.0.0.1:3000");
    }

    #[test]
    fn every_required_setting_is_named_when_missing() {
        for name in [
            "SUPABASE_URL",
            "SUPABASE_SERVICE_KEY",
            "ENCRYPTION_KEY",
            "TIKTOK_CLIENT_KEY",
            "TIKTOK_CLIENT_SECRET",
            "FIREBASE_PROJECT_ID",
        ] {
            let mut env = base();
            env.remove(name);
            let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn malformed_settings_are_named() {
        for (name, value) in [
            ("ENCRYPTION_KEY", "not-a-key"),
            ("SUPABASE_URL", "ftp://x"),
            ("PROFILE_CACHE_TTL_SECONDS", "-5"),
            ("TIKTOK_API_BASE_URL", "open.tiktokapis.com"),
            ("SUPABASE_SERVICE_KEY", "two words"),
        ] {
            let mut env = base();
            env.insert(name.into(), value.into());
            let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(
                !err.to_string().contains(value) || name == "TIKTOK_API_BASE_URL",
                "{err}"
            );
        }
    }

    #[test]
    fn emulator_mode_needs_a_demo_project() {
        let mut env = base();
        env.insert(
            "FIREBASE_AUTH_EMULATOR_HOST".into(),
            "127.0.0.1:9099".into(),
        );
        assert!(Config::from_sources(&env, HashMap::new()).is_ok());
        env.insert("FIREBASE_PROJECT_ID".into(), "my-real-project".into());
        let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("FIREBASE_AUTH_EMULATOR_HOST"),
            "{err}"
        );
    }

    #[test]
    fn the_secret_wins_over_the_environment() {
        let mut env = base();
        env.remove("TIKTOK_CLIENT_SECRET");
        let secret = parse_secret(
            r#"{"TIKTOK_CLIENT_SECRET":"from-secret","SUPABASE_SERVICE_KEY":"sk2","OTHER":"x"}"#,
        )
        .unwrap();
        assert!(!secret.contains_key("OTHER"));
        let config = Config::from_sources(&env, secret).unwrap();
        assert_eq!(config.tiktok.client_secret.expose_secret(), "from-secret");
        assert_eq!(config.service_key(), "sk2");
    }

    #[test]
    fn secret_must_be_an_object_of_strings() {
        assert!(parse_secret("[]").is_err());
        assert!(parse_secret("nope").is_err());
        assert!(parse_secret(r#"{"ENCRYPTION_KEY": 5}"#).is_err());
        let sa =
            parse_secret(r#"{"FIREBASE_SERVICE_ACCOUNT": {"type":"service_account"}}"#).unwrap();
        assert_eq!(
            sa["FIREBASE_SERVICE_ACCOUNT"],
            r#"{"type":"service_account"}"#
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let config = Config::from_sources(&base(), HashMap::new()).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("service-key"));
        assert!(!printed.contains("cw_0x689RpI"));
        assert!(!printed.contains("\"cs\""));
    }
}

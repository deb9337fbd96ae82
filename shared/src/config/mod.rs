//! Typed configuration, read once per cold start from the environment and, when
//! `APP_SECRET_ID` is set, from that Secrets Manager secret (which wins).

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::TokenCipher;

pub mod analytics;
mod authorization;
mod secrets;
use authorization::authorization_config;
pub use authorization::AuthorizationConfig;
use secrets::fetch_secrets;
pub use secrets::{aws_http_client, parse_secret, secrets_client, SECRET_SETTINGS};

const DEFAULT_TIKTOK_API_BASE_URL: &str = "https://open.tiktokapis.com";
const DEFAULT_FIREBASE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
const DEFAULT_PROFILE_CACHE_TTL_SECONDS: u64 = 3600;

/// Every request answers within this by default (`REQUEST_DEADLINE_SECONDS`; below the
/// functions' 25 s timeout, leaving room for storing a rotated refresh token): each
/// upstream call gets what is left.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(18);

/// The secrets a function reads: each reads only what it needs, so a function that
/// never refreshes holds no TikTok client secret, and one that never mints tokens or
/// calls Firebase's admin API holds no service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `TIKTOK_CLIENT_SECRET` (refresh, revoke).
    pub tiktok_client_secret: bool,
    /// `FIREBASE_SERVICE_ACCOUNT` (custom tokens, user admin, session revocation checks).
    pub firebase_admin: bool,
    /// `TIKTOK_REDIRECT_URIS` must be set (the server-side authorization flow).
    pub authorization_code: bool,
    /// `MEDIA_BUCKET` must be set, and the S3 client is built (scheduled posts' media).
    pub media: bool,
}

impl Needs {
    pub const NOTHING_SECRET: Needs = Needs::new(false, false, false);
    pub const TIKTOK_CLIENT_SECRET: Needs = Needs::new(true, false, false);
    pub const FIREBASE_ADMIN: Needs = Needs::new(false, true, false);
    pub const BOTH: Needs = Needs::new(true, true, false);
    /// tiktok-authorize: no secret, the redirect URIs.
    pub const AUTHORIZE: Needs = Needs::new(false, false, true);
    /// tiktok-callback: the code exchange, custom tokens and session checks.
    pub const CALLBACK: Needs = Needs::new(true, true, true);

    const fn new(
        tiktok_client_secret: bool,
        firebase_admin: bool,
        authorization_code: bool,
    ) -> Needs {
        Needs {
            tiktok_client_secret,
            firebase_admin,
            authorization_code,
            media: false,
        }
    }

    /// These needs and the media bucket.
    pub const fn with_media(self) -> Needs {
        Needs {
            media: true,
            ..self
        }
    }

    /// Whether this function may read the setting.
    fn allows(&self, name: &str) -> bool {
        match name {
            "TIKTOK_CLIENT_SECRET" | "TIKTOK_SECRET_ID" => self.tiktok_client_secret,
            "FIREBASE_SERVICE_ACCOUNT"
            | "GOOGLE_APPLICATION_CREDENTIALS"
            | "FIREBASE_SECRET_ID" => self.firebase_admin,
            _ => true,
        }
    }
}

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
    /// `MEDIA_BUCKET`: read only by the functions that touch media (`Needs::media`).
    pub media_bucket: Option<String>,
    pub firebase: FirebaseConfig,
    pub profile_cache_ttl: Duration,
    pub authorization: AuthorizationConfig,
    /// `KEEPALIVE_INTERVAL_HOURS` (default 24): the sweep refreshes connections not
    /// refreshed for this long.
    pub keepalive_interval: Duration,
    /// `SWEEP_WORKERS` (default 16, 1 to 64): refreshes one sweep run makes at once.
    pub sweep_workers: usize,
    /// `DISPATCH_WORKERS` (default 16, 1 to 64): scheduled posts one dispatcher run
    /// publishes at once.
    pub dispatch_workers: usize,
    /// `TOKEN_SIGN_IN_ENABLED` (default true): oauth-tiktok signs a user in with a TikTok
    /// access token alone; false: only linking, with a session.
    pub token_sign_in_enabled: bool,
    /// `TIKTOK_APP_AUDITED`: `true` once TikTok audited the app, `false` before (only
    /// SELF_ONLY posts are sent); unset: as TikTok's last refusal told (kept a week).
    pub app_audited: Option<bool>,
    /// `MEDIA_URL_PREFIXES`: the URL prefixes verified with TikTok, comma-separated
    /// (https); photos under them are read before a post (empty: not read).
    pub media_url_prefixes: Vec<String>,
    /// `EXTRA_CA_CERTS`: a PEM file of more trust roots for those reads (local stacks and
    /// tests; production leaves it unset), read once here.
    pub extra_ca_certs: Vec<reqwest::Certificate>,
    /// `REQUEST_DEADLINE_SECONDS` (default 18, at most 20: the functions time out at 25).
    pub request_deadline: Duration,
    /// `ANALYTICS_RPM`, `ANALYTICS_RETENTION_DAYS`, `ANALYTICS_CADENCE`, `ANALYTICS_WORKERS`.
    pub analytics: analytics::Settings,
}

// The settings of the TikTok and Firebase adapters are their own types, read here.
pub use crate::firebase::FirebaseConfig;
pub use crate::tiktok::TikTokConfig;

/// Where settings are looked up: the environment, overlaid with the app secret.
pub struct Sources<'a> {
    env: &'a HashMap<String, String>,
    secret: HashMap<String, String>,
    needs: Needs,
}

impl Sources<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        if !self.needs.allows(name) {
            return None;
        }
        self.secret
            .get(name)
            .or_else(|| self.env.get(name))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A whole number within `range`, or `default` when unset.
    fn number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match self.get(name).map(str::parse::<u64>) {
            None => Ok(default),
            Some(Ok(n)) if range.contains(&n) => Ok(n),
            Some(_) => Err(malformed(
                name,
                format!("a whole number from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// `true` or `false` (any case), else `default` when unset.
    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(_) => Err(malformed(name, "true or false")),
        }
    }

    fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }
}

/// The Secrets Manager secrets a function may read: `APP_SECRET_ID` (the Supabase key,
/// the Fernet keys, the TikTok client key), and only where needed `TIKTOK_SECRET_ID`
/// (the TikTok client secret) and `FIREBASE_SECRET_ID` (the service account). One secret
/// may also hold every setting (as earlier deployments did): a function keeps only what
/// it needs.
const SECRET_IDS: [&str; 3] = ["APP_SECRET_ID", "TIKTOK_SECRET_ID", "FIREBASE_SECRET_ID"];

impl Config {
    /// Reads the process environment and the secrets it names, for a function that
    /// needs `needs`.
    pub async fn load(needs: Needs) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(needs, &env).await
    }

    /// As [`Config::load`], from the given variables (the AWS SDK still reads its own
    /// settings, region and endpoint, from the process environment).
    pub async fn load_from(
        needs: Needs,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let ids = SECRET_IDS.map(|name| {
            env.get(name)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty() && needs.allows(name))
        });
        let secret = if ids.iter().all(Option::is_none) {
            HashMap::new()
        } else {
            fetch_secrets(ids).await?
        };
        Self::from_sources_for(needs, env, secret)
    }

    /// Builds the configuration of a function that needs every secret.
    pub fn from_sources(
        env: &HashMap<String, String>,
        secret: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        Self::from_sources_for(Needs::BOTH, env, secret)
    }

    /// Builds the configuration from the environment and the secrets' settings, keeping
    /// only the secrets `needs` names.
    pub fn from_sources_for(
        needs: Needs,
        env: &HashMap<String, String>,
        secret: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let src = Sources { env, secret, needs };

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
            client_secret: match needs.tiktok_client_secret {
                true => Some(SecretString::from(src.required("TIKTOK_CLIENT_SECRET")?)),
                false => None,
            },
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

        let request_deadline = Duration::from_secs(src.number(
            "REQUEST_DEADLINE_SECONDS",
            1..=20,
            REQUEST_DEADLINE.as_secs(),
        )?);

        let authorization = authorization_config(&src, needs)?;
        let keepalive_interval =
            Duration::from_secs(src.number("KEEPALIVE_INTERVAL_HOURS", 1..=2160, 24)? * 3600);
        let sweep_workers = src.number("SWEEP_WORKERS", 1..=64, 16)? as usize;
        let dispatch_workers = src.number("DISPATCH_WORKERS", 1..=64, 16)? as usize;
        let token_sign_in_enabled = src.flag("TOKEN_SIGN_IN_ENABLED", true)?;
        let analytics = analytics::Settings {
            rpm: src.number("ANALYTICS_RPM", 2..=600, 300)? as u32,
            retention_days: src.number("ANALYTICS_RETENTION_DAYS", 31..=3650, 400)? as u32,
            cadence: analytics::Cadence::parse(
                src.get("ANALYTICS_CADENCE")
                    .unwrap_or(analytics::Cadence::DEFAULT),
            )
            .map_err(|reason| malformed("ANALYTICS_CADENCE", reason))?,
            workers: src.number("ANALYTICS_WORKERS", 1..=32, 4)? as usize,
        };
        let app_audited = match src.get("TIKTOK_APP_AUDITED").map(str::trim) {
            None | Some("") => None,
            Some(_) => Some(src.flag("TIKTOK_APP_AUDITED", true)?),
        };
        let media_url_prefixes = match src.get("MEDIA_URL_PREFIXES") {
            None => Vec::new(),
            Some(list) => url_prefixes(list)?,
        };
        let extra_ca_certs = match src.get("EXTRA_CA_CERTS").map(str::trim) {
            None | Some("") => Vec::new(),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| malformed("EXTRA_CA_CERTS", e))?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| malformed("EXTRA_CA_CERTS", e))?
            }
        };
        let media_bucket = match needs.media {
            true => Some(bucket_name(src.required("MEDIA_BUCKET")?)?),
            false => None,
        };

        Ok(Config {
            media_bucket,
            authorization,
            keepalive_interval,
            sweep_workers,
            dispatch_workers,
            token_sign_in_enabled,
            app_audited,
            media_url_prefixes,
            extra_ca_certs,
            request_deadline,
            analytics,
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

/// An upstream base URL setting (see [`crate::outbound::upstream_url`]), its problem
/// named with the setting.
pub(crate) fn http_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    crate::outbound::upstream_url(value).map_err(|reason| malformed(name, reason))
}

#[cfg(test)]
mod tests;

/// An S3 bucket name as S3 allows one (3-63 lowercase letters, digits, dots, hyphens).
/// `MEDIA_URL_PREFIXES`: https URL prefixes with a host, comma-separated.
fn url_prefixes(list: &str) -> Result<Vec<String>, ConfigError> {
    let prefixes: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for prefix in &prefixes {
        let parsed = reqwest::Url::parse(prefix).ok();
        if !parsed.is_some_and(|u| u.scheme() == "https" && u.host_str().is_some()) {
            return Err(malformed(
                "MEDIA_URL_PREFIXES",
                "https URL prefixes with a host, comma-separated",
            ));
        }
    }
    Ok(prefixes)
}

fn bucket_name(name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(ConfigError::Malformed {
            name: "MEDIA_BUCKET",
            reason: "an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)".into(),
        });
    }
    Ok(name.to_owned())
}

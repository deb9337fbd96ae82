//! Firebase Auth ID-token verification, as the Admin SDKs do it.
//!
//! Production: RS256 signed by one of Google's securetoken keys (x509 certificates,
//! cached per `Cache-Control: max-age`); `kid`, `aud`, `iss`, `sub`, `exp`, `iat` checked.
//! Emulator mode (`FIREBASE_AUTH_EMULATOR_HOST`, demo- projects only, enforced by
//! `Config`): the emulator's unsigned tokens are accepted, every claim check is kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::store::Caller;

pub mod admin;
#[cfg(any(test, feature = "testing"))]
pub mod fixed;
pub use admin::{AccountState, AdminError, IdentityAdmin, NewFirebaseUser};
#[cfg(any(test, feature = "testing"))]
pub use fixed::FixedIdentity;

/// The Firebase adapters' settings (read by `config`).
#[derive(Debug, Clone)]
pub struct FirebaseConfig {
    pub project_id: String,
    /// `host:port` of the Auth emulator; only ever set for a `demo-` project.
    pub emulator_host: Option<String>,
    pub certs_url: String,
    /// Service-account JSON, needed to mint custom tokens and administer users.
    pub service_account: Option<secrecy::SecretString>,
}

/// Firebase's limit on a uid's length.
pub const MAX_UID_LEN: usize = 128;
/// Tolerated clock difference for `iat` (issued "in the future" by a skewed clock).
const IAT_SKEW_SECS: i64 = 60;
/// Key cache lifetime when Google's answer has no usable `max-age`.
const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token does not verify; the reason is for the debug log only.
    #[error("invalid ID token: {0}")]
    Invalid(&'static str),
    /// Google's public keys cannot be fetched.
    #[error("signing keys unavailable: {0}")]
    Unavailable(String),
}

/// What endpoints need: a verified caller from an ID token.
pub trait IdTokenVerifier: Send + Sync {
    fn verify_id_token(
        &self,
        token: &str,
    ) -> impl std::future::Future<Output = Result<Caller, AuthError>> + Send;
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
    max_age: Duration,
}

enum Mode {
    Emulator,
    Certificates {
        url: String,
        http: reqwest::Client,
        cache: Mutex<Option<Arc<KeySet>>>,
    },
}

pub struct FirebaseAuth {
    project_id: String,
    issuer: String,
    mode: Mode,
    admin: admin::Admin,
}

impl FirebaseAuth {
    pub fn new(config: &FirebaseConfig, http: reqwest::Client) -> Self {
        let admin = admin::Admin::new(config, http.clone());
        let mode = if config.emulator_host.is_some() {
            Mode::Emulator
        } else {
            Mode::Certificates {
                url: config.certs_url.clone(),
                http,
                cache: Mutex::new(None),
            }
        };
        FirebaseAuth {
            project_id: config.project_id.clone(),
            issuer: format!("https://securetoken.google.com/{}", config.project_id),
            mode,
            admin,
        }
    }

    /// Checks that custom tokens and user admin can work (a service account that parses,
    /// or emulator mode): functions that sign users in call it at init.
    pub fn check_admin(&self) -> Result<(), AdminError> {
        self.admin.check()
    }

    /// The OAuth2 access token used for Identity Toolkit calls (cached until it expires).
    pub async fn admin_access_token(&self) -> Result<secrecy::SecretString, AdminError> {
        self.admin.bearer().await
    }

    pub fn is_emulator(&self) -> bool {
        matches!(self.mode, Mode::Emulator)
    }

    fn check_claims(&self, claims: Claims, now: i64) -> Result<Caller, AuthError> {
        let aud_ok = match &claims.aud {
            Some(serde_json::Value::String(aud)) => aud == &self.project_id,
            _ => false,
        };
        if !aud_ok {
            return Err(AuthError::Invalid("aud is not the project"));
        }
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(AuthError::Invalid(
                "iss is not the project's securetoken issuer",
            ));
        }
        let sub = claims.sub.unwrap_or_default();
        if sub.is_empty() || sub.len() > MAX_UID_LEN {
            return Err(AuthError::Invalid("sub missing or too long"));
        }
        match claims.exp {
            Some(exp) if exp > now => {}
            _ => return Err(AuthError::Invalid("expired")),
        }
        match claims.iat {
            Some(iat) if iat <= now + IAT_SKEW_SECS => {}
            _ => return Err(AuthError::Invalid("iat missing or in the future")),
        }
        Ok(Caller {
            firebase_uid: sub,
            auth_time: claims.auth_time,
            email: claims.email.filter(|e| !e.is_empty()),
            email_verified: claims.email_verified.unwrap_or(false),
            name: claims.name.filter(|n| !n.is_empty()),
            picture: claims.picture.filter(|p| !p.is_empty()),
        })
    }

    /// Reads an emulator token: header `alg: none`, claims checked by `check_claims`.
    fn decode_unsigned(token: &str) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Invalid("not a JWT"));
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
        }
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('='));
        let header: Header = decode(header)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(AuthError::Invalid("unreadable header"))?;
        if header.alg != "none" {
            return Err(AuthError::Invalid("emulator tokens are unsigned"));
        }
        decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(AuthError::Invalid("unreadable claims"))
    }

    async fn keys(
        &self,
        url: &str,
        http: &reqwest::Client,
        cache: &Mutex<Option<Arc<KeySet>>>,
    ) -> Result<Arc<KeySet>, AuthError> {
        let mut guard = cache.lock().await;
        if let Some(set) = guard.as_ref() {
            if set.fetched.elapsed() < set.max_age {
                return Ok(set.clone());
            }
        }
        let fresh = Arc::new(fetch_keys(url, http).await?);
        *guard = Some(fresh.clone());
        Ok(fresh)
    }
}

async fn fetch_keys(url: &str, http: &reqwest::Client) -> Result<KeySet, AuthError> {
    let unavailable = |reason: String| AuthError::Unavailable(reason);
    let answer = crate::outbound::send(http.get(url))
        .await
        .map_err(|t| unavailable(t.to_string()))?;
    if !answer.is_success() {
        return Err(unavailable(format!("status {}", answer.status)));
    }
    let max_age = answer
        .cache_control
        .as_deref()
        .and_then(parse_max_age)
        .unwrap_or(DEFAULT_KEYS_MAX_AGE);
    let certs: HashMap<String, String> = serde_json::from_slice(&answer.body)
        .map_err(|_| unavailable("unreadable certificate list".into()))?;
    let keys: HashMap<String, DecodingKey> = certs
        .into_iter()
        .filter_map(
            |(kid, pem)| match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => Some((kid, key)),
                Err(_) => {
                    tracing::warn!(kid = %kid, "skipping an unreadable signing certificate");
                    None
                }
            },
        )
        .collect();
    if keys.is_empty() {
        return Err(unavailable("no usable signing certificate".into()));
    }
    Ok(KeySet {
        keys,
        fetched: Instant::now(),
        max_age,
    })
}

/// `max-age=N` of a `Cache-Control` header.
pub fn parse_max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().parse::<u64>().ok().map(Duration::from_secs))
            .flatten()
    })
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl IdTokenVerifier for FirebaseAuth {
    async fn verify_id_token(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = match &self.mode {
            Mode::Emulator => Self::decode_unsigned(token)?,
            Mode::Certificates { url, http, cache } => {
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|_| AuthError::Invalid("not a JWT"))?;
                if header.alg != Algorithm::RS256 {
                    return Err(AuthError::Invalid("alg is not RS256"));
                }
                let kid = header
                    .kid
                    .ok_or(AuthError::Invalid("no kid (a custom token?)"))?;
                let keys = self.keys(url, http, cache).await?;
                let key = keys
                    .keys
                    .get(&kid)
                    .ok_or(AuthError::Invalid("unknown kid"))?;
                // Signature here; every claim is checked below, the same way in both modes.
                let mut validation = Validation::new(Algorithm::RS256);
                validation.validate_exp = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<Claims>(token, key, &validation)
                    .map_err(|_| AuthError::Invalid("signature does not verify"))?
                    .claims
            }
        };
        self.check_claims(claims, now_unix())
    }
}

impl IdentityAdmin for FirebaseAuth {
    async fn email_in_use(&self, email: &str) -> Result<bool, AdminError> {
        self.admin.email_in_use(email).await
    }

    async fn create_user(&self, user: &NewFirebaseUser) -> Result<(), AdminError> {
        self.admin.create_user(user).await
    }

    fn custom_token(&self, uid: &str) -> Result<String, AdminError> {
        self.admin.custom_token(uid)
    }

    async fn account_state(&self, uid: &str) -> Result<Option<AccountState>, AdminError> {
        self.admin.account_state(uid).await
    }
}

#[cfg(test)]
mod tests;

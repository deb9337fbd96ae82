//! What sign-in needs from Firebase beyond ID tokens: custom tokens (RS256 with the
//! service account; unsigned in emulator mode, as the Admin SDKs mint them) and user
//! create/lookup over the Identity Toolkit REST API, authorised by an OAuth2 access
//! token from the service account (JWT-bearer grant to its `token_uri`, cached until
//! it expires; `Bearer owner` in emulator mode).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::FirebaseConfig;

mod port;
use crate::outbound::{self, Answer};
pub use port::{AccountState, AdminError, IdentityAdmin, NewFirebaseUser};

pub const CUSTOM_TOKEN_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";
const EMULATOR_SERVICE_ACCOUNT: &str = "firebase-auth-emulator@example.com";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const ADMIN_SCOPES: &str = "https://www.googleapis.com/auth/cloud-platform \
https://www.googleapis.com/auth/firebase https://www.googleapis.com/auth/identitytoolkit \
https://www.googleapis.com/auth/userinfo.email";
/// Custom tokens live one hour at most (Firebase's limit).
const CUSTOM_TOKEN_LIFETIME_SECS: i64 = 3600;
/// Access tokens are renewed this long before Google says they expire.
const ACCESS_TOKEN_MARGIN: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
}

struct Signer {
    email: String,
    key: EncodingKey,
    token_uri: String,
}

pub(crate) struct Admin {
    emulator: bool,
    api_base: String,
    http: reqwest::Client,
    service_account: Option<SecretString>,
    /// Parsed on first use: functions that never sign pay nothing for it at cold start.
    signer: OnceLock<Result<Signer, String>>,
    access_token: Mutex<Option<(SecretString, Instant)>>,
}

#[derive(Serialize)]
struct CustomClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    uid: &'a str,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sends an Identity Toolkit or token-endpoint request; an unreadable exchange is an
/// outage.
async fn send(request: reqwest::RequestBuilder) -> Result<Answer, AdminError> {
    outbound::send(request)
        .await
        .map_err(|t| AdminError::Unavailable(t.to_string()))
}

/// Reads Identity Toolkit's error body `{"error": {"code", "message": "CODE : detail"}}`.
fn error_code(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        message: String,
    }
    serde_json::from_slice::<Outer>(body)
        .map(|o| {
            o.error
                .message
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

impl Admin {
    pub(crate) fn new(config: &FirebaseConfig, http: reqwest::Client) -> Admin {
        let api_base = match &config.emulator_host {
            Some(host) => format!(
                "http://{host}/identitytoolkit.googleapis.com/v1/projects/{}",
                config.project_id
            ),
            None => format!(
                "https://identitytoolkit.googleapis.com/v1/projects/{}",
                config.project_id
            ),
        };
        Admin {
            emulator: config.emulator_host.is_some(),
            api_base,
            http,
            service_account: config.service_account.clone(),
            signer: OnceLock::new(),
            access_token: Mutex::new(None),
        }
    }

    /// Whether custom tokens and user admin can work with this configuration.
    pub(crate) fn check(&self) -> Result<(), AdminError> {
        if self.emulator {
            return Ok(());
        }
        self.signer().map(|_| ())
    }

    fn signer(&self) -> Result<&Signer, AdminError> {
        self.signer
            .get_or_init(|| {
                let json = self
                    .service_account
                    .as_ref()
                    .ok_or("FIREBASE_SERVICE_ACCOUNT is not set")?;
                let account: ServiceAccount = serde_json::from_str(json.expose_secret())
                    .map_err(|_| "FIREBASE_SERVICE_ACCOUNT is not a service-account JSON")?;
                let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
                    .map_err(|_| "FIREBASE_SERVICE_ACCOUNT private_key is not an RSA PEM key")?;
                // The signed assertion goes there: https only (http on loopback).
                let token_uri = account.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
                let token_uri = outbound::upstream_url(token_uri)
                    .map_err(|_| "FIREBASE_SERVICE_ACCOUNT token_uri must be an https URL")?;
                Ok(Signer {
                    email: account.client_email,
                    key,
                    token_uri,
                })
            })
            .as_ref()
            .map_err(|e: &String| AdminError::Config(e.clone()))
    }

    pub(crate) fn custom_token(&self, uid: &str) -> Result<String, AdminError> {
        if uid.is_empty() || uid.len() > super::MAX_UID_LEN {
            return Err(AdminError::InvalidUid);
        }
        let iat = now_unix();
        if self.emulator {
            let claims = CustomClaims {
                iss: EMULATOR_SERVICE_ACCOUNT,
                sub: EMULATOR_SERVICE_ACCOUNT,
                aud: CUSTOM_TOKEN_AUDIENCE,
                iat,
                exp: iat + CUSTOM_TOKEN_LIFETIME_SECS,
                uid,
            };
            let payload =
                serde_json::to_vec(&claims).map_err(|e| AdminError::Config(e.to_string()))?;
            return Ok(format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(payload)
            ));
        }
        let signer = self.signer()?;
        let claims = CustomClaims {
            iss: &signer.email,
            sub: &signer.email,
            aud: CUSTOM_TOKEN_AUDIENCE,
            iat,
            exp: iat + CUSTOM_TOKEN_LIFETIME_SECS,
            uid,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &signer.key)
            .map_err(|e| AdminError::Config(e.to_string()))
    }

    /// The bearer for Identity Toolkit calls: `owner` for the emulator, else an OAuth2
    /// access token from the service account, fetched once and reused until it expires.
    pub(crate) async fn bearer(&self) -> Result<SecretString, AdminError> {
        if self.emulator {
            return Ok(SecretString::from("owner"));
        }
        let signer = self.signer()?;
        let mut cached = self.access_token.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if Instant::now() + ACCESS_TOKEN_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let iat = now_unix();
        let assertion = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &AssertionClaims {
                iss: &signer.email,
                scope: ADMIN_SCOPES,
                aud: &signer.token_uri,
                iat,
                exp: iat + 3600,
            },
            &signer.key,
        )
        .map_err(|e| AdminError::Config(e.to_string()))?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let answer = send(self.http.post(&signer.token_uri).form(&form)).await?;
        #[derive(Deserialize)]
        struct Grant {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        if !answer.is_success() {
            tracing::error!(
                status = answer.status,
                "Google refused the service account's token request"
            );
            return Err(AdminError::Unavailable(format!(
                "token endpoint {}",
                answer.status
            )));
        }
        let body = answer.body;
        let grant: Grant = serde_json::from_slice(&body)
            .map_err(|_| AdminError::Unavailable("unreadable token endpoint answer".into()))?;
        let token = SecretString::from(grant.access_token);
        let lifetime = Duration::from_secs(grant.expires_in.unwrap_or(3600).min(3600));
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn call(
        &self,
        api: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, Vec<u8>), AdminError> {
        let bearer = self.bearer().await?;
        let request = self
            .http
            .post(format!("{}{api}", self.api_base))
            .bearer_auth(bearer.expose_secret())
            .json(body);
        let answer = send(request).await?;
        if matches!(answer.status, 401 | 403) {
            // A revoked or expired access token: fetch a new one next time.
            *self.access_token.lock().await = None;
        }
        Ok((answer.status, answer.body))
    }

    pub(crate) async fn email_in_use(&self, email: &str) -> Result<bool, AdminError> {
        let (status, body) = self
            .call("/accounts:lookup", &serde_json::json!({ "email": [email] }))
            .await?;
        match status {
            200 => {
                let value: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|_| AdminError::Unavailable("unreadable lookup answer".into()))?;
                Ok(value
                    .get("users")
                    .and_then(|u| u.as_array())
                    .is_some_and(|u| !u.is_empty()))
            }
            _ if error_code(&body) == "USER_NOT_FOUND" => Ok(false),
            _ => Err(AdminError::Unavailable(format!(
                "lookup {status} {}",
                error_code(&body)
            ))),
        }
    }

    pub(crate) async fn account_state(
        &self,
        uid: &str,
    ) -> Result<Option<AccountState>, AdminError> {
        let (status, body) = self
            .call("/accounts:lookup", &serde_json::json!({ "localId": [uid] }))
            .await?;
        if status != 200 {
            return match error_code(&body).as_str() {
                "USER_NOT_FOUND" => Ok(None),
                code => Err(AdminError::Unavailable(format!("lookup {status} {code}"))),
            };
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| AdminError::Unavailable("unreadable lookup answer".into()))?;
        Ok(value
            .get("users")
            .and_then(|u| u.as_array())
            .and_then(|u| u.first())
            .map(AccountState::from_lookup))
    }

    pub(crate) async fn create_user(&self, user: &NewFirebaseUser) -> Result<(), AdminError> {
        if user.uid.is_empty() || user.uid.len() > super::MAX_UID_LEN {
            return Err(AdminError::InvalidUid);
        }
        let body = serde_json::to_value(user).map_err(|e| AdminError::Config(e.to_string()))?;
        let (status, answer) = self.call("/accounts", &body).await?;
        match (status, error_code(&answer).as_str()) {
            // Only an answer naming the user counts as created (the SDKs read `localId`).
            (200..=299, _) => serde_json::from_slice::<serde_json::Value>(&answer)
                .ok()
                .filter(|v| v.get("localId").and_then(|id| id.as_str()) == Some(user.uid.as_str()))
                .map(|_| ())
                .ok_or_else(|| AdminError::Unavailable("create user: unreadable answer".into())),
            (_, "DUPLICATE_LOCAL_ID") => Ok(()),
            (s, code) => Err(AdminError::Unavailable(format!("create user {s} {code}"))),
        }
    }
}

#[cfg(test)]
mod tests;

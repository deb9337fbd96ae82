//! The state a function builds once per cold start and hands to every request.

use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::crypto::TokenCipher;
use crate::error::ApiError;
use crate::firebase::{AuthError, FirebaseAuth, IdTokenVerifier};
use crate::http::bearer_token;
use crate::store::{Caller, ConnectionStore, Store, StoreError};
use crate::tiktok::{TikTokApi, TikTokClient};

/// PostgREST answers within this or the request counts as a database outage.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything a handler needs, behind narrow traits so use cases can be tested with
/// in-memory doubles and the adapters against the real services.
pub struct App<S, T, V> {
    pub store: S,
    pub tiktok: T,
    pub auth: V,
    pub cipher: TokenCipher,
    pub profile_cache_ttl: Duration,
}

/// The production wiring.
pub type LiveApp = App<Store, TikTokClient, FirebaseAuth>;

impl LiveApp {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        // One HTTP client (one TLS setup, one connection pool) for TikTok and Google.
        let http = crate::tiktok::http_client().map_err(|reason| ConfigError::Malformed {
            name: "HTTP client",
            reason,
        })?;
        Ok(App {
            store: Store::new(
                &config.supabase_rest_url,
                config.service_key(),
                STORE_TIMEOUT,
            ),
            tiktok: TikTokClient::new(&config.tiktok, http.clone()),
            auth: FirebaseAuth::new(&config.firebase, http),
            cipher: config.cipher.clone(),
            profile_cache_ttl: config.profile_cache_ttl,
        })
    }

    /// Reads the configuration (and the app secret) and builds the clients: the whole
    /// cold-start work of a function. Failures are logged with the setting's name.
    pub async fn init() -> Result<Self, ConfigError> {
        let result = match Config::load().await {
            Ok(config) => Self::from_config(&config),
            Err(err) => Err(err),
        };
        if let Err(err) = &result {
            tracing::error!(error = %err, "configuration failed; the function cannot start");
        }
        result
    }
}

impl<S: ConnectionStore, T: TikTokApi, V: IdTokenVerifier> App<S, T, V> {
    /// The caller behind the request's Firebase ID token. Every verification failure is
    /// one `Unauthorized`; its reason goes to the debug log.
    pub async fn authenticate(&self, req: &lambda_http::Request) -> Result<Caller, ApiError> {
        let token = bearer_token(req)?.ok_or(ApiError::Unauthorized)?;
        self.auth
            .verify_id_token(token)
            .await
            .map_err(|err| match err {
                AuthError::Invalid(reason) => {
                    tracing::debug!(reason, "ID token refused");
                    ApiError::Unauthorized
                }
                AuthError::Unavailable(reason) => {
                    tracing::warn!(reason = %reason, "Firebase signing keys unavailable");
                    ApiError::IdentityUnavailable
                }
            })
    }
}

/// A database failure as the client sees it; the cause goes to the log.
pub fn store_failure(err: StoreError) -> ApiError {
    match err {
        StoreError::Unavailable(reason) => {
            tracing::warn!(reason = %reason, "database unavailable");
            ApiError::DatabaseUnavailable
        }
        other => {
            tracing::error!(error = %other, "unexpected database answer");
            ApiError::Internal
        }
    }
}

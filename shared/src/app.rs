//! The state a function builds once per cold start and hands to every request.

use std::time::Duration;

use crate::access::TokenAccess;
use crate::config::{Config, ConfigError};
use crate::crypto::TokenCipher;
use crate::error::ApiError;
use crate::firebase::{FirebaseAuth, IdTokenVerifier, IdentityAdmin};
use crate::http::bearer_token;
use crate::store::{Caller, ConnectionStore, PostgrestStore};
use crate::tiktok::{TikTokApi, TikTokClient};

/// PostgREST answers within this or the request counts as a database outage.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The outside parties a use case talks to, as one shape: the production adapters
/// ([`Live`]) or in-memory ones (`testing::InMemory`, feature `testing`).
pub trait Ports: Send + Sync + 'static {
    type Store: ConnectionStore;
    type TikTok: TikTokApi;
    type Identity: IdTokenVerifier + IdentityAdmin;
}

/// Everything a use case needs, behind narrow traits so use cases can be tested with
/// in-memory implementations and the adapters against the real services.
pub struct App<P: Ports> {
    pub store: P::Store,
    pub tiktok: P::TikTok,
    pub identity: P::Identity,
    pub cipher: TokenCipher,
    pub profile_cache_ttl: Duration,
}

/// The production adapters: PostgREST, TikTok's API, Firebase Auth.
pub struct Live;

impl Ports for Live {
    type Store = PostgrestStore;
    type TikTok = TikTokClient;
    type Identity = FirebaseAuth;
}

/// The production wiring.
pub type LiveApp = App<Live>;

impl LiveApp {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        // One HTTP client (one TLS setup, one connection pool) for every upstream.
        let http = crate::outbound::client().map_err(|reason| ConfigError::Malformed {
            name: "HTTP client",
            reason,
        })?;
        Ok(App {
            store: PostgrestStore::new(
                &config.supabase_rest_url,
                config.service_key(),
                http.clone(),
                STORE_TIMEOUT,
            ),
            tiktok: TikTokClient::new(&config.tiktok, http.clone()),
            identity: FirebaseAuth::new(&config.firebase, http),
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

impl<P: Ports> App<P> {
    /// The caller behind the request's Firebase ID token.
    pub async fn authenticate(&self, req: &lambda_http::Request) -> Result<Caller, ApiError> {
        let token = bearer_token(req)?.ok_or(ApiError::Unauthorized)?;
        Ok(self.identity.verify_id_token(token).await?)
    }

    /// The caller, when the request carries an `Authorization` header at all (a header
    /// that does not verify is still a 401).
    pub async fn optional_caller(
        &self,
        req: &lambda_http::Request,
    ) -> Result<Option<Caller>, ApiError> {
        match bearer_token(req)? {
            Some(_) => self.authenticate(req).await.map(Some),
            None => Ok(None),
        }
    }

    /// Access to stored TikTok tokens: proving, refreshing, revoking.
    pub fn tokens(&self) -> TokenAccess<'_, P::Store, P::TikTok> {
        TokenAccess::new(&self.store, &self.tiktok, &self.cipher)
    }
}

//! The state a function builds once per cold start and hands to every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::access::TokenAccess;
use crate::config::{AuthorizationConfig, Config, ConfigError, Needs};
use crate::crypto::TokenCipher;
use crate::error::ApiError;
use crate::firebase::{AccountState, FirebaseAuth, IdTokenVerifier, IdentityAdmin};
use crate::http::bearer_token;
use crate::media::photos::PhotoProbe;
use crate::media::{MediaStorage, S3Media};
use crate::store::{
    AnalyticsStore, CalendarStore, Caller, CapacityStore, ConnectionStore, HealthStore, MediaStore,
    OAuthStateStore, PostStore, PostgrestStore, ScheduleStore,
};
use crate::tiktok::{TikTokApi, TikTokClient};

/// A session that signed in at most this long ago makes a linked account a sign-in
/// method (Firebase asks for a sign-in this recent before sensitive changes).
pub const RECENT_SIGN_IN: i64 = 5 * 60;

/// How long ago a session signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAge {
    /// Within [`RECENT_SIGN_IN`]: may make a linked account a sign-in method.
    Recent,
    /// Older: may link accounts for posting only.
    Older,
}

/// PostgREST answers within this or the request counts as a database outage.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The outside parties a use case talks to, as one shape: the production adapters
/// ([`Live`]) or in-memory ones (`testing::InMemory`, feature `testing`).
pub trait Ports: Send + Sync + 'static {
    type Store: ConnectionStore
        + OAuthStateStore
        + HealthStore
        + PostStore
        + ScheduleStore
        + CalendarStore
        + MediaStore
        + CapacityStore
        + AnalyticsStore;
    type TikTok: TikTokApi;
    type Identity: IdTokenVerifier + IdentityAdmin;
    type Media: MediaStorage;
}

/// Everything a use case needs, behind narrow traits so use cases can be tested with
/// in-memory implementations and the adapters against the real services.
pub struct App<P: Ports> {
    pub store: P::Store,
    pub tiktok: P::TikTok,
    pub identity: P::Identity,
    /// The media bucket, for the functions that touch media (`Needs::media`).
    pub media: Option<P::Media>,
    pub cipher: TokenCipher,
    pub profile_cache_ttl: Duration,
    /// How long a request may take in all (see [`crate::config::REQUEST_DEADLINE`]).
    pub request_deadline: Duration,
    /// The server-side authorization flow's settings.
    pub authorization: AuthorizationConfig,
    /// The sweep refreshes connections not refreshed for this long.
    pub keepalive_interval: Duration,
    /// Refreshes one sweep run makes at once.
    pub sweep_workers: usize,
    /// Scheduled posts one dispatcher run publishes at once.
    pub dispatch_workers: usize,
    /// oauth-tiktok may sign in with a TikTok access token alone.
    pub token_sign_in_enabled: bool,
    /// `TIKTOK_APP_AUDITED`: whether TikTok audited the app (unset: as TikTok last told).
    pub app_audited: Option<bool>,
    /// Reads photos under `MEDIA_URL_PREFIXES` before a post (none: photos not checked).
    pub photos: Option<PhotoProbe>,
    /// Firebase account states read for the writes' session checks.
    pub account_states: AccountStates,
    /// The analytics sync's budget, cadence, retention and workers.
    pub analytics: crate::config::analytics::Settings,
}

/// How long a write's session check may use an account state read before (per
/// container): a revoked session or a disabled user is refused within this.
pub const SESSION_CHECK_TTL: Duration = Duration::from_secs(60);
/// Account states kept at most (then the cache starts over).
const CACHED_ACCOUNT_STATES: usize = 1024;

/// Firebase account states by uid, each with when it was read.
#[derive(Default)]
pub struct AccountStates(Mutex<HashMap<String, (Instant, Option<AccountState>)>>);

impl AccountStates {
    fn get(&self, uid: &str) -> Option<Option<AccountState>> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(uid)
            .filter(|(at, _)| at.elapsed() < SESSION_CHECK_TTL)
            .map(|(_, state)| state.clone())
    }

    fn put(&self, uid: &str, state: Option<AccountState>) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_ACCOUNT_STATES {
            cache.clear();
        }
        cache.insert(uid.to_owned(), (Instant::now(), state));
    }
}

/// The production adapters: PostgREST, TikTok's API, Firebase Auth.
pub struct Live;

impl Ports for Live {
    type Store = PostgrestStore;
    type TikTok = TikTokClient;
    type Identity = FirebaseAuth;
    type Media = S3Media;
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
            media: match &config.media_bucket {
                Some(bucket) => {
                    Some(
                        S3Media::from_env(bucket).map_err(|reason| ConfigError::Malformed {
                            name: "MEDIA_BUCKET",
                            reason,
                        })?,
                    )
                }
                None => None,
            },
            cipher: config.cipher.clone(),
            profile_cache_ttl: config.profile_cache_ttl,
            request_deadline: config.request_deadline,
            authorization: config.authorization.clone(),
            keepalive_interval: config.keepalive_interval,
            sweep_workers: config.sweep_workers,
            dispatch_workers: config.dispatch_workers,
            token_sign_in_enabled: config.token_sign_in_enabled,
            app_audited: config.app_audited,
            photos: match config.media_url_prefixes.is_empty() {
                true => None,
                // Loopback only in emulator mode (a demo- project): a local stack's photos.
                false => Some(
                    PhotoProbe::new(
                        config.media_url_prefixes.clone(),
                        config.firebase.emulator_host.is_some(),
                        &config.extra_ca_certs,
                    )
                    .map_err(|reason| ConfigError::Malformed {
                        name: "MEDIA_URL_PREFIXES",
                        reason,
                    })?,
                ),
            },
            account_states: AccountStates::default(),
            analytics: config.analytics.clone(),
        })
    }

    /// Reads the configuration (and the app secret) and builds the clients: the whole
    /// cold-start work of a function. Failures are logged with the setting's name.
    pub async fn init(needs: Needs) -> Result<Self, ConfigError> {
        let result = match Config::load(needs).await {
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
    /// The media bucket; a function built without it (`Needs::media`) cannot serve media.
    pub fn media(&self) -> Result<&P::Media, ApiError> {
        self.media.as_ref().ok_or_else(|| {
            tracing::error!("this function has no media bucket (Needs::media, MEDIA_BUCKET)");
            ApiError::Internal
        })
    }

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

    /// The caller of a request that changes something on the user's behalf (a post, a
    /// disconnect, stored tokens or profile, a relabel): authenticated, and the session
    /// checked as linking checks it ([`App::linking_session`]), with an account state
    /// read at most [`SESSION_CHECK_TTL`] ago. Reads skip the check.
    pub async fn authenticate_writer(
        &self,
        req: &lambda_http::Request,
    ) -> Result<Caller, ApiError> {
        let caller = self.authenticate(req).await?;
        self.writer_session(&caller).await?;
        Ok(caller)
    }

    /// The session check of [`App::authenticate_writer`], for a caller already known.
    pub async fn writer_session(&self, caller: &Caller) -> Result<(), ApiError> {
        let state = match self.account_states.get(&caller.firebase_uid) {
            Some(state) => state,
            None => {
                let state = self.identity.account_state(&caller.firebase_uid).await?;
                self.account_states.put(&caller.firebase_uid, state.clone());
                state
            }
        };
        session_age(caller, state).map(drop)
    }

    /// Checks a session that links an account as the Admin SDKs'
    /// `verifyIdToken(token, checkRevoked)` does: the user exists and is not disabled,
    /// and the session signed in after the user's tokens were last revoked. Always read
    /// fresh from Firebase.
    pub async fn linking_session(&self, caller: &Caller) -> Result<SessionAge, ApiError> {
        let state = self.identity.account_state(&caller.firebase_uid).await?;
        self.account_states.put(&caller.firebase_uid, state.clone());
        session_age(caller, state)
    }

    /// Access to stored TikTok tokens: proving, refreshing, revoking.
    pub fn tokens(&self) -> TokenAccess<'_, P::Store, P::TikTok> {
        TokenAccess::new(&self.store, &self.tiktok, &self.cipher)
    }
}

/// A session's age, or a refusal: the user is gone or disabled, or the session signed in
/// before the user's tokens were last revoked.
fn session_age(caller: &Caller, state: Option<AccountState>) -> Result<SessionAge, ApiError> {
    let auth_time = caller.auth_time.ok_or_else(|| refused("no auth_time"))?;
    let state = state.ok_or_else(|| refused("no such Firebase user"))?;
    if state.disabled {
        return Err(refused("user disabled"));
    }
    if state.valid_since.is_some_and(|since| auth_time < since) {
        return Err(refused("session revoked"));
    }
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - auth_time;
    Ok(if age <= RECENT_SIGN_IN {
        SessionAge::Recent
    } else {
        SessionAge::Older
    })
}

/// A session refused at the revocation check: one `Unauthorized`, the reason at debug.
fn refused(reason: &'static str) -> ApiError {
    tracing::debug!(reason, "session refused");
    ApiError::Unauthorized
}

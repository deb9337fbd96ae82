//! The database port: what the use cases need from Supabase, as narrow traits with
//! typed errors. `postgrest` is the adapter over PostgREST; `memory` (feature
//! `testing`) is an in-memory implementation for handler and use-case tests.

use std::future::Future;

use serde::Deserialize;

mod analytics;
mod capacity;
mod media;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod postgrest;
mod posts;
mod rows;
mod schedule;

pub use self::postgrest::PostgrestStore;
pub use analytics::*;
pub use capacity::*;
pub use media::*;
pub use posts::*;
pub use rows::*;
pub use schedule::*;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// Unreachable, timed out, 5xx, or an answer that cannot be read.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or other conflict (23505, 23503, PT409 -> 409).
    #[error("conflict {code}: {message}")]
    Conflict { code: String, message: String },
    /// A limit of ours the database enforces (`PT429`, the code as the message).
    #[error("limited: {message}")]
    Limited { message: String },
    /// A single row was asked for and there is none.
    #[error("not found")]
    NotFound,
    /// Any other refusal: a request this code should not have made.
    #[error("refused with {status} {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
}

impl StoreError {
    /// Maps PostgREST's error body (`{code, message, details, hint}`) by status and code.
    pub fn from_response(status: u16, body: &[u8]) -> StoreError {
        #[derive(Deserialize, Default)]
        struct Body {
            #[serde(default)]
            code: Option<String>,
            #[serde(default)]
            message: Option<String>,
        }
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed.code.unwrap_or_default();
        let message = parsed.message.unwrap_or_default();
        match (status, code.as_str()) {
            (_, "PT429") => StoreError::Limited { message },
            (_, "23505" | "23503" | "PT409") | (409, _) => StoreError::Conflict { code, message },
            (406, "PGRST116") => StoreError::NotFound,
            // Throttled by the platform in front of PostgREST: an outage to retry.
            (429, _) => StoreError::Unavailable("429".into()),
            // PGRST000-003: PostgREST cannot reach or use the database.
            (_, "PGRST000" | "PGRST001" | "PGRST002" | "PGRST003") => StoreError::Unavailable(code),
            (s, _) if s >= 500 => StoreError::Unavailable(format!("{s} {code}")),
            (s, _) => StoreError::Rejected {
                status: s,
                code,
                message,
            },
        }
    }
}

/// Whether the user can sign in some other way than the connection being removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherSignIn {
    /// Not known to be: the database keeps the last sign-in method.
    Unknown,
    /// The Firebase user has another provider.
    Available,
}

/// What using a stored token needs (the token-access seam): read a connection, swap
/// its tokens, note that re-authorization is needed.
pub trait TokenStore: Send + Sync {
    fn connection_by_id(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;

    /// Stores new tokens only if the stored refresh token is still `expected_refresh_token`.
    fn swap_tokens(
        &self,
        id: i64,
        expected_refresh_token: &str,
        update: &TokenUpdate,
    ) -> impl Future<Output = Result<SwapOutcome, StoreError>> + Send;

    /// Takes the connection's refresh lease (one refresh in flight at a time, sweep and
    /// requests alike) if its refresh token is still `refresh_token` and no one holds
    /// the lease; `false` otherwise. New tokens end the lease.
    fn begin_refresh(
        &self,
        id: i64,
        refresh_token: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends the refresh lease taken with `refresh_token` (a refresh that stored nothing).
    fn end_refresh(
        &self,
        id: i64,
        refresh_token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Notes that TikTok refused this refresh token (unless newer tokens were stored since).
    fn mark_reauth_required(
        &self,
        id: i64,
        refresh_token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The server-side authorization flow's states (PKCE verifier, intent), each used once.
pub trait OAuthStateStore: Send + Sync {
    /// Stores a new state (removing expired ones, and a user's oldest beyond 20 open);
    /// answers when it expires. A client address with 20 open sign-in states is refused
    /// (`Limited`), atomically.
    fn create_oauth_state(
        &self,
        state: &NewOAuthState,
    ) -> impl Future<Output = Result<CreatedOAuthState, StoreError>> + Send;

    /// Removes and returns the state with this hash, if it exists, has not expired and is
    /// bound to `binding_hash` (else it stays): a state is consumed exactly once, by the
    /// browser that started it.
    fn consume_oauth_state(
        &self,
        state_hash: &str,
        binding_hash: Option<&str>,
    ) -> impl Future<Output = Result<Option<OAuthState>, StoreError>> + Send;
}

/// Connection health: TikTok's webhooks and the keep-alive sweep.
pub trait HealthStore: Send + Sync {
    /// Records a webhook delivery and acts on it, once per event key.
    fn record_tiktok_webhook(
        &self,
        event: &WebhookEvent,
    ) -> impl Future<Output = Result<WebhookOutcome, StoreError>> + Send;

    /// Claims up to `limit` TikTok connections last refreshed before `stale_before`
    /// for `lease_seconds`; rows another run holds are skipped.
    fn claim_due_connections(
        &self,
        limit: i64,
        stale_before: time::OffsetDateTime,
        lease_seconds: i64,
    ) -> impl Future<Output = Result<Vec<Connection>, StoreError>> + Send;

    /// How many TikTok connections are due.
    fn count_due_connections(
        &self,
        stale_before: time::OffsetDateTime,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// What the endpoints need from the database beyond token access.
pub trait ConnectionStore: TokenStore {
    /// Ensures the caller's user row and picks their TikTok connection: `account_id`
    /// (an open_id) if given, else the primary, else the most recently updated.
    fn tiktok_connection(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> impl Future<Output = Result<CallerConnection, StoreError>> + Send;

    /// Creates or updates the caller's connection (`store_connection`): a TikTok account
    /// owned by another user is `Conflict` with code `PT409`.
    fn store_connection(
        &self,
        caller: &Caller,
        new: &NewConnection,
    ) -> impl Future<Output = Result<StoredConnection, StoreError>> + Send;

    /// What sign-in without a session would find, read only and without locks (run while
    /// TikTok proves the token): `needs_new_user` and the email's `email_in_use`.
    fn sign_in_precheck(
        &self,
        open_id: &str,
        derived_uid: &str,
        email: Option<&str>,
    ) -> impl Future<Output = Result<OAuthOutcome, StoreError>> + Send;

    /// Sign-in's user choice and connection write, in one transaction.
    fn oauth_connect(
        &self,
        args: &OAuthConnect,
    ) -> impl Future<Output = Result<OAuthOutcome, StoreError>> + Send;

    /// The caller's connections of every provider, as the account pages show them.
    fn list_connections(
        &self,
        caller: &Caller,
    ) -> impl Future<Output = Result<Vec<ConnectionSummary>, StoreError>> + Send;

    /// Relabels the caller's connection and/or makes it primary; `None` when it is not theirs.
    fn update_connection(
        &self,
        caller: &Caller,
        update: &ConnectionUpdate,
    ) -> impl Future<Output = Result<Option<ConnectionSummary>, StoreError>> + Send;

    /// Deletes the user's connection, handing the primary flag on; `false` if it was
    /// gone. The last sign-in method of a TikTok-created user is refused (`Conflict`
    /// `last_sign_in_method`) unless `sign_in` says the user can sign in otherwise.
    fn delete_connection(
        &self,
        id: i64,
        user_id: i64,
        sign_in: OtherSignIn,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `metadata.profile` of a connection.
    fn cache_profile(
        &self,
        id: i64,
        profile: &serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes `metadata.profile` of the caller's TikTok connection `open_id`; `None`
    /// when it is not one of theirs.
    fn store_client_profile(
        &self,
        caller: &Caller,
        open_id: &str,
        profile: &serde_json::Value,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;
}

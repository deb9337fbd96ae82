//! Calling TikTok with a stored connection's token: decrypt, refresh when it expires
//! within 5 minutes or TikTok rejects it (once), and keep rotated refresh tokens safe
//! when several Lambda instances refresh the same connection at once.
//!
//! TikTok invalidates a refresh token when it issues the next one. So the new tokens
//! are stored before the new access token is used, with a compare-and-swap on the
//! stored refresh token; the loser of a race (its swap fails, or TikTok answers
//! `invalid_grant` to its already-rotated token) re-reads the row and uses the
//! winner's tokens. Only when the row holds nothing newer is re-authorization needed.

use std::time::Duration;

use time::OffsetDateTime;

use crate::crypto::TokenCipher;
use crate::store::{Connection, StoreError, TokenStore};
use crate::tiktok::{TikTokApi, TikTokError, UserInfo, BASIC_FIELDS};

/// Refresh when the access token expires within this.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Storing a rotated pair gets this long even when the request's deadline is near:
/// TikTok has already invalidated the previous refresh token.
pub const ROTATION_GRACE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("TikTok authorization must be renewed")]
    ReauthRequired,
    #[error("TikTok: {0}")]
    TikTok(TikTokError),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("a stored token does not decrypt with the configured keys")]
    Undecryptable,
    /// Another refresh of the connection (the sweep, another request) held its lease
    /// for longer than this request could wait.
    #[error("a refresh of this connection is in progress")]
    RefreshInProgress,
}

impl AccessError {
    /// The grant is dead at TikTok: only a new authorization helps.
    pub fn is_reauth(&self) -> bool {
        matches!(
            self,
            AccessError::ReauthRequired | AccessError::TikTok(TikTokError::RefreshRejected)
        )
    }
}

/// Why a presented TikTok token was not proved (how that is answered is the endpoint's:
/// see `endpoints::Presenter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the token belongs to another TikTok account")]
    Mismatch,
    #[error("TikTok did not accept the token")]
    Refused,
    #[error("TikTok: {0}")]
    TikTok(TikTokError),
}

/// What to do when TikTok says a field is not allowed by the granted scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFallback {
    /// Answer the error.
    None,
    /// Ask again for the basic fields (the granted scopes are unknown).
    BasicFields,
}

/// A connection with an access token believed good. `Debug` leaves the token out.
#[derive(Clone)]
pub struct LiveToken {
    pub connection: Connection,
    access_token: String,
    pub refreshed: bool,
}

impl std::fmt::Debug for LiveToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveToken")
            .field("connection", &self.connection)
            .field("refreshed", &self.refreshed)
            .finish_non_exhaustive()
    }
}

impl LiveToken {
    /// The plaintext access token, for the one TikTok call that needs it.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }
}

fn expires_soon(conn: &Connection, now: OffsetDateTime) -> bool {
    match conn.expires_at {
        Some(at) => at - now <= REFRESH_MARGIN,
        // Unknown expiry: try the token, TikTok's answer decides.
        None => false,
    }
}

/// Using stored TikTok tokens: proving, decrypting, refreshing with the compare-and-swap,
/// and marking re-authorization. Built per request from the app's parts.
pub struct TokenAccess<'a, S, T> {
    store: &'a S,
    tiktok: &'a T,
    cipher: &'a TokenCipher,
}

impl<'a, S: TokenStore, T: TikTokApi> TokenAccess<'a, S, T> {
    pub fn new(store: &'a S, tiktok: &'a T, cipher: &'a TokenCipher) -> Self {
        TokenAccess {
            store,
            tiktok,
            cipher,
        }
    }

    /// Proves that `access_token` is a live TikTok token of `open_id`, before anything
    /// is written.
    pub async fn prove(&self, access_token: &str, open_id: &str) -> Result<UserInfo, ProofError> {
        match self.tiktok.user_info(access_token, &BASIC_FIELDS).await {
            Ok(info) if info.open_id.as_deref() == Some(open_id) => Ok(info),
            Ok(_) => Err(ProofError::Mismatch),
            Err(TikTokError::TokenInvalid | TikTokError::ScopeNotAuthorized) => {
                Err(ProofError::Refused)
            }
            Err(err) => Err(ProofError::TikTok(err)),
        }
    }

    /// Ends the app's access at TikTok. `Ok(false)`: TikTok already considered the token
    /// invalid.
    pub async fn revoke(&self, token: &LiveToken) -> Result<bool, TikTokError> {
        self.tiktok.revoke(&token.access_token).await
    }

    fn decrypt(&self, stored: Option<&str>) -> Result<String, AccessError> {
        let stored = stored
            .filter(|s| !s.is_empty())
            .ok_or(AccessError::ReauthRequired)?;
        self.cipher
            .decrypt(stored)
            .map_err(|_| AccessError::Undecryptable)
    }

    /// A usable token for the connection, refreshing first if it expires soon.
    pub async fn live_token(&self, conn: Connection) -> Result<LiveToken, AccessError> {
        // The user removed the app at TikTok: nothing to call TikTok with.
        if conn.revoked_at.is_some() {
            return Err(AccessError::ReauthRequired);
        }
        let now = OffsetDateTime::now_utc();
        let refreshable = conn.refresh_token.as_deref().is_some_and(|t| !t.is_empty())
            && conn.refresh_expires_at.is_none_or(|at| at > now);
        // Without a usable refresh token, the access token is tried anyway: TikTok decides.
        if refreshable && expires_soon(&conn, now) {
            return self.refresh(&conn).await;
        }
        match self.decrypt(conn.access_token.as_deref()) {
            Ok(access_token) => Ok(LiveToken {
                connection: conn,
                access_token,
                refreshed: false,
            }),
            // No access token stored: a refresh token may still get one.
            Err(AccessError::ReauthRequired) => self.refresh(&conn).await,
            Err(err) => Err(err),
        }
    }

    /// A TikTok call with a stored connection's token; on `access_token_invalid`, one
    /// refresh and one retry.
    pub async fn with_live_token<V, F, Fut>(
        &self,
        conn: Connection,
        call: F,
    ) -> Result<(V, LiveToken), AccessError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<V, TikTokError>>,
    {
        let mut token = self.live_token(conn).await?;
        loop {
            match call(token.access_token.clone()).await {
                Ok(value) => return Ok((value, token)),
                Err(TikTokError::TokenInvalid) if !token.refreshed => {
                    token = self.refresh(&token.connection).await?;
                }
                Err(TikTokError::TokenInvalid) => return Err(AccessError::ReauthRequired),
                Err(err) => return Err(AccessError::TikTok(err)),
            }
        }
    }

    /// User info of a stored connection with `fields`; on `access_token_invalid`, one
    /// refresh and one retry.
    pub async fn connection_user_info(
        &self,
        conn: Connection,
        fields: &[&str],
        fallback: ScopeFallback,
    ) -> Result<(UserInfo, LiveToken), AccessError> {
        let mut token = self.live_token(conn).await?;
        let mut fields = fields;
        loop {
            match self.tiktok.user_info(&token.access_token, fields).await {
                Ok(info) => return Ok((info, token)),
                Err(TikTokError::TokenInvalid) if !token.refreshed => {
                    token = self.refresh(&token.connection).await?;
                }
                Err(TikTokError::TokenInvalid) => return Err(AccessError::ReauthRequired),
                Err(TikTokError::ScopeNotAuthorized)
                    if fallback == ScopeFallback::BasicFields && fields != BASIC_FIELDS =>
                {
                    fields = &BASIC_FIELDS;
                }
                Err(err) => return Err(AccessError::TikTok(err)),
            }
        }
    }
}

mod refresh;

#[cfg(test)]
mod tests;

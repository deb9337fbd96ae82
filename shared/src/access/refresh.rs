//! Refreshing a connection's tokens: one refresh in flight at a time (the refresh
//! lease), the rotated pair stored with a compare-and-swap before use, and the loser of
//! a race re-reading the winner's tokens.

use std::time::Duration;

use time::OffsetDateTime;

use super::{AccessError, LiveToken, TokenAccess, ROTATION_GRACE};
use crate::store::{Connection, StoreError, SwapOutcome, TokenStore, TokenUpdate};
use crate::tiktok::{TikTokApi, TikTokError};

/// Attempts to store rotated tokens before giving up (TikTok has already rotated them).
const STORE_ATTEMPTS: u32 = 3;
/// Pauses between re-reads of a row whose refresh token TikTok just refused (about 2 s
/// in all: far above the time a winner needs to store its rotated pair).
const RACE_REREAD_WAITS_MS: [u64; 5] = [0, 150, 300, 600, 900];
/// Re-reads while another refresh of the connection is in flight (about 4.5 s in all:
/// a refresh is one TikTok call and one write).
const OTHER_REFRESH_WAITS_MS: [u64; 6] = [100, 200, 400, 800, 1000, 2000];
/// Time given to ending a lease even when the request's deadline has come.
const LEASE_RELEASE_TIME: Duration = Duration::from_secs(1);

fn seconds_from(now: OffsetDateTime, secs: i64) -> OffsetDateTime {
    now + time::Duration::seconds(secs.clamp(0, 10 * 365 * 24 * 3600))
}

impl<S: TokenStore, T: TikTokApi> TokenAccess<'_, S, T> {
    /// Exchanges the stored refresh token and stores the rotated pair before use; each
    /// refresh counted by its outcome ([`crate::metrics`]).
    pub async fn refresh(&self, conn: &Connection) -> Result<LiveToken, AccessError> {
        let refreshed = self.refresh_uncounted(conn).await;
        let outcome = match &refreshed {
            Ok(_) => "refreshed",
            Err(AccessError::ReauthRequired) => "reauth_required",
            Err(AccessError::RefreshInProgress) => "lease_wait_timeout",
            Err(AccessError::TikTok(TikTokError::RateLimited { .. })) => "tiktok_rate_limited",
            Err(AccessError::TikTok(_)) => "tiktok_unavailable",
            Err(AccessError::Store(_)) => "database_unavailable",
            Err(_) => "failed",
        };
        crate::metrics::Line::new(&[("outcome", outcome)])
            .count("Refreshes", 1)
            .emit();
        refreshed
    }

    async fn refresh_uncounted(&self, conn: &Connection) -> Result<LiveToken, AccessError> {
        let stored_refresh = conn
            .refresh_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(AccessError::ReauthRequired)?;
        let now = OffsetDateTime::now_utc();
        if conn.refresh_expires_at.is_some_and(|at| at <= now) {
            return Err(AccessError::ReauthRequired);
        }
        let refresh_token = self.decrypt(Some(stored_refresh))?;
        // One refresh of a connection in flight at a time, whoever asks (the sweep, a
        // request): TikTok never sees one refresh token twice at once. Whoever holds
        // the lease, this request waits for its tokens, or for the lease to be free.
        for wait_ms in std::iter::once(0).chain(OTHER_REFRESH_WAITS_MS) {
            if wait_ms > 0 {
                crate::metrics::Line::new(&[])
                    .count("RefreshLeaseWaits", 1)
                    .emit();
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                let current = self
                    .store
                    .connection_by_id(conn.id)
                    .await
                    .map_err(AccessError::Store)?;
                match current {
                    // Revoked (tokens cleared) or disconnected meanwhile.
                    None => return Err(AccessError::ReauthRequired),
                    Some(c) if c.revoked_at.is_some() => return Err(AccessError::ReauthRequired),
                    Some(c) if c.refresh_token.as_deref() != Some(stored_refresh) => {
                        return self.adopt_newer(Some(c), stored_refresh)
                    }
                    Some(_) => {}
                }
            }
            let leased = self
                .store
                .begin_refresh(conn.id, stored_refresh)
                .await
                .map_err(AccessError::Store)?;
            if leased {
                // Boxed: the refresh is rare, and its future would otherwise enlarge
                // every future that may refresh.
                return Box::pin(self.refresh_then_release(conn, stored_refresh, &refresh_token))
                    .await;
            }
        }
        tracing::warn!(
            connection_id = conn.id,
            "another refresh of this connection did not finish in time"
        );
        Err(AccessError::RefreshInProgress)
    }

    /// The refresh under the lease; a refresh that stored nothing ends the lease at once
    /// (not after its 30 seconds), with a moment of its own past the request's deadline.
    async fn refresh_then_release(
        &self,
        conn: &Connection,
        stored_refresh: &str,
        refresh_token: &str,
    ) -> Result<LiveToken, AccessError> {
        let outcome = self
            .refresh_leased(conn, stored_refresh, refresh_token)
            .await;
        if outcome.is_err() {
            let release = self.store.end_refresh(conn.id, stored_refresh);
            if let Err(err) = crate::outbound::with_at_least(LEASE_RELEASE_TIME, release).await {
                tracing::warn!(connection_id = conn.id, error = %err, "could not end the refresh lease");
            }
        }
        outcome
    }

    /// The refresh itself, under the connection's refresh lease.
    async fn refresh_leased(
        &self,
        conn: &Connection,
        stored_refresh: &str,
        refresh_token: &str,
    ) -> Result<LiveToken, AccessError> {
        let now = OffsetDateTime::now_utc();
        let grant = match self.tiktok.refresh(refresh_token).await {
            Ok(grant) => grant,
            Err(TikTokError::RefreshRejected) => {
                return self.await_winner(conn.id, stored_refresh).await
            }
            Err(err) => return Err(AccessError::TikTok(err)),
        };
        // A grant is bound to its row: tokens of another TikTok account are never stored
        // on this connection (nor used for it).
        // An answer naming no account proves nothing either.
        if grant.open_id.as_deref() != Some(conn.provider_account_id.as_str()) {
            tracing::error!(
                connection_id = conn.id,
                "TikTok's refresh answer is for another account (or names none); nothing stored, the connection needs a reconnect"
            );
            return Err(AccessError::ReauthRequired);
        }
        let update = TokenUpdate {
            access_token: self.cipher.encrypt(&grant.access_token),
            refresh_token: Some(self.cipher.encrypt(&grant.refresh_token)),
            expires_at: Some(seconds_from(now, grant.expires_in)),
            refresh_expires_at: grant.refresh_expires_in.map(|s| seconds_from(now, s)),
            scope: grant.scope.clone().filter(|s| !s.is_empty()),
        };
        let storing = self.store_rotated(conn, stored_refresh, &update);
        let outcome = crate::outbound::with_at_least(ROTATION_GRACE, storing).await?;
        if outcome.swapped {
            let connection = outcome.connection.ok_or(AccessError::ReauthRequired)?;
            tracing::info!(connection_id = conn.id, "TikTok token refreshed and stored");
            return Ok(LiveToken {
                connection,
                access_token: grant.access_token,
                refreshed: true,
            });
        }
        tracing::info!(
            connection_id = conn.id,
            "lost a refresh race; using the stored tokens"
        );
        self.adopt_newer(outcome.connection, stored_refresh)
    }

    /// TikTok has rotated the token: storing it must not be given up lightly, since the
    /// old refresh token no longer works.
    async fn store_rotated(
        &self,
        conn: &Connection,
        stored_refresh: &str,
        update: &TokenUpdate,
    ) -> Result<SwapOutcome, AccessError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .store
                .swap_tokens(conn.id, stored_refresh, update)
                .await
            {
                Ok(outcome) => return Ok(outcome),
                Err(StoreError::Unavailable(reason)) if attempt < STORE_ATTEMPTS => {
                    tracing::warn!(connection_id = conn.id, attempt, reason = %reason, "storing rotated tokens failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(err) => {
                    tracing::error!(
                        connection_id = conn.id,
                        provider_account_id = %conn.provider_account_id,
                        error = %err,
                        "TikTok rotated the refresh token but it could not be stored; the connection needs a reconnect"
                    );
                    return Err(AccessError::Store(err));
                }
            }
        }
    }

    /// TikTok refused our refresh token: maybe another instance rotated it a moment ago
    /// and is storing the new pair right now. Re-read the row until it holds something
    /// newer, for a bounded time; only then is re-authorization needed.
    async fn await_winner(&self, id: i64, stale_refresh: &str) -> Result<LiveToken, AccessError> {
        for wait_ms in RACE_REREAD_WAITS_MS {
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            let current = self
                .store
                .connection_by_id(id)
                .await
                .map_err(AccessError::Store)?;
            match self.adopt_newer(current, stale_refresh) {
                Err(AccessError::ReauthRequired) => continue,
                other => return other,
            }
        }
        // Nothing newer: TikTok refused the stored token itself. Recorded so the account
        // pages can show it; the answer does not depend on it.
        if let Err(err) = self.store.mark_reauth_required(id, stale_refresh).await {
            tracing::warn!(connection_id = id, error = %err, "could not record reauth_required");
        }
        Err(AccessError::ReauthRequired)
    }

    /// Uses a row's tokens if they are newer than the refresh token this request held.
    fn adopt_newer(
        &self,
        current: Option<Connection>,
        stale_refresh: &str,
    ) -> Result<LiveToken, AccessError> {
        let Some(current) = current else {
            return Err(AccessError::ReauthRequired);
        };
        let newer = current
            .refresh_token
            .as_deref()
            .is_some_and(|rt| rt != stale_refresh);
        if !newer {
            return Err(AccessError::ReauthRequired);
        }
        let access_token = self.decrypt(current.access_token.as_deref())?;
        Ok(LiveToken {
            connection: current,
            access_token,
            refreshed: true,
        })
    }
}

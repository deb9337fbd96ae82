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

use crate::app::{store_failure, App};
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::store::{Connection, ConnectionStore, StoreError, SwapOutcome, TokenUpdate};
use crate::tiktok::{TikTokApi, TikTokError, UserInfo, BASIC_FIELDS};

/// Refresh when the access token expires within this.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Attempts to store rotated tokens before giving up (TikTok has already rotated them).
const STORE_ATTEMPTS: u32 = 3;
/// Pauses between re-reads of a row whose refresh token TikTok just refused (about 2 s
/// in all: far above the time a winner needs to store its rotated pair).
const RACE_REREAD_WAITS_MS: [u64; 5] = [0, 150, 300, 600, 900];

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
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::ReauthRequired => ApiError::TikTokReauthRequired,
            AccessError::TikTok(TikTokError::RateLimited { retry_after }) => {
                ApiError::TikTokRateLimited { retry_after }
            }
            AccessError::TikTok(TikTokError::TokenInvalid | TikTokError::RefreshRejected) => {
                ApiError::TikTokReauthRequired
            }
            AccessError::TikTok(err) => {
                tracing::warn!(error = %err, "TikTok call failed");
                ApiError::TikTokUnavailable
            }
            AccessError::Store(err) => store_failure(err),
            AccessError::Undecryptable => {
                tracing::error!("stored token does not decrypt: check ENCRYPTION_KEY");
                ApiError::Internal
            }
        }
    }
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

fn seconds_from(now: OffsetDateTime, secs: i64) -> OffsetDateTime {
    now + time::Duration::seconds(secs.clamp(0, 10 * 365 * 24 * 3600))
}

impl<S: ConnectionStore, T: TikTokApi, V: IdTokenVerifier> App<S, T, V> {
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

    /// User info with `fields`; on `access_token_invalid`, one refresh and one retry.
    /// `basic_fallback`: on `scope_not_authorized`, ask again for the basic fields.
    pub async fn user_info(
        &self,
        conn: Connection,
        fields: &[&str],
        basic_fallback: bool,
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
                    if basic_fallback && fields != BASIC_FIELDS =>
                {
                    fields = &BASIC_FIELDS;
                }
                Err(err) => return Err(AccessError::TikTok(err)),
            }
        }
    }

    /// Exchanges the stored refresh token and stores the rotated pair before use.
    pub async fn refresh(&self, conn: &Connection) -> Result<LiveToken, AccessError> {
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
        let grant = match self.tiktok.refresh(&refresh_token).await {
            Ok(grant) => grant,
            Err(TikTokError::RefreshRejected) => {
                return self.await_winner(conn.id, stored_refresh).await
            }
            Err(err) => return Err(AccessError::TikTok(err)),
        };
        let update = TokenUpdate {
            access_token: self.cipher.encrypt(&grant.access_token),
            refresh_token: self.cipher.encrypt(&grant.refresh_token),
            expires_at: Some(seconds_from(now, grant.expires_in)),
            refresh_expires_at: grant.refresh_expires_in.map(|s| seconds_from(now, s)),
            scope: grant.scope.clone().filter(|s| !s.is_empty()),
        };
        let outcome = self.store_rotated(conn, stored_refresh, &update).await?;
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

#[cfg(test)]
mod tests {
    //! The refresh rules with in-memory doubles; the same flows run against the real
    //! stack in `tests/tests/tiktok_test.rs`.
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    use super::*;
    use crate::crypto::TokenCipher;
    use crate::firebase::AuthError;
    use crate::store::{
        Caller, CallerConnection, ConnectionSummary, ConnectionUpdate, NewConnection, OAuthConnect,
        OAuthOutcome, StoredConnection,
    };
    use crate::tiktok::TokenGrant;

    #[derive(Default)]
    struct MemStore {
        rows: Mutex<HashMap<i64, Connection>>,
        swap_failures: Mutex<u32>,
        swaps: Mutex<u32>,
        /// Applied to the row right after the next TikTok refresh call: a concurrent winner.
        winner: Mutex<Option<Connection>>,
        reauth_marks: Mutex<u32>,
    }

    impl ConnectionStore for MemStore {
        async fn tiktok_connection(
            &self,
            _: &Caller,
            _: Option<&str>,
        ) -> Result<CallerConnection, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn connection_by_id(&self, id: i64) -> Result<Option<Connection>, StoreError> {
            Ok(self.rows.lock().unwrap().get(&id).cloned())
        }
        async fn swap_tokens(
            &self,
            id: i64,
            expected: &str,
            update: &TokenUpdate,
        ) -> Result<SwapOutcome, StoreError> {
            *self.swaps.lock().unwrap() += 1;
            {
                let mut failures = self.swap_failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err(StoreError::Unavailable("down".into()));
                }
            }
            let mut rows = self.rows.lock().unwrap();
            let row = rows.get_mut(&id).unwrap();
            if row.refresh_token.as_deref() != Some(expected) {
                return Ok(SwapOutcome {
                    swapped: false,
                    connection: Some(row.clone()),
                });
            }
            row.access_token = Some(update.access_token.clone());
            row.refresh_token = Some(update.refresh_token.clone());
            row.expires_at = update.expires_at;
            Ok(SwapOutcome {
                swapped: true,
                connection: Some(row.clone()),
            })
        }
        async fn store_connection(
            &self,
            _: &Caller,
            _: &NewConnection,
        ) -> Result<StoredConnection, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn cache_profile(&self, _: i64, _: &serde_json::Value) -> Result<(), StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn oauth_connect(&self, _: &OAuthConnect) -> Result<OAuthOutcome, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn list_connections(&self, _: &Caller) -> Result<Vec<ConnectionSummary>, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn update_connection(
            &self,
            _: &Caller,
            _: &ConnectionUpdate,
        ) -> Result<Option<ConnectionSummary>, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn mark_reauth_required(&self, _: i64, _: &str) -> Result<(), StoreError> {
            *self.reauth_marks.lock().unwrap() += 1;
            Ok(())
        }
        async fn delete_connection(&self, _: i64, _: i64) -> Result<bool, StoreError> {
            unreachable!("not used by the access rules")
        }
        async fn store_client_profile(
            &self,
            _: &Caller,
            _: &str,
            _: &serde_json::Value,
        ) -> Result<Option<Connection>, StoreError> {
            unreachable!("not used by the access rules")
        }
    }

    struct ScriptedTikTok {
        refresh: Mutex<VecDeque<Result<TokenGrant, TikTokError>>>,
        info: Mutex<VecDeque<Result<UserInfo, TikTokError>>>,
        seen_tokens: Mutex<Vec<String>>,
        store: std::sync::Arc<MemStore>,
    }

    impl TikTokApi for ScriptedTikTok {
        async fn user_info(&self, token: &str, _: &[&str]) -> Result<UserInfo, TikTokError> {
            self.seen_tokens.lock().unwrap().push(token.to_owned());
            self.info
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(UserInfo::default()))
        }
        async fn revoke(&self, _: &str) -> Result<bool, TikTokError> {
            unreachable!("not used by the access rules")
        }
        async fn refresh(&self, _: &str) -> Result<TokenGrant, TikTokError> {
            let answer = self
                .refresh
                .lock()
                .unwrap()
                .pop_front()
                .expect("unexpected refresh");
            if let Some(winner) = self.store.winner.lock().unwrap().take() {
                self.store.rows.lock().unwrap().insert(winner.id, winner);
            }
            answer
        }
    }

    struct NoAuth;
    impl IdTokenVerifier for NoAuth {
        async fn verify_id_token(&self, _: &str) -> Result<Caller, AuthError> {
            Err(AuthError::Invalid("unused"))
        }
    }

    fn cipher() -> TokenCipher {
        TokenCipher::from_keys("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap()
    }

    fn grant(n: u32) -> TokenGrant {
        serde_json::from_value(serde_json::json!({
            "access_token": format!("act.{n}"), "refresh_token": format!("rft.{n}"),
            "expires_in": 7200, "refresh_expires_in": 86400, "scope": "user.info.basic"
        }))
        .unwrap()
    }

    fn row(access: &str, refresh: &str, expires_in: i64) -> Connection {
        let c = cipher();
        serde_json::from_value(serde_json::json!({
            "id": 1, "user_id": 1, "provider": "tiktok", "provider_account_id": "o",
            "access_token": c.encrypt(access), "refresh_token": c.encrypt(refresh),
            "expires_at": crate::timestamp::format(OffsetDateTime::now_utc() + time::Duration::seconds(expires_in)),
        }))
        .unwrap()
    }

    type TestApp = App<std::sync::Arc<MemStore>, ScriptedTikTok, NoAuth>;

    impl<S: ConnectionStore> ConnectionStore for std::sync::Arc<S> {
        async fn tiktok_connection(
            &self,
            c: &Caller,
            a: Option<&str>,
        ) -> Result<CallerConnection, StoreError> {
            (**self).tiktok_connection(c, a).await
        }
        async fn connection_by_id(&self, id: i64) -> Result<Option<Connection>, StoreError> {
            (**self).connection_by_id(id).await
        }
        async fn swap_tokens(
            &self,
            id: i64,
            e: &str,
            u: &TokenUpdate,
        ) -> Result<SwapOutcome, StoreError> {
            (**self).swap_tokens(id, e, u).await
        }
        async fn store_connection(
            &self,
            c: &Caller,
            n: &NewConnection,
        ) -> Result<StoredConnection, StoreError> {
            (**self).store_connection(c, n).await
        }
        async fn cache_profile(&self, id: i64, p: &serde_json::Value) -> Result<(), StoreError> {
            (**self).cache_profile(id, p).await
        }
        async fn oauth_connect(&self, a: &OAuthConnect) -> Result<OAuthOutcome, StoreError> {
            (**self).oauth_connect(a).await
        }
        async fn list_connections(&self, c: &Caller) -> Result<Vec<ConnectionSummary>, StoreError> {
            (**self).list_connections(c).await
        }
        async fn update_connection(
            &self,
            c: &Caller,
            u: &ConnectionUpdate,
        ) -> Result<Option<ConnectionSummary>, StoreError> {
            (**self).update_connection(c, u).await
        }
        async fn mark_reauth_required(&self, id: i64, r: &str) -> Result<(), StoreError> {
            (**self).mark_reauth_required(id, r).await
        }
        async fn delete_connection(&self, id: i64, u: i64) -> Result<bool, StoreError> {
            (**self).delete_connection(id, u).await
        }
        async fn store_client_profile(
            &self,
            c: &Caller,
            o: &str,
            p: &serde_json::Value,
        ) -> Result<Option<Connection>, StoreError> {
            (**self).store_client_profile(c, o, p).await
        }
    }

    fn app(
        conn: &Connection,
        refreshes: Vec<Result<TokenGrant, TikTokError>>,
        infos: Vec<Result<UserInfo, TikTokError>>,
    ) -> TestApp {
        let store = std::sync::Arc::new(MemStore::default());
        store.rows.lock().unwrap().insert(conn.id, conn.clone());
        App {
            tiktok: ScriptedTikTok {
                refresh: Mutex::new(refreshes.into()),
                info: Mutex::new(infos.into()),
                seen_tokens: Mutex::default(),
                store: store.clone(),
            },
            store,
            auth: NoAuth,
            cipher: cipher(),
            profile_cache_ttl: Duration::from_secs(3600),
        }
    }

    fn stored_refresh(app: &TestApp) -> String {
        let rows = app.store.rows.lock().unwrap();
        cipher()
            .decrypt(rows[&1].refresh_token.as_deref().unwrap())
            .unwrap()
    }

    #[tokio::test]
    async fn a_fresh_token_is_used_without_refreshing() {
        let conn = row("act.0", "rft.0", 3600);
        let app = app(&conn, vec![], vec![]);
        let (_, token) = app.user_info(conn, &BASIC_FIELDS, false).await.unwrap();
        assert!(!token.refreshed);
        assert_eq!(*app.tiktok.seen_tokens.lock().unwrap(), vec!["act.0"]);
    }

    #[tokio::test]
    async fn an_expiring_token_is_refreshed_and_stored_before_use() {
        let conn = row("act.0", "rft.0", 120);
        let app = app(&conn, vec![Ok(grant(1))], vec![]);
        app.user_info(conn, &BASIC_FIELDS, false).await.unwrap();
        assert_eq!(stored_refresh(&app), "rft.1");
        assert_eq!(*app.tiktok.seen_tokens.lock().unwrap(), vec!["act.1"]);
    }

    #[tokio::test]
    async fn a_rejected_token_is_refreshed_once() {
        let conn = row("act.0", "rft.0", 3600);
        let app = app(
            &conn,
            vec![Ok(grant(1))],
            vec![
                Err(TikTokError::TokenInvalid),
                Err(TikTokError::TokenInvalid),
            ],
        );
        let err = app.user_info(conn, &BASIC_FIELDS, false).await.unwrap_err();
        assert_eq!(err, AccessError::ReauthRequired);
        assert_eq!(
            *app.tiktok.seen_tokens.lock().unwrap(),
            vec!["act.0", "act.1"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_refresh_with_nothing_newer_stored_needs_reauth() {
        let conn = row("act.0", "rft.0", -10);
        let app = app(&conn, vec![Err(TikTokError::RefreshRejected)], vec![]);
        assert_eq!(
            app.user_info(conn, &BASIC_FIELDS, false).await.unwrap_err(),
            AccessError::ReauthRequired
        );
        assert_eq!(stored_refresh(&app), "rft.0", "nothing overwritten");
        assert_eq!(
            *app.store.reauth_marks.lock().unwrap(),
            1,
            "recorded for the account pages"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_loser_of_a_race_uses_the_winners_tokens() {
        // TikTok refuses our (already rotated) token; the winner's pair lands meanwhile.
        let conn = row("act.0", "rft.0", -10);
        let app = app(&conn, vec![Err(TikTokError::RefreshRejected)], vec![]);
        *app.store.winner.lock().unwrap() = Some(row("act.9", "rft.9", 7200));
        app.user_info(conn, &BASIC_FIELDS, false).await.unwrap();
        assert_eq!(*app.tiktok.seen_tokens.lock().unwrap(), vec!["act.9"]);
        assert_eq!(stored_refresh(&app), "rft.9");
    }

    #[tokio::test]
    async fn a_lost_swap_keeps_the_winners_row() {
        let conn = row("act.0", "rft.0", -10);
        let app = app(&conn, vec![Ok(grant(1))], vec![]);
        *app.store.winner.lock().unwrap() = Some(row("act.9", "rft.9", 7200));
        app.user_info(conn, &BASIC_FIELDS, false).await.unwrap();
        assert_eq!(
            stored_refresh(&app),
            "rft.9",
            "compare-and-swap refused our write"
        );
        assert_eq!(*app.tiktok.seen_tokens.lock().unwrap(), vec!["act.9"]);
    }

    #[tokio::test(start_paused = true)]
    async fn storing_rotated_tokens_is_retried_then_reported() {
        let conn = row("act.0", "rft.0", -10);
        let app = app(&conn, vec![Ok(grant(1))], vec![]);
        *app.store.swap_failures.lock().unwrap() = 2;
        app.user_info(conn.clone(), &BASIC_FIELDS, false)
            .await
            .unwrap();
        assert_eq!(*app.store.swaps.lock().unwrap(), 3);
        assert_eq!(stored_refresh(&app), "rft.1");

        let app = self::app(&conn, vec![Ok(grant(2))], vec![]);
        *app.store.swap_failures.lock().unwrap() = 5;
        let err = app.user_info(conn, &BASIC_FIELDS, false).await.unwrap_err();
        assert!(
            matches!(err, AccessError::Store(StoreError::Unavailable(_))),
            "{err:?}"
        );
        assert_eq!(ApiError::from(err), ApiError::DatabaseUnavailable);
        assert_eq!(
            *app.tiktok.seen_tokens.lock().unwrap(),
            Vec::<String>::new(),
            "new token never used unstored"
        );
    }

    #[tokio::test]
    async fn without_a_refresh_token_the_access_token_is_tried() {
        let mut conn = row("act.0", "rft.0", -10);
        conn.refresh_token = None;
        let app = app(&conn, vec![], vec![]);
        app.user_info(conn, &BASIC_FIELDS, false).await.unwrap();
        assert_eq!(*app.tiktok.seen_tokens.lock().unwrap(), vec!["act.0"]);
    }

    #[tokio::test]
    async fn an_expired_refresh_token_needs_reauth_without_a_refresh_call() {
        // The access token is tried (TikTok decides); it is refused, and the expired
        // refresh token is never sent.
        let mut conn = row("act.0", "rft.0", -10);
        conn.refresh_expires_at = Some(OffsetDateTime::now_utc() - time::Duration::seconds(1));
        let app = app(&conn, vec![], vec![Err(TikTokError::TokenInvalid)]);
        assert_eq!(
            app.user_info(conn, &BASIC_FIELDS, false).await.unwrap_err(),
            AccessError::ReauthRequired
        );
    }

    #[tokio::test]
    async fn unknown_scope_falls_back_to_basic_fields() {
        let conn = row("act.0", "rft.0", 3600);
        let app = app(
            &conn,
            vec![],
            vec![
                Err(TikTokError::ScopeNotAuthorized),
                Ok(UserInfo::default()),
            ],
        );
        let all = crate::tiktok::fields_for_scope(None);
        app.user_info(conn, &all, true).await.unwrap();
        assert_eq!(app.tiktok.seen_tokens.lock().unwrap().len(), 2);
    }
}

//! The refresh rules with the in-memory store and the scripted TikTok; the same flows
//! run against the real stack in `tests/tests/tiktok_test.rs`.

use std::sync::Arc;

use super::*;
use crate::endpoints::Presenter;
use crate::error::{code, ApiError};
use crate::store::memory::MemoryStore;
use crate::tiktok::scripted::{grant, ScriptedTikTok};

fn cipher() -> TokenCipher {
    TokenCipher::from_keys("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap()
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

struct Parts {
    store: Arc<MemoryStore>,
    tiktok: ScriptedTikTok,
    cipher: TokenCipher,
}

impl Parts {
    fn new(conn: &Connection) -> Parts {
        let store = Arc::new(MemoryStore::default());
        store.put(conn.clone());
        Parts {
            store,
            tiktok: ScriptedTikTok::default(),
            cipher: cipher(),
        }
    }

    fn access(&self) -> TokenAccess<'_, MemoryStore, ScriptedTikTok> {
        TokenAccess::new(&self.store, &self.tiktok, &self.cipher)
    }

    /// A concurrent winner's row lands right after our refresh call.
    fn winner_stores(&self, winner: Connection) {
        let store = self.store.clone();
        self.tiktok.after_next_refresh(move || store.put(winner));
    }

    fn stored_refresh(&self) -> String {
        let row = self.store.row(1).unwrap();
        cipher()
            .decrypt(row.refresh_token.as_deref().unwrap())
            .unwrap()
    }

    async fn user_info(&self, conn: Connection) -> Result<(UserInfo, LiveToken), AccessError> {
        self.access()
            .connection_user_info(conn, &BASIC_FIELDS, ScopeFallback::None)
            .await
    }
}

fn open_id(id: &str) -> UserInfo {
    UserInfo {
        open_id: Some(id.into()),
        ..UserInfo::default()
    }
}

#[tokio::test]
async fn a_fresh_token_is_used_without_refreshing() {
    let conn = row("act.0", "rft.0", 3600);
    let parts = Parts::new(&conn);
    parts.tiktok.then_user_info(Ok(open_id("o")));
    let (_, token) = parts.user_info(conn).await.unwrap();
    assert!(!token.refreshed);
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.0"]);
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_and_stored_before_use() {
    let conn = row("act.0", "rft.0", 120);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Ok(grant("act.1", "rft.1", "o")));
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(parts.stored_refresh(), "rft.1");
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.1"]);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once() {
    let conn = row("act.0", "rft.0", 3600);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Ok(grant("act.1", "rft.1", "o")));
    parts
        .tiktok
        .then_user_info(Err(TikTokError::TokenInvalid))
        .then_user_info(Err(TikTokError::TokenInvalid));
    let err = parts.user_info(conn).await.unwrap_err();
    assert_eq!(err, AccessError::ReauthRequired);
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.0", "act.1"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_refresh_with_nothing_newer_stored_needs_reauth() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Err(TikTokError::RefreshRejected));
    assert_eq!(
        parts.user_info(conn).await.unwrap_err(),
        AccessError::ReauthRequired
    );
    assert_eq!(parts.stored_refresh(), "rft.0", "nothing overwritten");
    assert!(
        parts.store.is_marked_reauth(1),
        "recorded for the account pages"
    );
}

#[tokio::test(start_paused = true)]
async fn the_loser_of_a_race_uses_the_winners_tokens() {
    // TikTok refuses our (already rotated) token; the winner's pair lands meanwhile.
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Err(TikTokError::RefreshRejected));
    parts.winner_stores(row("act.9", "rft.9", 7200));
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.9"]);
    assert_eq!(parts.stored_refresh(), "rft.9");
}

#[tokio::test]
async fn a_lost_swap_keeps_the_winners_row() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Ok(grant("act.1", "rft.1", "o")));
    parts.winner_stores(row("act.9", "rft.9", 7200));
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(
        parts.stored_refresh(),
        "rft.9",
        "compare-and-swap refused our write"
    );
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.9"]);
}

#[tokio::test(start_paused = true)]
async fn storing_rotated_tokens_is_retried_then_reported() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Ok(grant("act.1", "rft.1", "o")));
    parts.tiktok.then_user_info(Ok(open_id("o")));
    // The database fails once TikTok has rotated the pair (the lease was taken before).
    let store = parts.store.clone();
    parts.tiktok.after_next_refresh(move || store.fail_next(2));
    parts.user_info(conn.clone()).await.unwrap();
    assert_eq!(parts.store.remaining_failures(), 0);
    assert_eq!(parts.stored_refresh(), "rft.1");

    let parts = Parts::new(&conn);
    parts.tiktok.then_refresh(Ok(grant("act.2", "rft.2", "o")));
    let store = parts.store.clone();
    parts.tiktok.after_next_refresh(move || store.fail_next(5));
    let err = parts.user_info(conn).await.unwrap_err();
    assert_eq!(
        parts.store.remaining_failures(),
        1,
        "three attempts, then ending the lease"
    );
    assert!(
        matches!(err, AccessError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert_eq!(ApiError::from(err), ApiError::DatabaseUnavailable);
    assert!(
        parts.tiktok.user_info_tokens().is_empty(),
        "new token never used unstored"
    );
}

#[tokio::test]
async fn without_a_refresh_token_the_access_token_is_tried() {
    let mut conn = row("act.0", "rft.0", -10);
    conn.refresh_token = None;
    let parts = Parts::new(&conn);
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(parts.tiktok.user_info_tokens(), ["act.0"]);
}

#[tokio::test]
async fn an_expired_refresh_token_needs_reauth_without_a_refresh_call() {
    // The access token is tried (TikTok decides); it is refused, and the expired
    // refresh token is never sent.
    let mut conn = row("act.0", "rft.0", -10);
    conn.refresh_expires_at = Some(OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let parts = Parts::new(&conn);
    parts.tiktok.then_user_info(Err(TikTokError::TokenInvalid));
    assert_eq!(
        parts.user_info(conn).await.unwrap_err(),
        AccessError::ReauthRequired
    );
    assert_eq!(parts.tiktok.calls().len(), 1, "no refresh call");
}

#[tokio::test]
async fn unknown_scope_falls_back_to_basic_fields() {
    let conn = row("act.0", "rft.0", 3600);
    let parts = Parts::new(&conn);
    parts
        .tiktok
        .then_user_info(Err(TikTokError::ScopeNotAuthorized))
        .then_user_info(Ok(UserInfo::default()));
    let all = crate::tiktok::fields_for_scope(None);
    parts
        .access()
        .connection_user_info(conn, &all, ScopeFallback::BasicFields)
        .await
        .unwrap();
    assert_eq!(parts.tiktok.user_info_tokens().len(), 2);
}

#[tokio::test]
async fn a_token_is_proved_against_its_open_id() {
    let conn = row("act.0", "rft.0", 3600);
    let parts = Parts::new(&conn);
    parts
        .tiktok
        .then_user_info(Ok(open_id("other")))
        .then_user_info(Err(TikTokError::TokenInvalid))
        .then_user_info(Ok(open_id("o")));
    let access = parts.access();
    let mismatch = access.prove("t", "o").await.unwrap_err();
    assert_eq!(mismatch, ProofError::Mismatch);
    let mismatch = Presenter::SignIn.refused(mismatch);
    assert_eq!(
        (mismatch.status_code().as_u16(), mismatch.code()),
        (401, code::TIKTOK_ACCOUNT_MISMATCH)
    );
    let invalid = access.prove("t", "o").await.unwrap_err();
    assert_eq!(invalid, ProofError::Refused);
    let invalid = Presenter::SignedInUser.refused(invalid);
    assert_eq!(
        (invalid.status_code().as_u16(), invalid.code()),
        (400, code::TIKTOK_TOKEN_INVALID)
    );
    assert!(access.prove("t", "o").await.is_ok());
}

#[tokio::test]
async fn a_refresh_answering_another_open_id_stores_nothing() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts
        .tiktok
        .then_refresh(Ok(grant("act.x", "rft.x", "someone-else")));
    assert_eq!(
        parts.user_info(conn).await.unwrap_err(),
        AccessError::ReauthRequired
    );
    assert_eq!(parts.stored_refresh(), "rft.0", "the row keeps its tokens");
    assert!(parts.tiktok.user_info_tokens().is_empty(), "never used");
}

fn refresh_calls(parts: &Parts) -> usize {
    parts
        .tiktok
        .calls()
        .iter()
        .filter(|c| matches!(c, crate::tiktok::scripted::Call::Refresh { .. }))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_refresh_in_flight_elsewhere_is_waited_for_not_repeated() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    // The sweep (or another request) holds the lease and stores its pair 300 ms later.
    let stored = conn.refresh_token.clone().unwrap();
    assert!(parts.store.begin_refresh(1, &stored).await.unwrap());
    let (store, winner) = (parts.store.clone(), row("act.9", "rft.9", 7200));
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        store.put(winner);
    });
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(
        parts.tiktok.user_info_tokens(),
        ["act.9"],
        "the holder's token"
    );
    assert_eq!(refresh_calls(&parts), 0, "TikTok saw one refresh, not two");
}

#[tokio::test(start_paused = true)]
async fn a_refresh_that_never_lands_elsewhere_is_tiktoks_slowness_not_a_dead_grant() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    let stored = conn.refresh_token.clone().unwrap();
    assert!(parts.store.begin_refresh(1, &stored).await.unwrap());
    let err = parts.user_info(conn).await.unwrap_err();
    assert_eq!(err, AccessError::RefreshInProgress);
    assert_eq!(
        ApiError::from(err),
        ApiError::TikTokUnavailable,
        "try again"
    );
    assert_eq!(refresh_calls(&parts), 0);
    assert!(!parts.store.is_marked_reauth(1));
}

#[tokio::test(start_paused = true)]
async fn a_lease_its_holder_gives_up_is_taken_and_the_refresh_made() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    // The holder's TikTok call fails 250 ms in: it ends the lease, storing nothing.
    let stored = conn.refresh_token.clone().unwrap();
    assert!(parts.store.begin_refresh(1, &stored).await.unwrap());
    let store = parts.store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        store.end_refresh(1, &stored).await.unwrap();
    });
    parts.tiktok.then_refresh(Ok(grant("act.1", "rft.1", "o")));
    parts.tiktok.then_user_info(Ok(open_id("o")));
    parts.user_info(conn).await.unwrap();
    assert_eq!(refresh_calls(&parts), 1, "this request refreshed, once");
    assert_eq!(parts.stored_refresh(), "rft.1");
}

#[tokio::test(start_paused = true)]
async fn a_connection_revoked_while_waiting_needs_a_reconnect() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    let stored = conn.refresh_token.clone().unwrap();
    assert!(parts.store.begin_refresh(1, &stored).await.unwrap());
    // TikTok's webhook: the user removed the app; the tokens are cleared.
    let mut revoked = conn.clone();
    (revoked.access_token, revoked.refresh_token) = (Some(String::new()), None);
    revoked.revoked_at = Some(OffsetDateTime::now_utc());
    parts.store.put(revoked);
    let err = parts.user_info(conn).await.unwrap_err();
    assert_eq!(err, AccessError::ReauthRequired);
    assert_eq!(refresh_calls(&parts), 0);
}

#[tokio::test]
async fn a_failed_refresh_ends_its_lease_at_once() {
    let conn = row("act.0", "rft.0", -10);
    let parts = Parts::new(&conn);
    parts
        .tiktok
        .then_refresh(Err(TikTokError::Unavailable("down".into())));
    parts.user_info(conn.clone()).await.unwrap_err();
    let stored = conn.refresh_token.clone().unwrap();
    assert!(
        parts.store.begin_refresh(1, &stored).await.unwrap(),
        "the next refresh need not wait 30 seconds"
    );
    // A lease is taken only for the refresh token the row still holds.
    parts.store.put(row("act.9", "rft.9", 7200));
    parts.store.end_refresh(1, &stored).await.unwrap();
    assert!(!parts.store.begin_refresh(1, &stored).await.unwrap());
}

//! The keep-alive sweep's run rules with in-memory ports: workers share the claims, and
//! a run stops on its deadline, on TikTok's 429, on a TikTok outage and on a database
//! outage. The same sweep runs against the real stack in `tests/tests/connection_health.rs`.

use std::collections::HashSet;
use std::time::Duration;

use shared::firebase::fixed::FixedIdentity;
use shared::store::memory::MemoryStore;
use shared::store::Connection;
use shared::testing::{self, Call, TestApp};
use shared::tiktok::scripted::ScriptedTikTok;
use shared::tiktok::TikTokError;
use time::OffsetDateTime;
use tokio::time::Instant;

/// `n` TikTok connections last refreshed 25 hours ago; each refresh token is
/// `r-<open_id>`, and TikTok answers any of them with a new pair for that account.
fn due(n: i64) -> TestApp {
    let app = testing::app(
        MemoryStore::default(),
        ScriptedTikTok::default(),
        FixedIdentity::default(),
    );
    for id in 1..=n {
        let open_id = format!("open-{id}");
        let row: Connection = serde_json::from_value(serde_json::json!({
            "id": id, "user_id": id, "provider": "tiktok", "provider_account_id": open_id,
            "access_token": app.cipher.encrypt(&format!("a-{open_id}")),
            "refresh_token": app.cipher.encrypt(&format!("r-{open_id}")),
            "refreshed_at": shared::timestamp::format(OffsetDateTime::now_utc() - time::Duration::hours(25)),
        }))
        .unwrap();
        app.store.put(row);
    }
    app.tiktok.refresh_by(|refresh_token| {
        let open_id = refresh_token.strip_prefix("r-").unwrap();
        Ok(testing::grant(
            &format!("a2-{open_id}"),
            &format!("r2-{open_id}"),
            open_id,
        ))
    });
    app
}

fn refreshes(app: &TestApp) -> Vec<String> {
    app.tiktok
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Refresh { refresh_token } => Some(refresh_token),
            _ => None,
        })
        .collect()
}

fn in_a_minute() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn the_workers_refresh_every_due_connection_exactly_once() {
    // More connections than one worker's batch, so several workers claim.
    let app = due(3 * shared::sweep::BATCH + 7);
    let summary = shared::sweep::run(&app, in_a_minute()).await.unwrap();
    assert_eq!(summary.refreshed, 157, "{summary:?}");
    assert_eq!(
        (summary.failed, summary.remaining, summary.stopped),
        (0, Some(0), None)
    );
    let sent = refreshes(&app);
    assert_eq!(sent.len(), 157, "one refresh a connection");
    assert_eq!(sent.iter().collect::<HashSet<_>>().len(), 157, "none twice");
    let row = app.store.row(5).unwrap();
    assert_eq!(
        app.cipher
            .decrypt(row.refresh_token.as_deref().unwrap())
            .unwrap(),
        "r2-open-5",
        "the rotated pair is stored"
    );
}

#[tokio::test]
async fn a_run_past_its_deadline_claims_nothing() {
    let app = due(3);
    let summary = shared::sweep::run(&app, Instant::now()).await.unwrap();
    assert_eq!(summary.stopped, Some("deadline"));
    assert_eq!((summary.refreshed, summary.remaining), (0, Some(3)));
    assert!(refreshes(&app).is_empty());
}

#[tokio::test]
async fn tiktoks_429_stops_every_worker() {
    let app = due(120);
    app.tiktok.refresh_by(|_| {
        Err(TikTokError::RateLimited {
            retry_after: Some(60),
        })
    });
    let summary = shared::sweep::run(&app, in_a_minute()).await.unwrap();
    assert_eq!(summary.stopped, Some("tiktok_rate_limited"));
    // At most one refresh in flight a worker when the first 429 lands.
    let sent = refreshes(&app).len() as u64;
    assert!((1..=4).contains(&sent), "{sent} refreshes after a 429");
    assert_eq!(summary.failed, sent);
    assert!(
        summary.remaining >= Some(100),
        "the rest waits: {summary:?}"
    );
    assert!(
        !app.store.is_marked_reauth(1),
        "a 429 says nothing of the grant"
    );
}

#[tokio::test]
async fn a_tiktok_outage_stops_the_run_and_changes_no_row() {
    let app = due(60);
    let before = app.store.row(1).unwrap();
    app.tiktok
        .refresh_by(|_| Err(TikTokError::Unavailable("connection refused".into())));
    let summary = shared::sweep::run(&app, in_a_minute()).await.unwrap();
    assert_eq!(summary.stopped, Some("tiktok_unavailable"));
    assert_eq!((summary.refreshed, summary.reauth_required), (0, 0));
    assert!(summary.failed >= 3 && summary.failed < 60, "{summary:?}");
    let after = app.store.row(1).unwrap();
    assert_eq!(
        (after.access_token, after.refresh_token, after.refreshed_at),
        (
            before.access_token,
            before.refresh_token,
            before.refreshed_at
        )
    );
    assert!((1..=60).all(|id| !app.store.is_marked_reauth(id)));
}

#[tokio::test]
async fn a_refused_grant_is_marked_and_the_run_goes_on() {
    let app = due(10);
    app.tiktok.refresh_by(|refresh_token| match refresh_token {
        "r-open-3" => Err(TikTokError::RefreshRejected),
        other => {
            let open_id = other.strip_prefix("r-").unwrap();
            Ok(testing::grant("a2", "r2", open_id))
        }
    });
    let summary = shared::sweep::run(&app, in_a_minute()).await.unwrap();
    assert_eq!(
        (summary.refreshed, summary.reauth_required, summary.stopped),
        (9, 1, None)
    );
    assert!(app.store.is_marked_reauth(3));
}

#[tokio::test]
async fn a_database_outage_ends_the_run_with_its_error() {
    let app = due(5);
    app.store.fail_next(1);
    let err = shared::sweep::run(&app, in_a_minute()).await.unwrap_err();
    assert_eq!(err.code(), "database_unavailable");
}

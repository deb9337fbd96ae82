//! The analytics sync's run rules with in-memory ports: what it calls for whom, the
//! budget it waits for and stops at, and TikTok's 429. The same sync runs against the
//! real stack (PostgreSQL's claims, cadence and budget, the TikTok fake) in
//! `tests/tests/analytics.rs`.

use std::time::Duration;

use shared::firebase::fixed::FixedIdentity;
use shared::store::memory::MemoryStore;
use shared::store::Connection;
use shared::testing::{self, Call, TestApp};
use shared::tiktok::scripted::ScriptedTikTok;
use shared::tiktok::videos::{Video, VideoPage};
use shared::tiktok::{TikTokError, UserInfo};
use tokio::time::Instant;

/// One connection per scope list; access tokens `a-<open_id>` that TikTok accepts.
fn accounts(scopes: &[&str]) -> TestApp {
    let mut tiktok = ScriptedTikTok::default();
    let app_cipher = testing::app(
        MemoryStore::default(),
        ScriptedTikTok::default(),
        FixedIdentity::default(),
    )
    .cipher;
    let mut rows = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        let id = i as i64 + 1;
        let open_id = format!("open-{id}");
        tiktok = tiktok.with_account(
            &format!("a-{open_id}"),
            UserInfo {
                open_id: Some(open_id.clone()),
                follower_count: Some(10 * id as u64),
                ..UserInfo::default()
            },
        );
        rows.push(serde_json::json!({
            "id": id, "user_id": id, "provider": "tiktok", "provider_account_id": open_id,
            "scope": scope,
            "access_token": app_cipher.encrypt(&format!("a-{open_id}")),
            "refresh_token": app_cipher.encrypt(&format!("r-{open_id}")),
            "expires_at": shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
        }));
    }
    let app = testing::app(MemoryStore::default(), tiktok, FixedIdentity::default());
    for row in rows {
        app.store
            .put(serde_json::from_value::<Connection>(row).unwrap());
    }
    app
}

fn video(id: &str, age_hours: i64, views: u64) -> Video {
    Video {
        id: Some(id.into()),
        create_time: Some(time::OffsetDateTime::now_utc().unix_timestamp() - age_hours * 3600),
        view_count: Some(views),
        ..Video::default()
    }
}

fn page(videos: Vec<Video>) -> VideoPage {
    VideoPage {
        videos,
        cursor: Some(1),
        has_more: false,
    }
}

fn in_seconds(s: u64) -> Instant {
    Instant::now() + Duration::from_secs(s)
}

const ALL: &str = "user.info.basic,user.info.stats,video.list";

#[tokio::test]
async fn an_account_is_listed_and_its_stats_read_and_a_scopeless_one_is_not_called() {
    let app = accounts(&[ALL, "user.info.basic"]);
    app.tiktok
        .then_videos(Ok(page(vec![video("v1", 1, 100), video("v2", 30, 50)])));
    let summary = shared::analytics::run(&app, in_seconds(30)).await.unwrap();
    assert_eq!(summary.accounts, 1, "{summary:?}");
    assert_eq!(summary.videos_new, 2);
    let calls = app.tiktok.calls();
    assert!(
        calls.iter().all(|c| !format!("{c:?}").contains("open-2")),
        "no call for the scopeless account: {calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::UserInfo { .. }))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::ListVideos { .. }))
            .count(),
        1
    );
    assert_eq!(summary.spent.get("user_info"), Some(&1));
    assert_eq!(summary.spent.get("video_list"), Some(&1));
}

#[tokio::test]
async fn the_budget_is_never_exceeded_and_a_run_without_budget_stops() {
    // 6 a minute: a bucket of 1, refilled with 5 over the minute (one each 12 s). With 3
    // seconds to run, one user info call is all the run may make.
    let mut app = accounts(&[ALL, ALL, ALL, ALL]);
    app.analytics.rpm = 6;
    let summary = shared::analytics::run(&app, in_seconds(3)).await.unwrap();
    let infos = app
        .tiktok
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::UserInfo { .. }))
        .count();
    assert_eq!(infos, 1, "{summary:?}");
    assert_eq!(summary.stopped, Some("budget_spent"));
    assert!(summary.released >= 1);
    assert!(summary.remaining >= Some(3), "{summary:?}");
}

#[tokio::test]
async fn tiktoks_429_blocks_the_endpoint_for_the_minute() {
    let app = accounts(&[ALL, ALL, ALL]);
    app.tiktok
        .then_user_info(Err(TikTokError::RateLimited { retry_after: None }));
    let summary = shared::analytics::run(&app, in_seconds(3)).await.unwrap();
    assert_eq!(summary.rate_limited, 1, "{summary:?}");
    // After the 429 no other user info call: the endpoint waits out its minute.
    let infos = app
        .tiktok
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::UserInfo { .. }))
        .count();
    assert_eq!(infos, 1);
    assert_eq!(summary.stopped, Some("budget_spent"));
}

#[tokio::test]
async fn a_database_outage_stops_the_run_with_its_error() {
    let app = accounts(&[ALL]);
    // maintain, then the claim.
    app.store.fail_next(2);
    let err = shared::analytics::run(&app, in_seconds(3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "database_unavailable");
    assert!(app.tiktok.calls().is_empty());
}

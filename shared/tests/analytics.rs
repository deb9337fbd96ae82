//! The analytics sync's run rules with in-memory ports: what it calls for whom, the
//! budget it waits for and stops at, and TikTok's 429. The same sync runs against the
//! real stack (PostgreSQL's claims, cadence and budget, the TikTok fake) in
//! `tests/tests/analytics.rs`.

use std::time::Duration;

use shared::firebase::fixed::FixedIdentity;
use shared::store::memory::MemoryStore;
use shared::store::{Caller, ConnectionStore, NewConnection, NewTokens};
use shared::testing::{self, Call, TestApp};
use shared::tiktok::scripted::ScriptedTikTok;
use shared::tiktok::videos::{Video, VideoPage};
use shared::tiktok::{TikTokError, UserInfo};
use tokio::time::Instant;

/// One connection per scope list, each of its own user (`uid-<id>`), stored as store-token
/// stores it; access tokens `a-<open_id>` that TikTok accepts.
async fn accounts(scopes: &[&str]) -> TestApp {
    let mut tiktok = ScriptedTikTok::default();
    for id in 1..=scopes.len() as u64 {
        tiktok = tiktok.with_account(
            &format!("a-open-{id}"),
            UserInfo {
                open_id: Some(format!("open-{id}")),
                follower_count: Some(10 * id),
                ..UserInfo::default()
            },
        );
    }
    let app = testing::app(MemoryStore::default(), tiktok, FixedIdentity::default());
    for (i, scope) in scopes.iter().enumerate() {
        let id = i + 1;
        let caller = Caller {
            firebase_uid: format!("uid-{id}"),
            ..Caller::default()
        };
        let new = NewConnection {
            provider: "tiktok".into(),
            provider_account_id: format!("open-{id}"),
            tokens: NewTokens {
                access_token: app.cipher.encrypt(&format!("a-open-{id}")),
                refresh_token: Some(app.cipher.encrypt(&format!("r-open-{id}"))),
                expires_at: Some(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
                scope: Some((*scope).to_owned()),
                ..NewTokens::default()
            },
            ..NewConnection::default()
        };
        app.store.store_connection(&caller, &new).await.unwrap();
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
    let app = accounts(&[ALL, "user.info.basic"]).await;
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
    let mut app = accounts(&[ALL, ALL, ALL, ALL]).await;
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
    let app = accounts(&[ALL, ALL, ALL]).await;
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
    let app = accounts(&[ALL]).await;
    // maintain, then the claim.
    app.store.fail_next(2);
    let err = shared::analytics::run(&app, in_seconds(3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "database_unavailable");
    assert!(app.tiktok.calls().is_empty());
}

#[tokio::test]
async fn stats_read_before_a_refused_discovery_are_kept() {
    use shared::store::{AnalyticsOf, AnalyticsStore, DateRange};
    let app = accounts(&[ALL]).await;
    // TikTok's video list is down for the whole run (three outages in a row stop it).
    for _ in 0..5 {
        app.tiktok
            .then_videos(Err(TikTokError::Unavailable("502".into())));
    }
    let summary = shared::analytics::run(&app, in_seconds(3)).await.unwrap();
    assert_eq!(summary.accounts, 0, "never listed: {summary:?}");
    assert_eq!(summary.stopped, Some("tiktok_unavailable"), "{summary:?}");
    // The day's stats are stored (the caller's read shows them).
    let today = time::OffsetDateTime::now_utc().date();
    let of = AnalyticsOf {
        firebase_uid: "uid-1",
        account_id: None,
    };
    let read = app
        .store
        .account_analytics(
            &of,
            DateRange {
                from: today,
                to: today,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read["series"][0]["followers"], 10, "{read}");
}

//! The analytics history against the real stack: the sync (sync-analytics) on the job
//! runner with PostgreSQL's claims, cadence and token bucket, against the TikTok fake
//! (which counts every call and enforces TikTok's 600 a minute per endpoint), and the
//! three reads checked against the snapshots stored.

use integration_tests::*;
use serde_json::{json, Value};

/// Each test runs the sync, which takes every due item: one at a time, and each parks
/// the other suites' analytics first.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const STATS_AND_VIDEOS: &str = "user.info.basic,user.info.stats,video.list";

fn in_seconds(s: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(s)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Now in Unix seconds with their fraction (as the fake's call log has it).
fn precise_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn id_list(connection_ids: &[i64]) -> String {
    connection_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Only these connections' analytics are due (the rest of the database's pushed a
/// day on), and every endpoint's budget starts full.
fn only_due(connection_ids: &[i64]) {
    let ids = id_list(connection_ids);
    psql(&format!(
        "update tiktok_analytics_accounts set due_at = now() + interval '1 day' \
         where connection_id not in ({ids}); \
         update tiktok_videos set next_sync_at = now() + interval '1 day' \
         where connection_id not in ({ids}) and next_sync_at is not null; \
         delete from tiktok_rate_buckets;"
    ));
}

/// A user with a new TikTok account of `scope`, connected: (user, account, connection id).
async fn creator(app: &shared::LiveApp, scope: &str) -> (FirebaseUser, TikTokAccount, i64) {
    let user = given::user().await;
    let account = TikTokFake::new().account(scope).await;
    let id = given::connection(&user, &account)
        .through_store_token(app)
        .await;
    (user, account, id)
}

/// These connections' tracked videos are due now, as when their next sync time comes.
fn videos_due(connection_ids: &[i64]) {
    psql(&format!(
        "update tiktok_videos set next_sync_at = now() - interval '1 minute' \
         where connection_id in ({}) and next_sync_at is not null",
        id_list(connection_ids)
    ));
}

/// A creator whose account has the fake's `videos` (as `add_videos` takes them), after
/// a first sync of it alone: (user, account, connection id, the videos made).
async fn synced_creator(
    app: &shared::LiveApp,
    fake: &TikTokFake,
    videos: Value,
) -> (FirebaseUser, TikTokAccount, i64, Value) {
    let (user, account, id) = creator(app, STATS_AND_VIDEOS).await;
    let made = fake.add_videos(&account.open_id, videos).await;
    only_due(&[id]);
    shared::analytics::run(app, in_seconds(30)).await.unwrap();
    (user, account, id, made)
}

/// The sync with one worker: its claims, and so its queries, are deterministic.
fn one_worker() -> shared::LiveApp {
    app_with(&[("ANALYTICS_WORKERS", "1")])
}

fn query(sql: &str) -> Value {
    let text = psql(&format!(
        "select coalesce(json_agg(q), '[]') from ({sql}) q"
    ));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn read(
    app: &shared::LiveApp,
    function: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
    params: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Reply {
    let file = format!("{function}/account-id.json");
    let file = if function == "tiktok-analytics-video" {
        "tiktok-analytics-video/ok.json".to_owned()
    } else {
        file
    };
    let mut all: Vec<(&str, &str)> = vec![("account_id", account.open_id.as_str())];
    all.extend_from_slice(params);
    let req = with_query(request(&file, user, account, extra), &all);
    send(function, app, req).await
}

fn calls_of<'a>(calls: &'a [Value], endpoint: &str) -> Vec<&'a Value> {
    calls.iter().filter(|c| c["endpoint"] == endpoint).collect()
}

/// The account's calls of `endpoint` from `since` (Unix seconds) on.
async fn calls_since(fake: &TikTokFake, open_id: &str, endpoint: &str, since: f64) -> Vec<Value> {
    let calls = fake.calls(open_id).await;
    calls_of(&calls, endpoint)
        .into_iter()
        .filter(|c| c["at"].as_f64().unwrap() >= since)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_sync_keeps_each_videos_history_by_its_age_and_the_reads_show_it() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account, id) = creator(&app, STATS_AND_VIDEOS).await;
    // Three videos of the last hours and one 100 days old.
    let young = fake
        .add_videos(
            &account.open_id,
            json!({"count": 3, "newest": now() - 3600}),
        )
        .await;
    fake.add_videos(
        &account.open_id,
        json!({"count": 1, "newest": now() - 100 * 86_400, "title": "Old"}),
    )
    .await;
    only_due(&[id]);

    let first = shared::analytics::run(&app, in_seconds(30)).await.unwrap();
    assert_eq!((first.accounts, first.videos_new), (1, 4), "{first:?}");
    let rows = query(&format!(
        "select video_id, tier, extract(epoch from next_sync_at - now())::int as next_in, views, deleted_at \
         from tiktok_videos where connection_id = {id} order by create_time desc"
    ));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    // An hour old: hourly (tier 0); 100 days: never again (its listed totals kept).
    assert_eq!(rows[0]["tier"], 0);
    assert!(
        (3500..=3600).contains(&rows[0]["next_in"].as_i64().unwrap()),
        "{rows:?}"
    );
    assert_eq!(rows[3]["next_in"], Value::Null);
    assert_eq!(rows[3]["views"], 1000);
    let stats = query(&format!(
        "select followers, videos from tiktok_account_snapshots where connection_id = {id}"
    ));
    assert_eq!(stats.as_array().unwrap().len(), 1, "{stats}");

    // An hour later (backdated) the young videos are due, the old one is not: one query
    // with the three ids, which overwrites this hour's point with the new totals.
    let newest = young[0]["id"].as_str().unwrap().to_owned();
    fake.video_stats(
        &account.open_id,
        json!({"video_id": newest, "view_count": 5000, "like_count": 70}),
    )
    .await;
    videos_due(&[id]);
    let before = fake.calls(&account.open_id).await.len();
    // One worker: with four, two claims at the same moment may split the three between
    // them (each skips the rows the other locked), two queries instead of one.
    let second = shared::analytics::run(&one_worker(), in_seconds(30))
        .await
        .unwrap();
    assert_eq!(
        (second.video_batches, second.videos_refreshed),
        (1, 3),
        "{second:?}"
    );
    let calls = fake.calls(&account.open_id).await;
    let queries = calls_of(&calls[before..], "video_query");
    assert_eq!(queries.len(), 1, "{calls:?}");
    let asked = queries[0]["body"]["filters"]["video_ids"]
        .as_array()
        .unwrap();
    assert_eq!(asked.len(), 3, "the 100-day-old video is never asked for");
    let points = query(&format!(
        "select views, likes, hourly from tiktok_video_snapshots \
         where connection_id = {id} and video_id = '{newest}'"
    ));
    assert_eq!(
        points,
        json!([{"views": 5000, "likes": 70, "hourly": true}]),
        "one row per hour"
    );

    // The reads: the video's series and the account's videos, as stored.
    let video = read(
        &app,
        "tiktok-analytics-video",
        &user,
        &account,
        &[],
        &[("REPLACE_WITH_VIDEO_ID", &newest)],
    )
    .await;
    assert_eq!(video.status, 200, "{}", video.body);
    assert_eq!(video.body["video"]["views"], 5000);
    assert_eq!(video.body["series"].as_array().unwrap().len(), 1);
    assert_eq!(video.body["series"][0]["granularity"], "hour");
    assert_eq!(video.body["series"][0]["views"], 5000);
    assert!(video.body["next_sync_at"].as_str().unwrap().ends_with('Z'));
    let from = time::OffsetDateTime::now_utc().date() - time::Duration::days(200);
    let from = shared::store::iso_date::format(from);
    let listed = read(
        &app,
        "tiktok-analytics-videos",
        &user,
        &account,
        &[("from", &from), ("sort", "views"), ("limit", "2")],
        &[],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["total"], 4);
    assert_eq!(listed.body["videos"][0]["video_id"], newest.as_str());
    assert_eq!(listed.body["videos"][0]["growth"]["views"], 5000);
    assert_eq!(listed.body["videos"].as_array().unwrap().len(), 2);
    let next = listed.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = read(
        &app,
        "tiktok-analytics-videos",
        &user,
        &account,
        &[
            ("from", &from),
            ("sort", "views"),
            ("limit", "2"),
            ("cursor", &next),
        ],
        &[],
    )
    .await;
    assert_eq!(rest.body["videos"].as_array().unwrap().len(), 2);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let account_read = read(
        &app,
        "tiktok-analytics-account",
        &user,
        &account,
        &[("from", &from)],
        &[],
    )
    .await;
    assert_eq!(account_read.status, 200, "{}", account_read.body);
    assert_eq!(account_read.body["series"].as_array().unwrap().len(), 1);
    assert_eq!(account_read.body["unavailable"], Value::Null);
}

#[tokio::test]
async fn a_video_tiktok_no_longer_answers_is_kept_and_marked_deleted() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account, id, made) =
        synced_creator(&app, &fake, json!({"count": 2, "newest": now() - 7200})).await;
    let gone = made[1]["id"].as_str().unwrap().to_owned();
    fake.video_stats(&account.open_id, json!({"video_id": gone, "deleted": true}))
        .await;
    videos_due(&[id]);
    let run = shared::analytics::run(&app, in_seconds(30)).await.unwrap();
    assert_eq!(run.videos_deleted, 1, "{run:?}");
    let row = query(&format!(
        "select deleted_at is not null as deleted, next_sync_at, views from tiktok_videos \
         where connection_id = {id} and video_id = '{gone}'"
    ));
    assert_eq!(row[0]["deleted"], true);
    assert_eq!(row[0]["next_sync_at"], Value::Null);
    assert!(row[0]["views"].as_i64().is_some(), "its last totals stay");
    let video = read(
        &app,
        "tiktok-analytics-video",
        &user,
        &account,
        &[],
        &[("REPLACE_WITH_VIDEO_ID", &gone)],
    )
    .await;
    assert_eq!(video.status, 200);
    assert!(
        video.body["video"]["deleted_at"].is_string(),
        "{}",
        video.body
    );
    assert_eq!(video.body["series"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_budget_holds_over_four_workers_and_two_overlapping_runs() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let mut ids = Vec::new();
    let mut open_ids = Vec::new();
    for _ in 0..12 {
        let (_, account, id) = creator(&app, STATS_AND_VIDEOS).await;
        fake.add_videos(&account.open_id, json!({"count": 1, "newest": now() - 600}))
            .await;
        ids.push(id);
        open_ids.push(account.open_id);
    }
    // Discovery with the default budget, then every video due at once.
    only_due(&ids);
    let found = shared::analytics::run(&app, in_seconds(60)).await.unwrap();
    assert_eq!((found.accounts, found.videos_new), (12, 12), "{found:?}");
    videos_due(&ids);
    psql("delete from tiktok_rate_buckets");

    // 20 a minute: a bucket of 2, refilled with 18 over the minute (0.3 a second).
    let tight = app_with(&[("ANALYTICS_RPM", "20"), ("ANALYTICS_WORKERS", "4")]);
    let started = std::time::Instant::now();
    let since = precise_now();
    let (a, b) = tokio::join!(
        shared::analytics::run(&tight, in_seconds(5)),
        shared::analytics::run(&tight, in_seconds(5)),
    );
    let elapsed = started.elapsed().as_secs_f64();
    let (a, b) = (a.unwrap(), b.unwrap());
    let calls = fake.all_calls().await;
    let sent: Vec<&Value> = calls
        .iter()
        .filter(|c| c["endpoint"] == "video_query" && c["at"].as_f64().unwrap() >= since)
        .filter(|c| open_ids.iter().any(|o| c["open_id"] == o.as_str()))
        .collect();
    // Never more than the bucket and its refill: 2 + 0.3 a second (and so never 20 in
    // any minute).
    let most = 2.0 + 0.3 * elapsed;
    assert!(!sent.is_empty(), "{a:?} {b:?}");
    assert!(
        sent.len() as f64 <= most + 0.001,
        "{} queries in {elapsed:.1} s",
        sent.len()
    );
    assert_eq!(
        a.spent["video_query"] + b.spent["video_query"],
        sent.len() as u64
    );
    assert!(sent.len() <= 20);
    assert!(
        a.stopped == Some("budget_spent") || b.stopped == Some("budget_spent"),
        "{a:?} {b:?}"
    );
    // The first run to end may have found everything claimed by the other.
    let left = a.remaining.unwrap().max(b.remaining.unwrap());
    assert!(left > 0, "work left for the next runs: {a:?} {b:?}");
    // What was not refreshed is due again (given back), none lost to a lease.
    let due = query(&format!(
        "select count(*) as n from tiktok_videos where connection_id in ({}) and next_sync_at <= now()",
        id_list(&ids)
    ));
    assert_eq!(
        due[0]["n"].as_i64().unwrap() as usize,
        12 - sent.len(),
        "{due}"
    );
}

#[tokio::test]
async fn tiktoks_429_stops_that_endpoint_for_the_rest_of_the_minute() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id, _) =
        synced_creator(&app, &fake, json!({"count": 1, "newest": now() - 600})).await;
    videos_due(&[id]);
    fake.script(
        &account.open_id,
        "video_query",
        json!([{"fixture": "user-info-rate-limited"}]),
    )
    .await;
    let run = shared::analytics::run(&app, in_seconds(4)).await.unwrap();
    assert_eq!(run.rate_limited, 1, "{run:?}");
    assert_eq!(
        run.stopped,
        Some("budget_spent"),
        "the endpoint waits out its minute"
    );
    assert_eq!(fake.count(&account.open_id, "video_query").await, 1);
    let blocked = query("select extract(epoch from blocked_until - now())::int as s from tiktok_rate_buckets where endpoint = 'video_query'");
    assert!(blocked[0]["s"].as_i64().unwrap() > 50, "{blocked}");
    // The video is due again, not lost.
    let row = query(&format!(
        "select next_sync_at <= now() as due from tiktok_videos where connection_id = {id}"
    ));
    assert_eq!(row[0]["due"], true);
}

#[tokio::test]
async fn revoked_and_scopeless_accounts_are_skipped_without_calls_and_say_why() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let (user, scopeless, scopeless_id) = creator(&app, "user.info.basic").await;
    let (revoked_user, revoked, revoked_id) = creator(&app, STATS_AND_VIDEOS).await;
    // The scopes as TikTok granted them (store-token keeps none: TikTok would say).
    psql(&format!(
        "update social_connections set scope = 'user.info.basic' where id = {scopeless_id}; \
         update social_connections set revoked_at = now(), scope = '{STATS_AND_VIDEOS}' where id = {revoked_id}"
    ));
    only_due(&[scopeless_id, revoked_id]);
    let since = precise_now();
    let run = shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!(run.accounts, 0, "{run:?}");
    let fake = TikTokFake::new();
    for account in [&scopeless, &revoked] {
        let calls = fake.calls(&account.open_id).await;
        assert!(
            calls.iter().all(|c| c["at"].as_f64().unwrap() < since),
            "no call since the run began: {calls:?}"
        );
    }
    let marked = query(&format!(
        "select connection_id, unavailable from tiktok_analytics_accounts \
         where connection_id in ({scopeless_id}, {revoked_id}) order by connection_id"
    ));
    assert_eq!(marked[0]["unavailable"], "scope_missing", "{marked}");
    assert_eq!(marked[1]["unavailable"], "revoked", "{marked}");
    let read_scopeless = read(
        &app,
        "tiktok-analytics-account",
        &user,
        &scopeless,
        &[],
        &[],
    )
    .await;
    assert_eq!(read_scopeless.status, 200);
    assert_eq!(read_scopeless.body["unavailable"], "scope_missing");
    assert_eq!(read_scopeless.body["next_sync_at"], Value::Null);
    let read_revoked = read(
        &app,
        "tiktok-analytics-videos",
        &revoked_user,
        &revoked,
        &[],
        &[],
    )
    .await;
    assert_eq!(
        read_revoked.body["unavailable"], "revoked",
        "{}",
        read_revoked.body
    );
}

#[tokio::test]
async fn another_users_account_and_video_are_not_found() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, ana_account, ana_id) = creator(&app, STATS_AND_VIDEOS).await;
    let (bob, bob_account, _) = creator(&app, STATS_AND_VIDEOS).await;
    let made = fake
        .add_videos(
            &ana_account.open_id,
            json!({"count": 1, "newest": now() - 600}),
        )
        .await;
    only_due(&[ana_id]);
    shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    let anas_video = made[0]["id"].as_str().unwrap();
    // Bob names Ana's account: not his.
    for function in ["tiktok-analytics-account", "tiktok-analytics-videos"] {
        let reply = read(&app, function, &bob, &ana_account, &[], &[]).await;
        reply.assert_error(404, "tiktok_not_connected");
    }
    let reply = read(
        &app,
        "tiktok-analytics-video",
        &bob,
        &ana_account,
        &[],
        &[("REPLACE_WITH_VIDEO_ID", anas_video)],
    )
    .await;
    reply.assert_error(404, "tiktok_not_connected");
    // Bob names his own account and Ana's video: no such video of his.
    let reply = read(
        &app,
        "tiktok-analytics-video",
        &bob,
        &bob_account,
        &[],
        &[("REPLACE_WITH_VIDEO_ID", anas_video)],
    )
    .await;
    reply.assert_error(404, "video_not_found");
}

#[tokio::test]
async fn the_reads_numbers_are_the_stored_snapshots() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let (user, account, id) = creator(&app, STATS_AND_VIDEOS).await;
    psql("select ensure_tiktok_analytics_partitions(now() - interval '60 days', now())");
    // Three days of account stats.
    psql(&format!(
        "insert into tiktok_account_snapshots (connection_id, day, followers, following, likes, videos) values \
         ({id}, current_date - 2, 100, 5, 1000, 20), ({id}, current_date - 1, 120, 5, 1100, 21), \
         ({id}, current_date, 150, 6, 1300, 22)"
    ));
    // 21 videos a day apart, 2 to 22 days old: views at 24 hours 100, 200, ... (the
    // newest 2100); each with two daily points.
    for i in 0..21 {
        let age_days = 22 - i;
        psql(&format!(
            "insert into tiktok_videos (connection_id, video_id, create_time, views, views_24h, \
             last_synced_at, next_sync_at, tier) values ({id}, 'v{i}', now() - interval '{age_days} days', \
             {views}, {v24}, now(), now() + interval '1 day', 2); \
             insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views) values \
             ({id}, 'v{i}', date_trunc('day', now()) - interval '1 day', false, {half}), \
             ({id}, 'v{i}', date_trunc('day', now()), false, {views})",
            views = (i + 1) * 1000,
            v24 = (i + 1) * 100,
            half = (i + 1) * 500,
        ));
    }
    let from = shared::store::iso_date::format(
        time::OffsetDateTime::now_utc().date() - time::Duration::days(2),
    );
    let stats = read(
        &app,
        "tiktok-analytics-account",
        &user,
        &account,
        &[("from", &from)],
        &[],
    )
    .await;
    let followers: Vec<i64> = stats.body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["followers"].as_i64().unwrap())
        .collect();
    assert_eq!(followers, [100, 120, 150], "{}", stats.body);

    let from = shared::store::iso_date::format(
        time::OffsetDateTime::now_utc().date() - time::Duration::days(30),
    );
    let listed = read(
        &app,
        "tiktok-analytics-videos",
        &user,
        &account,
        &[("from", &from), ("sort", "velocity"), ("limit", "3")],
        &[],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let top = &listed.body["videos"][0];
    // The newest: 2100 at 24 hours over the median of the 20 before it (100..2000:
    // 1050) = 2.0.
    assert_eq!(top["video_id"], "v20", "{}", listed.body);
    assert_eq!(top["velocity"], 2.0);
    assert_eq!(top["views"], 21000);
    assert_eq!(top["growth"]["views"], 21000, "made in the range: from 0");
    // The oldest has no previous videos: no velocity yet.
    let oldest = read(
        &app,
        "tiktok-analytics-video",
        &user,
        &account,
        &[],
        &[("REPLACE_WITH_VIDEO_ID", "v0")],
    )
    .await;
    assert_eq!(oldest.body["video"]["velocity"], Value::Null);
    assert_eq!(oldest.body["series"].as_array().unwrap().len(), 2);
    assert_eq!(oldest.body["series"][0]["views"], 500);
    assert_eq!(oldest.body["series"][1]["views"], 1000);
    let recent = read(
        &app,
        "tiktok-analytics-videos",
        &user,
        &account,
        &[("from", &from)],
        &[],
    )
    .await;
    assert_eq!(recent.body["videos"][0]["video_id"], "v20");
    assert_eq!(recent.body["total"], 21);
}

#[tokio::test]
async fn old_partitions_are_dropped_whole() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let (_, _, id) = creator(&app, STATS_AND_VIDEOS).await;
    psql("select ensure_tiktok_analytics_partitions(now() - interval '450 days', now() - interval '450 days')");
    psql(&format!(
        "insert into tiktok_account_snapshots (connection_id, day, followers) values ({id}, current_date - 450, 1); \
         insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views) values \
         ({id}, 'old', now() - interval '450 days', false, 1)"
    ));
    let month = query("select to_char(now() - interval '450 days', '\"y\"YYYY\"m\"MM') as m");
    let month = month[0]["m"].as_str().unwrap().to_owned();
    only_due(&[id]);
    shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    let left = query(&format!(
        "select relname from pg_class where relname in ('tiktok_video_snapshots_{month}', 'tiktok_account_snapshots_{month}')"
    ));
    assert_eq!(left, json!([]), "the 400-day retention dropped them");
    let current = query("select relname from pg_class where relname = 'tiktok_video_snapshots_' || to_char(now(), '\"y\"YYYY\"m\"MM')");
    assert_eq!(current.as_array().unwrap().len(), 1, "this month's is kept");
}

#[tokio::test]
async fn a_published_post_carries_its_video_and_latest_totals() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let posted = send(
        "tiktok-publish",
        &app,
        good_request("tiktok-publish", &user, &account),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let post_id = posted.body["id"].as_str().unwrap().to_owned();
    let video = fake
        .add_videos(&account.open_id, json!({"count": 1, "newest": now() - 60}))
        .await;
    let video_id = video[0]["id"].as_str().unwrap().to_owned();
    // TikTok made it public as this video (the webhook's post id).
    psql(&format!(
        "update tiktok_posts set status = 'PUBLISH_COMPLETE', public_post_ids = '[\"{video_id}\"]' where id = '{post_id}'"
    ));
    let connection_id = query(&format!(
        "select connection_id from tiktok_posts where id = '{post_id}'"
    ))[0]["connection_id"]
        .as_i64()
        .unwrap();
    // The post as it is, but for its video's totals (its updated_at included).
    let post_row = format!(
        "select to_jsonb(p) - 'video_metrics' as post from tiktok_posts p where id = '{post_id}'"
    );
    let before = query(&post_row);
    only_due(&[connection_id]);
    shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!(
        query(&post_row),
        before,
        "a refresh of the video's totals is not a change of the post"
    );
    let status = send(
        "tiktok-post-status",
        &app,
        request(
            "tiktok-post-status/ok.json",
            &user,
            &account,
            &[("REPLACE_WITH_POST_ID", &post_id)],
        ),
    )
    .await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["video_id"], video_id.as_str());
    assert_eq!(status.body["metrics"]["views"], 1000, "{}", status.body);
    assert!(status.body["metrics"]["synced_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

/// The sync's write against PostgreSQL itself: what TikTok did not send keeps the known
/// value, an id twice in one answer is one video, a video in its first 24 hours gets an
/// hourly point and its 24-hour views, an older one a daily point that leaves them be.
#[tokio::test]
async fn an_answer_merges_into_what_is_known() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let (_user, _account, id) = creator(&app, STATS_AND_VIDEOS).await;
    let cadence = "'[[86400,3600],[604800,21600],[2592000,86400],[7776000,604800]]'";
    let young = now() - 3600;
    let old = now() - 10 * 86400;
    let record = |videos: Value| {
        query(&format!(
            "select record_tiktok_videos({id}, '{videos}'::jsonb, {cadence}) as counts"
        ))[0]["counts"]
            .clone()
    };
    let first = record(json!([
        {"id": "m-young", "create_time": young, "title": "Young", "view_count": 10, "like_count": 1},
        {"id": "m-young", "create_time": young, "title": "Young", "view_count": 10, "like_count": 1},
        {"id": "m-old", "create_time": old, "title": "Old", "view_count": 500, "like_count": 9},
    ]));
    assert_eq!(first, json!({"new": 2, "known": 0, "deleted": 0}));
    // The old one's first day ended this midnight: its hourly point there stays beside
    // the day's point, which has the same bucket (the day's start).
    psql(&format!(
        "insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views) \
         values ({id}, 'm-old', date_trunc('day', now(), 'UTC'), true, 1)"
    ));
    // Later: the young one's likes and title missing, the old one's views.
    let second = record(json!([
        {"id": "m-young", "view_count": 25},
        {"id": "m-old", "like_count": 12},
    ]));
    assert_eq!(second, json!({"new": 0, "known": 2, "deleted": 0}));
    let videos = query(&format!(
        "select video_id, title, views, likes, views_24h, tier, \
                next_sync_at > now() + interval '50 minutes' as later, deleted_at is null as kept \
         from tiktok_videos where connection_id = {id} order by video_id"
    ));
    assert_eq!(
        videos,
        json!([
            {"video_id": "m-old", "title": "Old", "views": 500, "likes": 12, "views_24h": null,
             "tier": 2, "later": true, "kept": true},
            {"video_id": "m-young", "title": "Young", "views": 25, "likes": 1, "views_24h": 25,
             "tier": 0, "later": true, "kept": true},
        ])
    );
    let points = query(&format!(
        "select video_id, hourly, views, likes, \
                bucket = date_trunc(case when hourly then 'hour' else 'day' end, now(), 'UTC') as current \
         from tiktok_video_snapshots where connection_id = {id} order by video_id, hourly"
    ));
    assert_eq!(
        points,
        json!([
            {"video_id": "m-old", "hourly": false, "views": 500, "likes": 12, "current": true},
            {"video_id": "m-old", "hourly": true, "views": 1, "likes": null, "current": false},
            {"video_id": "m-young", "hourly": true, "views": 25, "likes": 1, "current": true},
        ]),
        "one point per bucket, overwritten by the same bucket's sync, never with a missing value"
    );
}

/// A connection granted video.list but not user.info.stats is synced for its videos and
/// then left until its next discovery, not claimed again at once for the stats it cannot
/// read.
#[tokio::test]
async fn an_account_with_one_of_the_two_scopes_is_not_claimed_again_at_once() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id) = creator(&app, STATS_AND_VIDEOS).await;
    fake.add_videos(&account.open_id, json!({"count": 1, "newest": now() - 600}))
        .await;
    psql(&format!(
        "update social_connections set scope = 'user.info.basic,video.list' where id = {id}"
    ));
    only_due(&[id]);
    let since = precise_now();
    let run = shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!((run.accounts, run.videos_new), (1, 1), "{run:?}");
    let stats_calls = calls_since(&fake, &account.open_id, "user_info", since).await;
    assert!(stats_calls.is_empty(), "{stats_calls:?}");
    let row = query(&format!(
        "select due_at > now() + interval '50 minutes' as later, \
                stats_due_at > now() + interval '23 hours' as stats_later \
         from tiktok_analytics_accounts where connection_id = {id}"
    ));
    assert_eq!(row, json!([{"later": true, "stats_later": true}]));
    let again = shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!(again.accounts, 0, "{again:?}");
}

/// A connection's videos due within the hour ride along with its due ones to fill the
/// queries those already need: 25 due take two queries, which carry 15 more.
#[tokio::test]
async fn videos_ride_along_in_the_queries_already_paid_for() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id, _) =
        synced_creator(&app, &fake, json!({"count": 45, "newest": now() - 600})).await;
    psql(&format!(
        "update tiktok_videos v set next_sync_at = case when r.n <= 25 \
             then now() - interval '1 minute' else now() + interval '30 minutes' end \
         from (select video_id, row_number() over (order by create_time desc) as n \
               from tiktok_videos where connection_id = {id}) r \
         where v.connection_id = {id} and v.video_id = r.video_id"
    ));
    let since = precise_now();
    let run = shared::analytics::run(&one_worker(), in_seconds(20))
        .await
        .unwrap();
    assert_eq!(run.video_batches, 2, "{run:?}");
    let queries = calls_since(&fake, &account.open_id, "video_query", since).await;
    let sizes: Vec<usize> = queries
        .iter()
        .map(|q| q["body"]["filters"]["video_ids"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [20, 20], "{queries:?}");
    let left = query(&format!(
        "select count(*) as n from tiktok_videos where connection_id = {id} \
         and next_sync_at between now() + interval '29 minutes' and now() + interval '31 minutes'"
    ));
    assert_eq!(left[0]["n"], 5, "the rest wait for their own time");
}

/// What another worker's claim leased (its next sync pushed to the lease's end, minutes
/// away) never rides along with this claim's due video: it would be asked for twice.
#[tokio::test]
async fn a_video_leased_by_another_claim_does_not_ride_along() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id, made) =
        synced_creator(&app, &fake, json!({"count": 21, "newest": now() - 600})).await;
    let due = made[0]["id"].as_str().unwrap().to_owned();
    psql(&format!(
        "update tiktok_videos set next_sync_at = case when video_id = '{due}' \
             then now() - interval '1 minute' else now() + interval '5 minutes' end \
         where connection_id = {id}"
    ));
    let since = precise_now();
    let run = shared::analytics::run(&one_worker(), in_seconds(20))
        .await
        .unwrap();
    assert_eq!(run.video_batches, 1, "{run:?}");
    let queries = calls_since(&fake, &account.open_id, "video_query", since).await;
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert_eq!(
        queries[0]["body"]["filters"]["video_ids"],
        json!([due]),
        "only the due one"
    );
}

/// A video linked from a post before the account's first discovery does not end that
/// discovery: every page is read once, and only later discoveries stop at a known video.
#[tokio::test]
async fn the_first_discovery_reads_past_a_video_known_from_a_post() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id) = creator(&app, STATS_AND_VIDEOS).await;
    let made = fake
        .add_videos(
            &account.open_id,
            json!({"count": 25, "newest": now() - 600}),
        )
        .await;
    let posted = made[0]["id"].as_str().unwrap().to_owned();
    // As the post's link makes it (tiktok_post_video_link).
    psql(&format!(
        "insert into tiktok_videos (connection_id, video_id, next_sync_at, tier) values ({id}, '{posted}', now(), 0)"
    ));
    only_due(&[id]);
    let since = precise_now();
    let first = shared::analytics::run(&app, in_seconds(30)).await.unwrap();
    assert_eq!(first.videos_new, 24, "{first:?}");
    let lists = calls_since(&fake, &account.open_id, "video_list", since).await;
    assert_eq!(lists.len(), 2, "both pages: {lists:?}");
    let tracked = query(&format!(
        "select count(*) as n from tiktok_videos where connection_id = {id}"
    ));
    assert_eq!(tracked[0]["n"], 25);

    // A new video, an hour later: the next discovery stops at the first page.
    fake.add_videos(&account.open_id, json!({"count": 1, "newest": now() - 60}))
        .await;
    psql(&format!(
        "update tiktok_analytics_accounts set due_at = now(), list_due_at = now() where connection_id = {id}"
    ));
    let since = precise_now();
    let next = shared::analytics::run(&app, in_seconds(30)).await.unwrap();
    assert_eq!(next.videos_new, 1, "{next:?}");
    let lists = calls_since(&fake, &account.open_id, "video_list", since).await;
    assert_eq!(lists.len(), 1, "{lists:?}");
}

/// An account TikTok refuses the videos of (a connection stored without its scopes,
/// TikTok granting stats only) keeps its stats and is asked for its videos a day later,
/// not at the next hourly discovery.
#[tokio::test]
async fn a_refused_discovery_is_asked_again_a_day_later() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id) = creator(&app, "user.info.basic,user.info.stats").await;
    only_due(&[id]);
    let run = shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!(run.accounts, 0, "{run:?}");
    let lists = fake.count(&account.open_id, "video_list").await;
    assert_eq!(lists, 1);
    let row = query(&format!(
        "select unavailable, list_due_at > now() + interval '23 hours' as list_later, \
                (select count(*) from tiktok_account_snapshots s where s.connection_id = a.connection_id) as stats \
         from tiktok_analytics_accounts a where connection_id = {id}"
    ));
    assert_eq!(
        row,
        json!([{"unavailable": "scope_missing", "list_later": true, "stats": 1}])
    );
}

/// The other way round: TikTok refuses the stats (read first) of an account it lets list
/// its videos. The stats wait a day; the discovery, never asked, comes at its hour.
#[tokio::test]
async fn a_refused_stats_read_leaves_the_discovery_to_its_hour() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account, id) = creator(&app, "user.info.basic,video.list").await;
    fake.add_videos(&account.open_id, json!({"count": 1, "newest": now() - 600}))
        .await;
    only_due(&[id]);
    shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    let row = query(&format!(
        "select unavailable, list_due_at <= now() + interval '61 minutes' as list_within_the_hour, \
                stats_due_at > now() + interval '23 hours' as stats_later \
         from tiktok_analytics_accounts where connection_id = {id}"
    ));
    assert_eq!(
        row,
        json!([{"unavailable": "scope_missing", "list_within_the_hour": true, "stats_later": true}])
    );
    // Its hour comes: the discovery alone, and the video is found.
    psql(&format!(
        "update tiktok_analytics_accounts set list_due_at = now(), due_at = now() where connection_id = {id}"
    ));
    let since = precise_now();
    let run = shared::analytics::run(&app, in_seconds(20)).await.unwrap();
    assert_eq!(run.videos_new, 1, "{run:?}");
    assert!(calls_since(&fake, &account.open_id, "user_info", since)
        .await
        .is_empty());
}

/// A post's updated_at moves when the post changes, and with an update that rewrites it
/// unchanged (a status read: the unsettled-post sweep orders by it), never with its
/// video's totals alone, nor with the sync rewriting the same totals.
#[tokio::test]
async fn a_posts_updated_at_moves_with_the_post_not_its_totals() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let (user, account) = publisher(&app).await;
    let posted = send(
        "tiktok-publish",
        &app,
        good_request("tiktok-publish", &user, &account),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let id = posted.body["id"].as_str().unwrap().to_owned();
    let check = |update: &str| -> bool {
        psql(&format!(
            "set session_replication_role = replica; \
             update tiktok_posts set updated_at = now() - interval '1 hour' where id = '{id}'; \
             set session_replication_role = origin; \
             {update} where id = '{id}';"
        ));
        query(&format!(
            "select updated_at > now() - interval '1 minute' as moved from tiktok_posts where id = '{id}'"
        ))[0]["moved"]
            .as_bool()
            .unwrap()
    };
    assert!(
        check("update tiktok_posts set status = status"),
        "a rewrite unchanged"
    );
    assert!(
        !check("update tiktok_posts set video_metrics = '{\"views\": 1}'"),
        "new totals"
    );
    assert!(
        !check("update tiktok_posts set video_metrics = video_metrics"),
        "the same totals"
    );
    assert!(
        check("update tiktok_posts set video_metrics = '{\"views\": 2}', fail_reason = 'x'"),
        "new totals and a change of the post"
    );
}

//! tiktok-videos against the local stack: pages, ids, scope, refresh and rate limits.

use integration_tests::*;
use serde_json::{json, Value};

/// Videos at the fake for this account: `count`, an hour apart.
async fn videos_at_fake(open_id: &str, count: usize) -> Vec<Value> {
    let answer: Value = http()
        .post(format!("{}/_fake/videos", stack_var("STACK_TIKTOK_URL")))
        .json(&json!({"open_id": open_id, "count": count}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["videos"].as_array().unwrap().clone()
}

async fn videos(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    query: &[(&str, &str)],
) -> Reply {
    let req = with_query(good_request("tiktok-videos", user, account), query);
    send("tiktok-videos", app, req).await
}

#[tokio::test]
async fn forty_five_videos_page_twenty_twenty_five_and_ids_find_theirs() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let made = videos_at_fake(&account.open_id, 45).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for expected in [20, 20, 5] {
        let mut query = vec![];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let r = videos(&app, &user, &account, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body["videos"].as_array().unwrap();
        assert_eq!(page.len(), expected);
        assert_eq!(r.body["has_more"], expected != 5, "{}", r.body["has_more"]);
        cursor = Some(r.body["cursor"].as_i64().unwrap().to_string());
        seen.extend(page.iter().map(|v| v["id"].as_str().unwrap().to_owned()));
    }
    let made_ids: Vec<String> = made
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, made_ids, "every video once, newest first");

    // Stats and timestamps as the fake holds them.
    let first = videos(&app, &user, &account, &[("max_count", "1")]).await;
    let video = &first.body["videos"][0];
    let held = &made[0];
    assert_eq!(video["like_count"], held["like_count"]);
    assert_eq!(video["view_count"], held["view_count"]);
    assert_eq!(video["description"], held["video_description"]);
    let created = shared::timestamp::parse(video["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        created.unix_timestamp(),
        held["create_time"].as_i64().unwrap()
    );

    // ids: exactly those videos, their cover URLs renewed.
    let ids = format!("{},{}", made_ids[3], made_ids[40]);
    let r = videos(&app, &user, &account, &[("ids", &ids)]).await;
    let got: Vec<&str> = r.body["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&made_ids[3].as_str()) && got.contains(&made_ids[40].as_str()));
    assert!(r.body.get("cursor").is_none() && r.body.get("has_more").is_none());
    let text = r.body.to_string();
    assert!(!text.contains(&account.access_token) && !text.contains(&account.refresh_token));
    assert!(fake.count(&account.open_id, "video_query").await >= 1);
}

#[tokio::test]
async fn without_video_access_it_says_so_without_calling_tiktok() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(BASIC_SCOPE).await;
    // Written with the scope TikTok granted: no video.list.
    given::connection(&user, &account).as_row(&db).await;
    let r = videos(&app, &user, &account, &[]).await;
    r.assert_error(409, "tiktok_scope_missing");
    assert_eq!(fake.count(&account.open_id, "video_list").await, 0);

    // The stored scope unknown: TikTok's scope_not_authorized says the same.
    let other = fake.account(BASIC_SCOPE).await;
    given::connection(&user, &other)
        .not_primary()
        .through_store_token(&app)
        .await;
    let r = videos(&app, &user, &other, &[("account_id", &other.open_id)]).await;
    r.assert_error(409, "tiktok_scope_missing");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_first_and_429_passes_retry_after() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    videos_at_fake(&account.open_id, 3).await;
    given::access_expired(id, 60);
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "refreshed first"
    );
    let row = db.connection(id).await;
    let stored = config()
        .cipher
        .decrypt(row["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_ne!(stored, account.refresh_token, "the rotated pair stored");

    let limited =
        json!({"error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "l"}});
    fake.script(
        &account.open_id,
        "video_list",
        json!([{"status": 429, "body": limited, "headers": {"Retry-After": "17"}}]),
    )
    .await;
    let r = videos(&app, &user, &account, &[]).await;
    r.assert_error(429, "tiktok_rate_limited");
    assert_eq!(r.headers["retry-after"], "17");
}

#[tokio::test]
async fn another_users_account_is_not_found() {
    let app = live_app();
    let given::Connected { account, .. } = given::connected_user(&app).await;
    let stranger = given::user().await;
    let r = videos(
        &app,
        &stranger,
        &account,
        &[("account_id", &account.open_id)],
    )
    .await;
    r.assert_error(404, "tiktok_not_connected");
    for bad in [
        ("max_count", "0"),
        ("max_count", "21"),
        ("cursor", "-1"),
        ("cursor", "soon"),
    ] {
        let r = videos(&app, &stranger, &account, &[bad]).await;
        r.assert_error(400, "invalid_request");
    }
}

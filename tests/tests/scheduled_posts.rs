//! Scheduled posts against the local stack: scheduling (tiktok-publish with
//! `scheduled_at`: recorded, TikTok not called), and the dispatcher
//! (publish-scheduled-posts) sending each due post's init at most once, whatever TikTok,
//! the database or a concurrent run does.
//! (Helpers: tests/src/scheduling.rs.)

use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};

/// Schedules a URL post an hour ahead: its id.
async fn schedule(app: &shared::LiveApp, user: &FirebaseUser, account: &TikTokAccount) -> String {
    schedule_in(app, user, account, 3600).await
}

#[tokio::test]
async fn a_scheduled_post_is_initiated_once_when_due() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let at = from_now(3600);
    let r = publish(&app, &user, &account, &scheduled_url(&account, &at), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "SCHEDULED");
    assert_eq!(r.body["publish_id"], Value::Null);
    assert_eq!(r.body["attempts"], 0);
    assert_eq!(r.body["next_attempt_at"], Value::Null);
    assert_eq!(r.body["scheduled_at"], at.as_str());
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        0,
        "TikTok is not called"
    );

    // Before its time: read as scheduled, nothing asked of TikTok, nothing dispatched.
    let before = post_status(&app, &user, &account, &id).await;
    assert_eq!(before["status"], "SCHEDULED");
    dispatcher_run(&app).await;
    assert_eq!(
        post_status(&app, &user, &account, &id).await["status"],
        "SCHEDULED"
    );
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
    assert_eq!(fake.count(&account.open_id, "status_fetch").await, 0);

    make_due(&id);
    settle(&app, &id).await;
    let after = post_status(&app, &user, &account, &id).await;
    assert!(
        after["publish_id"]
            .as_str()
            .unwrap()
            .starts_with("v_pub_url~"),
        "{after}"
    );
    assert_eq!(after["attempts"], 1);
    assert_ne!(after["status"], "SCHEDULED");
    assert_ne!(after["status"], "PUBLISHING");
    for _ in 0..3 {
        dispatcher_run(&app).await;
    }
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "one init"
    );
    let init = fake
        .calls(&account.open_id)
        .await
        .into_iter()
        .find(|c| c["endpoint"] == "video_init")
        .unwrap();
    assert_eq!(
        init["body"]["post_info"]["title"], "Thursday's post",
        "{init}"
    );
}

#[tokio::test]
async fn a_bad_schedule_is_refused_and_nothing_is_written() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let past = from_now(-120);
    let far = from_now(366 * 24 * 3600);
    for at in [
        past.as_str(),
        far.as_str(),
        "next thursday",
        "2026-13-01T09:00:00Z",
    ] {
        publish(&app, &user, &account, &scheduled_url(&account, at), None)
            .await
            .assert_error(400, "invalid_request");
    }
    // Nobody will be there to upload the chunks.
    let upload = json!({"account_id": account.open_id, "mode": "direct",
        "source": {"type": "upload", "video_size": 3_000_000},
        "post_info": {"privacy_level": "SELF_ONLY"}, "scheduled_at": from_now(3600)});
    publish(&app, &user, &account, &upload, None)
        .await
        .assert_error(400, "invalid_request");
    // A minute's clock skew is allowed.
    let r = publish(
        &app,
        &user,
        &account,
        &scheduled_url(&account, &from_now(-30)),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rows = psql(&format!(
        "select count(*) from tiktok_posts where open_id = '{}'",
        account.open_id
    ));
    assert_eq!(rows.trim(), "1", "only the good one is recorded");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
}

#[tokio::test]
async fn an_idempotency_key_schedules_once() {
    let app = live_app();
    let (user, account) = publisher(&app).await;
    let body = scheduled_url(&account, &from_now(3600));
    let key = unique("schedule");
    let first = publish(&app, &user, &account, &body, Some(&key)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = publish(&app, &user, &account, &body, Some(&key)).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["id"], first.body["id"]);
    let other = scheduled_url(&account, &from_now(7200));
    publish(&app, &user, &account, &other, Some(&key))
        .await
        .assert_error(409, "idempotency_key_reused");
    // The same key for an immediate post is another request too.
    let mut now = body.clone();
    now.as_object_mut().unwrap().remove("scheduled_at");
    publish(&app, &user, &account, &now, Some(&key))
        .await
        .assert_error(409, "idempotency_key_reused");
}

#[tokio::test]
async fn a_lost_init_is_unconfirmed_and_never_sent_again() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    // TikTok made the post, but its answer did not come back in time.
    let lost = json!([{"status": 200, "delay_ms": 7000,
        "body": {"data": {"publish_id": "v_pub_url~v2-1.1"}, "error": {"code": "ok", "message": "", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", lost).await;
    make_due(&id);
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "UNCONFIRMED", "{post}");
    assert_eq!(post["fail_reason"], "init_outcome_unknown");
    for _ in 0..10 {
        dispatcher_run(&app).await;
    }
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "no second init"
    );
    assert_eq!(
        post_status(&app, &user, &account, &id).await["status"],
        "UNCONFIRMED"
    );
}

#[tokio::test]
async fn tiktoks_rate_limit_puts_the_post_back_after_its_window() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    let limited = json!([{"status": 429, "headers": {"Retry-After": "30"},
        "body": {"error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", limited).await;
    make_due(&id);
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "SCHEDULED", "{post}");
    assert_eq!(post["attempts"], 1);
    assert_eq!(post["fail_reason"], "rate_limit_exceeded");
    let next = shared::timestamp::parse(post["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = (next - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((20..=31).contains(&wait), "next attempt in {wait} s");
    // Not due again yet: no second init.
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
    // Its window over, it goes out.
    psql(&format!(
        "update tiktok_posts set next_attempt_at = now() - interval '1 second' where id = '{id}'"
    ));
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["attempts"], 2);
    assert!(post["publish_id"].is_string(), "{post}");
    assert_eq!(post["fail_reason"], Value::Null);
    assert_eq!(fake.count(&account.open_id, "video_init").await, 2);
}

#[tokio::test]
async fn daily_caps_hold_the_post_for_an_hour_then_fail_it_after_24_attempts() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    let capped = |n: usize| {
        json!(vec![
            json!({"status": 403,
            "body": {"error": {"code": "spam_risk_too_many_posts", "message": "cap", "log_id": "x"}}});
            n
        ])
    };
    fake.script(&account.open_id, "video_init", capped(2)).await;
    make_due(&id);
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "SCHEDULED", "{post}");
    assert_eq!(post["fail_reason"], "spam_risk_too_many_posts");
    let next = shared::timestamp::parse(post["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = (next - time::OffsetDateTime::now_utc()).whole_minutes();
    assert!((58..=60).contains(&wait), "next attempt in {wait} min");
    // The 24th attempt refused the same way: TikTok's cap did not pass in a day.
    psql(&format!(
        "update tiktok_posts set attempts = 23, next_attempt_at = now() - interval '1 second' \
         where id = '{id}'"
    ));
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "FAILED", "{post}");
    assert_eq!(post["attempts"], 24);
    assert_eq!(post["fail_reason"], "spam_risk_too_many_posts");
}

#[tokio::test]
async fn a_refusal_fails_the_post_with_tiktoks_reason() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    let refused = json!([{"status": 403,
        "body": {"error": {"code": "privacy_level_option_mismatch", "message": "x", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", refused).await;
    make_due(&id);
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "FAILED", "{post}");
    assert_eq!(post["fail_reason"], "privacy_level_option_mismatch");
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
}

#[tokio::test]
async fn a_disconnected_accounts_post_fails_at_its_time_and_is_never_posted() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    let req = request("disconnect-tiktok/ok.json", &user, &account, &[]);
    let r = send("disconnect-tiktok", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Still scheduled until its time.
    let row = psql(&format!(
        "select status from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "SCHEDULED");
    make_due(&id);
    settle(&app, &id).await;
    let row = psql(&format!(
        "select status || ' ' || fail_reason from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "FAILED account_disconnected");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
}

#[tokio::test]
async fn two_dispatchers_at_once_send_one_init_per_post() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let mut ids = Vec::new();
    let mut accounts = Vec::new();
    for _ in 0..3 {
        let (user, account) = publisher(&app).await;
        // TikTok takes 6 inits a minute per account.
        for _ in 0..5 {
            ids.push(schedule(&app, &user, &account).await);
        }
        accounts.push(account);
    }
    for id in &ids {
        make_due(id);
    }
    let other = live_app();
    tokio::join!(dispatcher_run(&app), dispatcher_run(&other));
    for id in &ids {
        settle(&app, id).await;
    }
    for account in &accounts {
        assert_eq!(
            fake.count(&account.open_id, "video_init").await,
            5,
            "one init per post"
        );
    }
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows = psql(&format!(
        "select count(*) from tiktok_posts where id in ({list}) and publish_id is not null and attempts = 1"
    ));
    assert_eq!(rows.trim(), "15");
}

#[tokio::test]
async fn a_run_that_died_after_its_claim_leaves_the_post_unconfirmed_never_sent_twice() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    // A run claimed it (and may have sent the init) and died: its lease lapses.
    psql(&format!(
        "update tiktok_posts set status = 'PUBLISHING', attempts = 1, attempted_at = now(), \
         lease_until = now() - interval '1 second' where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "UNCONFIRMED", "{post}");
    assert_eq!(post["fail_reason"], "init_outcome_unknown");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
}

#[tokio::test]
async fn with_the_database_down_a_run_fails_and_loses_nothing() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    let down = app_with(&[("SUPABASE_REST_URL", &closed_port_url())]);
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    let failed = shared::dispatch::run(&down, until).await;
    assert!(failed.is_err(), "the run says it failed");
    let row = psql(&format!(
        "select status from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "SCHEDULED", "untouched");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
    make_due(&id);
    settle(&app, &id).await;
    assert!(post_status(&app, &user, &account, &id).await["publish_id"].is_string());
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
}

/// A post whose init's answer was lost: UNCONFIRMED, its id.
async fn lost_post(app: &shared::LiveApp, user: &FirebaseUser, account: &TikTokAccount) -> String {
    let fake = TikTokFake::new();
    let id = schedule(app, user, account).await;
    let lost = json!([{"status": 200, "delay_ms": 7000,
        "body": {"data": {"publish_id": "v_pub_url~v2-1.2"}, "error": {"code": "ok", "message": "", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", lost).await;
    make_due(&id);
    settle(app, &id).await;
    assert_eq!(
        post_status(app, user, account, &id).await["status"],
        "UNCONFIRMED"
    );
    id
}

#[tokio::test]
async fn an_unconfirmed_post_found_among_the_accounts_videos_is_complete() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = lost_post(&app, &user, &account).await;
    // TikTok made it: it is on the account, with the post's title, just after the attempt.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    fake.add_videos(
        &account.open_id,
        json!({"count": 1, "title": "Another video", "newest": now - 7200}),
    )
    .await;
    let made = fake
        .add_videos(
            &account.open_id,
            json!({"count": 1, "title": "Thursday's post", "newest": now}),
        )
        .await;
    let video_id = made[0]["id"].as_str().unwrap().to_owned();
    psql(&format!(
        "update tiktok_posts set reconcile_at = now() where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "PUBLISH_COMPLETE", "{post}");
    assert_eq!(post["public_post_ids"], json!([video_id]));
    assert_eq!(post["fail_reason"], Value::Null);
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "never sent again"
    );
}

#[tokio::test]
async fn an_unconfirmed_post_not_found_in_a_day_stays_unconfirmed_and_is_no_longer_looked_for() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = lost_post(&app, &user, &account).await;
    psql(&format!(
        "update tiktok_posts set attempted_at = now() - interval '25 hours', reconcile_at = null \
         where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "UNCONFIRMED", "{post}");
    assert_eq!(post["fail_reason"], "not_found_on_tiktok");
    let looks = fake.count(&account.open_id, "video_list").await;
    assert!(looks >= 1, "looked for");
    for _ in 0..3 {
        dispatcher_run(&app).await;
    }
    assert_eq!(
        fake.count(&account.open_id, "video_list").await,
        looks,
        "no more looks"
    );
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
}

#[tokio::test]
async fn a_post_no_one_asks_about_is_settled_by_the_dispatcher_for_a_day() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule(&app, &user, &account).await;
    make_due(&id);
    settle(&app, &id).await;
    let publish_id = psql(&format!(
        "select publish_id from tiktok_posts where id = '{id}'"
    ));
    let publish_id = publish_id.trim().to_owned();
    // No webhook, no read for a while: the dispatcher asks TikTok once.
    psql(&format!(
        "update tiktok_posts set settle_at = now() - interval '10 minutes' where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "status_fetch").await, 1);
    let at_tiktok = fake.publish_state(&publish_id).await["status"].clone();
    let stored = psql(&format!(
        "select status from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(stored.trim(), at_tiktok.as_str().unwrap(), "as TikTok says");
    // Asked again only after 5 minutes.
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "status_fetch").await, 1);
    // A day old and still on its way: left as last known, no more asking.
    psql(&format!(
        "update tiktok_posts set status = 'PROCESSING_DOWNLOAD', created_at = now() - interval '26 hours', \
         attempted_at = now() - interval '25 hours', settle_at = now() - interval '10 minutes' \
         where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "status_fetch").await, 1);
    let settled = psql(&format!(
        "select settle_at = 'infinity' from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(settled.trim(), "t");
}

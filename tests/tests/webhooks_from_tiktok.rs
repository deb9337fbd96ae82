//! TikTok's webhooks as TikTok sends them: the fake's sender signs each event with the
//! client secret and delivers it to the app's callback URL (here the tiktok-webhook
//! function in-process, behind a local port), retrying with the first signature until
//! the app answers 200. Nothing is signed by the test.

use std::time::Duration;

use integration_tests::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_removal_in_tiktok_arrives_and_a_retry_after_a_503_revokes_once() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { account, id, .. } = Box::pin(given::connected_user(&app)).await;
    // The first delivery meets a database outage (503); the retry, the working app.
    let down = app_with(&[("SUPABASE_REST_URL", &closed_port_url())]);
    let receiver = WebhookReceiver::start(vec![down, live_app()]).await;
    fake.send_webhooks_to(&account.open_id, &receiver.url).await;

    // The user removes the app in TikTok's settings.
    fake.deauthorize(&account.open_id).await;
    let deliveries = fake.webhook_deliveries(&account.open_id, WAIT).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["event"], "authorization.removed");
    assert_eq!(
        deliveries[0]["attempts"],
        json!([503, 200]),
        "{deliveries:?}"
    );
    assert_eq!(receiver.received(), 2);
    let row = db.connection(id).await;
    assert!(row["revoked_at"].is_string(), "{row}");
    assert_eq!(row["revoked_reason"], 1);
    assert!(row["refresh_token"].is_null(), "tokens cleared: {row}");
}

#[tokio::test]
async fn a_post_moves_on_by_tiktoks_webhooks_without_a_status_call() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    given::connection(&user, &account)
        .through_store_token(&app)
        .await;
    let receiver = WebhookReceiver::start(vec![live_app()]).await;
    fake.send_webhooks_to(&account.open_id, &receiver.url).await;

    let body = json!({"account_id": account.open_id, "mode": "direct",
                      "source": {"type": "upload", "video_size": 1_000_000},
                      "post_info": {"privacy_level": "PUBLIC_TO_EVERYONE"}});
    let req = with_json_body(
        request("tiktok-publish/ok.json", &user, &account, &[]),
        &body,
    );
    let posted = send("tiktok-publish", &app, req).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let upload = &posted.body["upload"];
    let put = http()
        .put(upload["upload_url"].as_str().unwrap())
        .header("content-type", "video/mp4")
        .header("content-range", "bytes 0-999999/1000000")
        .body(vec![0u8; 1_000_000])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);

    // TikTok published it and said so: complete, then publicly available with its id.
    let deliveries = fake.webhook_deliveries(&account.open_id, WAIT).await;
    let events: Vec<_> = deliveries.iter().map(|d| d["event"].clone()).collect();
    assert_eq!(
        events,
        [
            json!("post.publish.complete"),
            json!("post.publish.publicly_available")
        ],
        "{deliveries:?}"
    );
    let post_id = deliveries[1]["content"]["post_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = posted.body["id"].as_str().unwrap();
    let req = request(
        "tiktok-post-status/ok.json",
        &user,
        &account,
        &[("REPLACE_WITH_POST_ID", id)],
    );
    let status = send("tiktok-post-status", &app, req).await;
    assert_eq!(
        (&status.body["status"], &status.body["public_post_ids"]),
        (&json!("PUBLISH_COMPLETE"), &json!([post_id])),
        "{}",
        status.body
    );
    assert_eq!(
        fake.count(&account.open_id, "status_fetch").await,
        0,
        "settled by the webhooks alone"
    );
}

#[tokio::test]
async fn an_event_timed_in_milliseconds_is_recorded_in_seconds() {
    let fake = TikTokFake::new();
    let account = fake.account(BASIC_SCOPE).await;
    let receiver = WebhookReceiver::start(vec![live_app()]).await;
    fake.send_webhooks_to(&account.open_id, &receiver.url).await;
    let at = time::OffsetDateTime::now_utc().unix_timestamp();
    fake.send_webhook(
        &account.open_id,
        "tiktok.ping",
        json!({}),
        Some(at * 1000 + 123),
    )
    .await;
    let deliveries = fake.webhook_deliveries(&account.open_id, WAIT).await;
    assert_eq!(deliveries[0]["attempts"], json!([200]), "{deliveries:?}");
    let recorded = psql(&format!(
        "select create_time from tiktok_webhook_events where user_openid = '{}' and event = 'tiktok.ping'",
        account.open_id
    ));
    assert_eq!(recorded.trim(), at.to_string());
}

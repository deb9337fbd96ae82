//! Publishing against the local stack: creator info, direct posts and inbox uploads
//! (the test PUTs every chunk to the fake's upload URL, which checks each range against
//! the plan), URL and photo sources, TikTok's posting refusals, Idempotency-Key, and
//! statuses moved on by the status call and by webhooks.

use integration_tests::*;
use serde_json::{json, Value};

/// A user who connected a new TikTok account that granted the posting scopes, with
/// these posting settings at the fake.
async fn publisher(app: &shared::LiveApp, creator: Value) -> (FirebaseUser, TikTokAccount) {
    let user = given::user().await;
    let account = TikTokFake::new().account_with(ALL_SCOPES, creator).await;
    given::connection(&user, &account)
        .through_store_token(app)
        .await;
    (user, account)
}

/// A direct post of an upload of `video_size` bytes, privacy chosen.
fn direct_upload(account: &TikTokAccount, video_size: u64) -> Value {
    json!({"account_id": account.open_id, "mode": "direct",
           "source": {"type": "upload", "video_size": video_size},
           "post_info": {"title": "Weeknight pasta", "privacy_level": "PUBLIC_TO_EVERYONE"}})
}

// `publish` (tiktok-publish with a body and an Idempotency-Key): tests/src/scheduling.rs.

/// A direct post of a `video_size`-byte upload, without an Idempotency-Key.
async fn publish_direct(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    video_size: u64,
) -> Reply {
    publish(
        app,
        user,
        account,
        &direct_upload(account, video_size),
        None,
    )
    .await
}

async fn post_status(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    id: &str,
) -> Reply {
    let req = request(
        "tiktok-post-status/ok.json",
        user,
        account,
        &[("REPLACE_WITH_POST_ID", id)],
    );
    send("tiktok-post-status", app, req).await
}

/// PUTs every chunk of the answer's plan to its upload URL, as a browser would: the
/// fake's answers, in order.
async fn upload_every_chunk(upload: &Value) -> Vec<u16> {
    let url = upload["upload_url"].as_str().unwrap();
    let size = upload["video_size"].as_u64().unwrap();
    let chunk = upload["chunk_size"].as_u64().unwrap();
    let count = upload["total_chunk_count"].as_u64().unwrap();
    let mut statuses = Vec::new();
    for i in 0..count {
        let first = i * chunk;
        let last = if i + 1 == count {
            size - 1
        } else {
            first + chunk - 1
        };
        let bytes = vec![7u8; (last - first + 1) as usize];
        let answer = http()
            .put(url)
            .header("content-type", "video/mp4")
            .header("content-range", format!("bytes {first}-{last}/{size}"))
            .body(bytes)
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    statuses
}

fn posts_of(user: &FirebaseUser) -> String {
    psql(&format!(
        "select count(*) from tiktok_posts p join users u on u.id = p.user_id \
         where u.firebase_uid = '{}'",
        user.uid
    ))
}

#[tokio::test]
async fn creator_info_is_the_creators_and_needs_the_publish_scope() {
    let app = live_app();
    let (user, account) = publisher(
        &app,
        json!({"privacy_level_options": ["SELF_ONLY", "FOLLOWER_OF_CREATOR"],
               "duet_disabled": true, "max_video_post_duration_sec": 300}),
    )
    .await;
    let r = send_good("tiktok-creator-info", &app, &user, &account).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["privacy_level_options"],
        json!(["SELF_ONLY", "FOLLOWER_OF_CREATOR"])
    );
    assert_eq!(
        (&r.body["duet_disabled"], &r.body["comment_disabled"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(r.body["max_video_post_duration_sec"], 300);
    assert!(r.body["nickname"].is_string() && r.body["username"].is_string());

    // An account that did not grant video.publish: reconnect, granting it.
    let user = given::user().await;
    let viewer = TikTokFake::new().account(BASIC_SCOPE).await;
    given::connection(&user, &viewer)
        .through_store_token(&app)
        .await;
    let r = send_good("tiktok-creator-info", &app, &user, &viewer).await;
    r.assert_error(409, "tiktok_scope_missing");
    let r = publish_direct(&app, &user, &viewer, 3_000_000).await;
    r.assert_error(409, "tiktok_scope_missing");
    assert_eq!(posts_of(&user), "0");
}

#[tokio::test]
async fn a_52_mb_upload_goes_up_in_planned_chunks_and_completes() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let r = publish_direct(&app, &user, &account, 52_428_800).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "PROCESSING_UPLOAD");
    let upload = &r.body["upload"];
    assert_eq!(
        (
            &upload["video_size"],
            &upload["chunk_size"],
            &upload["total_chunk_count"]
        ),
        (&json!(52_428_800), &json!(10_000_000), &json!(5))
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    let publish_id = r.body["publish_id"].as_str().unwrap().to_owned();
    // The init TikTok got: interactions off unless turned on, the privacy chosen.
    let init = fake
        .calls(&account.open_id)
        .await
        .into_iter()
        .find(|c| c["endpoint"] == "video_init")
        .unwrap();
    let info = &init["body"]["post_info"];
    assert_eq!(info["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(
        (
            &info["disable_comment"],
            &info["disable_duet"],
            &info["disable_stitch"]
        ),
        (&json!(true), &json!(true), &json!(true))
    );

    // Not uploaded yet: still processing the upload.
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(
        status.body["status"], "PROCESSING_UPLOAD",
        "{}",
        status.body
    );

    assert_eq!(upload_every_chunk(upload).await, [206, 206, 206, 206, 201]);
    assert_eq!(
        fake.publish_state(&publish_id).await["status"],
        "PUBLISH_COMPLETE"
    );
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "PUBLISH_COMPLETE");
    assert_eq!(status.body["account_id"], account.open_id.as_str());
    assert_eq!(status.body["mode"], "direct");
    assert_eq!(status.body["public_post_ids"].as_array().unwrap().len(), 1);
    assert!(status.body["public_post_ids"][0].is_string());

    // Final: read from the database, no more status calls.
    let calls = fake.count(&account.open_id, "status_fetch").await;
    let again = post_status(&app, &user, &account, &id).await;
    assert_eq!(again.body["status"], "PUBLISH_COMPLETE");
    assert_eq!(fake.count(&account.open_id, "status_fetch").await, calls);
}

#[tokio::test]
async fn small_videos_are_one_chunk_and_large_ones_end_in_a_larger_last_chunk() {
    let app = live_app();
    let (user, account) = publisher(&app, json!({})).await;
    let small = publish_direct(&app, &user, &account, 3_000_000).await;
    assert_eq!(small.status, 201, "{}", small.body);
    assert_eq!(small.body["upload"]["total_chunk_count"], 1);
    assert_eq!(small.body["upload"]["chunk_size"], 3_000_000);
    assert_eq!(upload_every_chunk(&small.body["upload"]).await, [201]);

    let size = 209_715_200u64;
    let big = publish(&app, &user, &account, &direct_upload(&account, size), None).await;
    let upload = &big.body["upload"];
    assert_eq!(upload["total_chunk_count"], 20, "{}", big.body);
    let statuses = upload_every_chunk(upload).await;
    assert_eq!(statuses.len(), 20);
    assert_eq!(statuses.last(), Some(&201));
    assert!(statuses[..19].iter().all(|s| *s == 206));
    let id = big.body["id"].as_str().unwrap();
    let status = post_status(&app, &user, &account, id).await;
    assert_eq!(status.body["status"], "PUBLISH_COMPLETE", "{}", status.body);
}

#[tokio::test]
async fn inbox_url_and_photo_posts_and_unverified_urls() {
    let app = live_app();
    let (user, account) = publisher(&app, json!({})).await;
    let inbox = json!({"account_id": account.open_id, "mode": "inbox",
                       "source": {"type": "upload", "video_size": 6_000_000}});
    let r = publish(&app, &user, &account, &inbox, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(upload_every_chunk(&r.body["upload"]).await, [201]);
    let status = post_status(&app, &user, &account, r.body["id"].as_str().unwrap()).await;
    assert_eq!(
        status.body["status"], "SEND_TO_USER_INBOX",
        "{}",
        status.body
    );
    assert_eq!(status.body["mode"], "inbox");

    let url = json!({"account_id": account.open_id, "mode": "direct",
                     "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}pasta.mp4")},
                     "post_info": {"privacy_level": "SELF_ONLY"}});
    let r = publish(&app, &user, &account, &url, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "PROCESSING_DOWNLOAD");
    assert!(r.body.get("upload").is_none());
    let status = post_status(&app, &user, &account, r.body["id"].as_str().unwrap()).await;
    assert_eq!(status.body["status"], "PUBLISH_COMPLETE", "{}", status.body);

    let photos = json!({"account_id": account.open_id, "mode": "direct",
                        "source": {"type": "photos", "photo_cover_index": 1, "photo_urls": [
                            format!("{VERIFIED_PREFIX}1.jpg"), format!("{VERIFIED_PREFIX}2.jpg")]},
                        "post_info": {"title": "Pasta, step by step", "privacy_level": "SELF_ONLY"}});
    let r = publish(&app, &user, &account, &photos, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "PROCESSING_DOWNLOAD");

    let before = posts_of(&user);
    let mut unverified = url.clone();
    unverified["source"]["video_url"] = json!("https://elsewhere.example.org/pasta.mp4");
    let r = publish(&app, &user, &account, &unverified, None).await;
    r.assert_error(400, "video_url_not_verified");
    assert_eq!(
        posts_of(&user),
        before,
        "nothing recorded for a refused init"
    );
}

#[tokio::test]
async fn bad_requests_never_reach_tiktok() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let upload = direct_upload(&account, 3_000_000);
    let mut no_privacy = upload.clone();
    no_privacy["post_info"] = json!({"title": "No privacy chosen"});
    let mut unknown_privacy = upload.clone();
    unknown_privacy["post_info"]["privacy_level"] = json!("EVERYONE");
    let mut inbox_info = upload.clone();
    inbox_info["mode"] = json!("inbox");
    let mut too_big = upload.clone();
    too_big["source"]["video_size"] = json!(5_000_000_000u64);
    let mut empty = upload.clone();
    empty["source"]["video_size"] = json!(0);
    let mut long_title = upload.clone();
    long_title["post_info"]["title"] = json!("x".repeat(2201));
    let mut http_url = upload.clone();
    http_url["source"] =
        json!({"type": "url", "video_url": "http://media.example.com/verified/a.mp4"});
    let mut branded_private = upload.clone();
    branded_private["post_info"] =
        json!({"privacy_level": "SELF_ONLY", "brand_content_toggle": true});
    let mut no_photos = upload.clone();
    no_photos["source"] = json!({"type": "photos", "photo_urls": []});
    let mut bad_mode = upload.clone();
    bad_mode["mode"] = json!("draft");
    for body in [
        no_privacy,
        unknown_privacy,
        inbox_info,
        too_big,
        empty,
        long_title,
        http_url,
        branded_private,
        no_photos,
        bad_mode,
    ] {
        let r = publish(&app, &user, &account, &body, None).await;
        r.assert_error(400, "invalid_request");
    }
    let r = publish(&app, &user, &account, &upload, Some(&"k".repeat(256))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let inits = fake.calls(&account.open_id).await;
    assert!(
        !inits
            .iter()
            .any(|c| c["endpoint"].as_str().unwrap().ends_with("_init")),
        "no TikTok call"
    );
    assert_eq!(posts_of(&user), "0");
}

#[tokio::test]
async fn tiktoks_posting_refusals_are_contract_errors_and_record_nothing() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(
        &app,
        json!({"privacy_level_options": ["SELF_ONLY"], "max_posts_per_day": 1}),
    )
    .await;
    let r = publish_direct(&app, &user, &account, 3_000_000).await;
    r.assert_error(400, "invalid_privacy_level");
    let mut private = direct_upload(&account, 3_000_000);
    private["post_info"]["privacy_level"] = json!("SELF_ONLY");
    assert_eq!(
        publish(&app, &user, &account, &private, None).await.status,
        201
    );
    let r = publish(&app, &user, &account, &private, None).await;
    r.assert_error(429, "tiktok_post_limit");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("spam_risk_too_many_posts"));
    assert_eq!(posts_of(&user), "1");

    // Scripted refusals, each once.
    let (user, account) = publisher(&app, json!({})).await;
    let refusal = |status: u16, code: &str| json!([{"status": status, "body": {"data": {}, "error": {"code": code, "message": code, "log_id": "x"}}}]);
    let cases = [
        (403, "reached_active_user_cap", 429, "tiktok_post_limit"),
        (
            403,
            "spam_risk_too_many_pending_share",
            429,
            "tiktok_post_limit",
        ),
        (
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            409,
            "tiktok_app_unaudited",
        ),
        (
            403,
            "spam_risk_user_banned_from_posting",
            403,
            "tiktok_posting_blocked",
        ),
        (429, "rate_limit_exceeded", 429, "tiktok_rate_limited"),
    ];
    for (status, tiktok_code, expected, code) in cases {
        // What TikTok says of the app (its user cap, its audit) the ledger keeps for the
        // app: each case is an app of its own, as are the other tests'.
        let app = app_of_its_own();
        fake.script(&account.open_id, "video_init", refusal(status, tiktok_code))
            .await;
        let r = publish(&app, &user, &account, &private_of(&account), None).await;
        r.assert_error(expected, code);
        if code == "tiktok_rate_limited" {
            assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
        }
    }
    assert_eq!(posts_of(&user), "0");

    // The fake's own rules for an unaudited app: the account must be private.
    let app = app_of_its_own();
    let (user, account) = publisher(&app, json!({"app_unaudited": true})).await;
    let r = publish(&app, &user, &account, &private_of(&account), None).await;
    r.assert_error(409, "tiktok_app_unaudited");
    fake.set_creator(&account.open_id, json!({"private_account": true}))
        .await;
    let r = publish(&app, &user, &account, &private_of(&account), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// The app with a client key of its own in the capacity ledger.
fn app_of_its_own() -> shared::LiveApp {
    let mut app = live_app();
    app.authorization.client_key = unique("app");
    app
}

fn private_of(account: &TikTokAccount) -> Value {
    let mut body = direct_upload(account, 3_000_000);
    body["post_info"]["privacy_level"] = json!("SELF_ONLY");
    body
}

#[tokio::test]
async fn an_idempotency_key_initialises_once() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let body = direct_upload(&account, 52_428_800);
    let key = unique("post-once");
    let first = publish(&app, &user, &account, &body, Some(&key)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = publish(&app, &user, &account, &body, Some(&key)).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(
        second.body, first.body,
        "the same answer, upload URL and all"
    );
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
    assert_eq!(posts_of(&user), "1");

    let mut other = body.clone();
    other["post_info"]["title"] = json!("Another video");
    let r = publish(&app, &user, &account, &other, Some(&key)).await;
    r.assert_error(409, "idempotency_key_reused");

    // Another user's same key is theirs alone; a refused init leaves the key free.
    let (user2, account2) = publisher(&app, json!({"privacy_level_options": ["SELF_ONLY"]})).await;
    let theirs = direct_upload(&account2, 52_428_800);
    let r = publish(&app, &user2, &account2, &theirs, Some(&key)).await;
    r.assert_error(400, "invalid_privacy_level");
    fake.set_creator(
        &account2.open_id,
        json!({"privacy_level_options": ["PUBLIC_TO_EVERYONE"]}),
    )
    .await;
    let r = publish(&app, &user2, &account2, &theirs, Some(&key)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_ne!(r.body["id"], first.body["id"]);

    // Concurrent retries: one init between them.
    let (user3, account3) = publisher(&app, json!({})).await;
    let body3 = direct_upload(&account3, 3_000_000);
    let key3 = unique("race");
    let answers = join_all(
        (0..4)
            .map(|_| publish(&app, &user3, &account3, &body3, Some(&key3)))
            .collect(),
    )
    .await;
    for r in &answers {
        assert!(
            r.status == 201 || (r.status == 409 && r.body["code"] == "idempotency_key_in_progress"),
            "{}",
            r.body
        );
    }
    assert_eq!(fake.count(&account3.open_id, "video_init").await, 1);
}

/// TikTok delivers a signed `post.publish.*` event about this account's publish.
async fn deliver(app: &shared::LiveApp, event: &str, open_id: &str, content: Value) -> Reply {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    deliver_at(app, event, open_id, content, now).await
}

/// As [`deliver`], for an event that happened at `at` (TikTok retries for 72 hours).
async fn deliver_at(
    app: &shared::LiveApp,
    event: &str,
    open_id: &str,
    content: Value,
    at: i64,
) -> Reply {
    let body = json!({"client_key": stack_var("TIKTOK_CLIENT_KEY"), "event": event,
                      "create_time": at, "user_openid": open_id,
                      "content": content.to_string()})
    .to_string();
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    send(
        "tiktok-webhook",
        app,
        webhook_delivery(&body, &secret, Some(now)),
    )
    .await
}

#[tokio::test]
async fn webhooks_move_posts_on_and_posts_are_their_owners_alone() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let r = publish_direct(&app, &user, &account, 3_000_000).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let publish_id = r.body["publish_id"].as_str().unwrap().to_owned();

    let r = deliver(
        &app,
        "post.publish.complete",
        &account.open_id,
        json!({"publish_id": publish_id}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    deliver(
        &app,
        "post.publish.publicly_available",
        &account.open_id,
        json!({"publish_id": publish_id, "post_id": "7300000000000000123"}),
    )
    .await;
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(status.body["status"], "PUBLISH_COMPLETE", "{}", status.body);
    assert_eq!(
        status.body["public_post_ids"],
        json!(["7300000000000000123"])
    );
    assert_eq!(
        fake.count(&account.open_id, "status_fetch").await,
        0,
        "no status call"
    );

    // A late failure does not undo a final status; an unknown publish_id changes nothing.
    deliver(
        &app,
        "post.publish.failed",
        &account.open_id,
        json!({"publish_id": publish_id, "reason": "file_format_check_failed"}),
    )
    .await;
    let r = deliver(
        &app,
        "post.publish.failed",
        &account.open_id,
        json!({"publish_id": "v_pub_unknown", "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        post_status(&app, &user, &account, &id).await.body["status"],
        "PUBLISH_COMPLETE"
    );

    // A failure reported by TikTok's status call, on another post.
    let r = publish_direct(&app, &user, &account, 3_000_000).await;
    let failed_id = r.body["id"].as_str().unwrap().to_owned();
    fake.set_publish(
        r.body["publish_id"].as_str().unwrap(),
        json!({"status": "FAILED", "fail_reason": "video_pull_failed"}),
    )
    .await;
    let status = post_status(&app, &user, &account, &failed_id).await;
    assert_eq!(
        (&status.body["status"], &status.body["fail_reason"]),
        (&json!("FAILED"), &json!("video_pull_failed"))
    );

    // Another user (with their own TikTok account) cannot read it; unknown ids are 404.
    let (other, other_account) = publisher(&app, json!({})).await;
    post_status(&app, &other, &other_account, &id)
        .await
        .assert_error(404, "post_not_found");
    post_status(
        &app,
        &other,
        &other_account,
        "00000000-0000-4000-8000-000000000001",
    )
    .await
    .assert_error(404, "post_not_found");
    post_status(&app, &other, &other_account, "x'--")
        .await
        .assert_error(404, "post_not_found");
}

/// TikTok's init answer with this publish_id (scripted at the fake).
fn init_answer(publish_id: &str) -> Value {
    json!([{"status": 200, "body": {"data": {"publish_id": publish_id},
                                    "error": {"code": "ok", "message": "", "log_id": "x"}}}])
}

#[tokio::test]
async fn posts_stay_true_through_races_and_outages() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let url = json!({"account_id": account.open_id, "mode": "direct",
                     "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}a.mp4")},
                     "post_info": {"privacy_level": "SELF_ONLY"}});

    // A failure delivered before the post is recorded still reaches it.
    let early = unique("v_pub_early");
    let failed = json!({"publish_id": early, "reason": "video_pull_failed"});
    deliver(&app, "post.publish.failed", &account.open_id, failed).await;
    fake.script(&account.open_id, "video_init", init_answer(&early))
        .await;
    let r = publish(&app, &user, &account, &url, None).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (201, &json!("FAILED")),
        "{}",
        r.body
    );

    // Public ids follow TikTok's event times, not the order of delivery.
    let public_id = unique("v_pub_public");
    fake.script(&account.open_id, "video_init", init_answer(&public_id))
        .await;
    let r = publish(&app, &user, &account, &url, None).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let post = json!({"publish_id": public_id, "post_id": "7300000000000000999"});
    let (shown, hidden) = (
        "post.publish.publicly_available",
        "post.publish.no_longer_publicaly_available",
    );
    deliver_at(&app, shown, &account.open_id, post.clone(), now - 20).await;
    deliver_at(&app, hidden, &account.open_id, post.clone(), now - 10).await;
    // The first delivery, retried late, changes nothing.
    let mut retried = post.clone();
    retried["retry"] = json!(1);
    deliver_at(&app, shown, &account.open_id, retried, now - 20).await;
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(status.body["public_post_ids"], json!([]), "{}", status.body);

    // TikTok busy or down when asked for a status: the post as last known, not an error.
    let r = publish_direct(&app, &user, &account, 3_000_000).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let limited = json!([{"status": 429, "headers": {"Retry-After": "30"},
        "body": {"data": {}, "error": {"code": "rate_limit_exceeded", "message": "x", "log_id": "x"}}}]);
    fake.script(&account.open_id, "status_fetch", limited).await;
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(
        (status.status, &status.body["status"]),
        (200, &json!("PROCESSING_UPLOAD")),
        "{}",
        status.body
    );

    // invalid_params is about the post: 400, nothing recorded.
    let before = posts_of(&user);
    let invalid = json!([{"status": 400,
        "body": {"data": {}, "error": {"code": "invalid_params", "message": "x", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", invalid).await;
    let r = publish(&app, &user, &account, &url, None).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(posts_of(&user), before);

    // TikTok's answer lost (5xx): it may have made the post, so no retry with the key
    // posts (409 idempotency_outcome_unknown), not even after the first minute.
    let key = unique("lost");
    let down = json!([{"status": 500,
        "body": {"data": {}, "error": {"code": "internal_error", "message": "x", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", down).await;
    let r = publish(&app, &user, &account, &url, Some(&key)).await;
    r.assert_error(502, "tiktok_unavailable");
    let r = publish(&app, &user, &account, &url, Some(&key)).await;
    r.assert_error(409, "idempotency_outcome_unknown");
    let inits = fake.count(&account.open_id, "video_init").await;
    psql(&format!(
        "update tiktok_posts set created_at = now() - interval '61 seconds' \
         where idempotency_key = '{key}'"
    ));
    let r = publish(&app, &user, &account, &url, Some(&key)).await;
    r.assert_error(409, "idempotency_outcome_unknown");
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        inits,
        "no second init"
    );
}

#[tokio::test]
async fn a_lost_init_is_answered_by_the_post_tiktok_tells_of_later() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let url = json!({"account_id": account.open_id, "mode": "direct",
                     "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}a.mp4")},
                     "post_info": {"privacy_level": "SELF_ONLY"}});
    // The init reached TikTok, which made the post, but its answer was lost.
    let key = unique("told-later");
    let lost = json!([{"status": 200, "delay_ms": 7000,
        "body": {"data": {"publish_id": "v_pub_url~v2-1.1"}, "error": {"code": "ok", "message": "", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", lost).await;
    let r = publish(&app, &user, &account, &url, Some(&key)).await;
    r.assert_error(502, "tiktok_unavailable");
    publish(&app, &user, &account, &url, Some(&key))
        .await
        .assert_error(409, "idempotency_outcome_unknown");
    // TikTok tells of the post: once the event is two minutes old (a post made without
    // a key has recorded itself by then), the key answers it.
    let publish_id = format!(
        "v_pub_url~v2-1.{}",
        7_600_000_000_000_000_000u64 + u64::from(std::process::id())
    );
    deliver(
        &app,
        "post.publish.complete",
        &account.open_id,
        json!({"publish_id": publish_id, "publish_type": "DIRECT_PUBLISH"}),
    )
    .await;
    // A late event of an older post (publicly available hours after it was made) is no
    // sign of this key's post.
    let older = format!(
        "v_pub_url~v2-1.{}",
        7_600_000_000_000_000_000u64 + u64::from(std::process::id()) + 1
    );
    deliver(
        &app,
        "post.publish.publicly_available",
        &account.open_id,
        json!({"publish_id": older, "publish_type": "DIRECT_PUBLISH", "post_id": "7600000000000000001"}),
    )
    .await;
    publish(&app, &user, &account, &url, Some(&key))
        .await
        .assert_error(409, "idempotency_outcome_unknown");
    psql(&format!(
        "update tiktok_posts set created_at = created_at - interval '4 minutes' \
         where idempotency_key = '{key}'; \
         update tiktok_webhook_events set received_at = received_at - interval '3 minutes' \
         where content ->> 'publish_id' in ('{publish_id}', '{older}')"
    ));
    let r = publish(&app, &user, &account, &url, Some(&key)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["idempotent-replayed"], "true");
    assert_eq!(r.body["publish_id"], publish_id.as_str());
    assert_eq!(r.body["status"], "PUBLISH_COMPLETE");
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "one init"
    );
}

#[tokio::test]
async fn another_users_account_is_never_posted_with() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (_, account) = publisher(&app, json!({})).await;
    let (other, _) = publisher(&app, json!({})).await;
    let theirs = direct_upload(&account, 3_000_000);
    publish(&app, &other, &account, &theirs, None)
        .await
        .assert_error(404, "tiktok_not_connected");
    let req = request("tiktok-creator-info/account-id.json", &other, &account, &[]);
    send("tiktok-creator-info", &app, req)
        .await
        .assert_error(404, "tiktok_not_connected");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
    assert_eq!(fake.count(&account.open_id, "creator_info").await, 0);
}

/// The post's status answer after one status fetch that TikTok answers with the
/// recorded shape `fixture`.
async fn status_answered_with(fixture: &str) -> Reply {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let r = publish_direct(&app, &user, &account, 3_000_000).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    fake.script(
        &account.open_id,
        "status_fetch",
        json!([{ "fixture": fixture }]),
    )
    .await;
    let status = post_status(&app, &user, &account, &id).await;
    assert_eq!(
        fake.count(&account.open_id, "status_fetch").await,
        1,
        "{fixture}"
    );
    status
}

#[tokio::test]
async fn post_ids_are_exact_text_in_every_shape_tiktok_sends_them() {
    for fixture in [
        "status-complete-numbers",
        "status-complete-strings",
        "status-complete-single",
        "status-complete-correct-spelling",
    ] {
        let status = Box::pin(status_answered_with(fixture)).await;
        assert_eq!(
            (status.status, &status.body["status"]),
            (200, &json!("PUBLISH_COMPLETE")),
            "{fixture}: {}",
            status.body
        );
        // Above 2^53: through a float it would end ...123000.
        assert_eq!(
            status.body["public_post_ids"],
            json!(["7602997517160123666"]),
            "{fixture}"
        );
    }
    // A private post's ids as null, and an upload's status with only the keys that apply.
    let status = Box::pin(status_answered_with("status-complete-null")).await;
    assert_eq!(
        (&status.body["status"], &status.body["public_post_ids"]),
        (&json!("PUBLISH_COMPLETE"), &json!([])),
        "{}",
        status.body
    );
    let status = Box::pin(status_answered_with("status-processing-upload")).await;
    assert_eq!(
        (&status.body["status"], &status.body["uploaded_bytes"]),
        (&json!("PROCESSING_UPLOAD"), &json!(0)),
        "{}",
        status.body
    );
}

#[tokio::test]
async fn publish_ids_tiktok_refuses_are_answered_as_last_known_and_old_posts_are_not_asked() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let url = json!({"account_id": account.open_id, "mode": "direct",
                     "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}a.mp4")},
                     "post_info": {"privacy_level": "SELF_ONLY"}});
    // A publish id TikTok does not know (400 invalid_publish_id, as the fake answers
    // one it never made), and another token's (400
    // token_not_authorized_for_specified_publish_id, the recorded shape).
    let unknown = format!(
        "v_pub_url~v2-1.{}",
        7_600_000_000_000_000_000u64 + u64::from(std::process::id()) * 1000 + 1
    );
    for (publish_id, refusal) in [
        (unknown, None),
        (
            unique("v_pub_url~v2-1.other"),
            Some("status-token-not-authorized"),
        ),
    ] {
        fake.script(&account.open_id, "video_init", init_answer(&publish_id))
            .await;
        let r = publish(&app, &user, &account, &url, None).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        if let Some(fixture) = refusal {
            fake.script(
                &account.open_id,
                "status_fetch",
                json!([{ "fixture": fixture }]),
            )
            .await;
        }
        let refusal = refusal.unwrap_or("invalid_publish_id");
        let status = post_status(&app, &user, &account, &id).await;
        assert_eq!(
            (status.status, &status.body["status"]),
            (200, &json!("PROCESSING_DOWNLOAD")),
            "{refusal}: as last known, not 502: {}",
            status.body
        );
        assert!(
            fake.count(&account.open_id, "status_fetch").await >= 1,
            "{refusal}: asked"
        );
        // A day later nothing is asked any more.
        psql(&format!(
            "update tiktok_posts set created_at = now() - interval '25 hours' where id = '{id}'"
        ));
        let calls = fake.count(&account.open_id, "status_fetch").await;
        let status = post_status(&app, &user, &account, &id).await;
        assert_eq!(status.status, 200, "{}", status.body);
        assert_eq!(fake.count(&account.open_id, "status_fetch").await, calls);
    }
}

#[tokio::test]
async fn publish_ids_and_upload_urls_have_tiktoks_formats() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let direct = publish_direct(&app, &user, &account, 3_000_000).await;
    let publish_id = direct.body["publish_id"].as_str().unwrap();
    assert!(publish_id.starts_with("v_pub_file~v2-1."), "{publish_id}");
    // The upload URL is on another host than the API: used as TikTok gives it.
    let upload_url =
        reqwest::Url::parse(direct.body["upload"]["upload_url"].as_str().unwrap()).unwrap();
    let api = reqwest::Url::parse(&stack_var("STACK_TIKTOK_URL")).unwrap();
    assert_ne!(
        (upload_url.host_str(), upload_url.port()),
        (api.host_str(), api.port())
    );
    assert_eq!(upload_every_chunk(&direct.body["upload"]).await, [201]);
    let id = direct.body["id"].as_str().unwrap();
    let status = post_status(&app, &user, &account, id).await;
    assert_eq!(status.body["status"], "PUBLISH_COMPLETE", "{}", status.body);
    // The public post id TikTok sends as an int64 number, as its exact digits.
    let state = fake.publish_state(publish_id).await;
    let number = state["post_ids"][0].as_u64().expect("a number");
    assert!(number > 1 << 53);
    assert_eq!(status.body["public_post_ids"], json!([number.to_string()]));

    let inbox = json!({"account_id": account.open_id, "mode": "inbox",
                       "source": {"type": "upload", "video_size": 1_000_000}});
    let r = publish(&app, &user, &account, &inbox, None).await;
    let inbox_id = r.body["publish_id"].as_str().unwrap();
    assert!(inbox_id.starts_with("v_inbox_file~v2."), "{inbox_id}");
    let photos = json!({"account_id": account.open_id, "mode": "direct",
                        "source": {"type": "photos", "photo_cover_index": 0,
                                   "photo_urls": [format!("{VERIFIED_PREFIX}1.jpg")]},
                        "post_info": {"privacy_level": "SELF_ONLY"}});
    let r = publish(&app, &user, &account, &photos, None).await;
    let photo_id = r.body["publish_id"].as_str().unwrap();
    assert!(photo_id.starts_with("p_pub_url~v2."), "{photo_id}");
    // The `~` survives the route and the JSON: the status is read by it.
    let status = post_status(&app, &user, &account, r.body["id"].as_str().unwrap()).await;
    assert_eq!(status.body["publish_id"], photo_id);
}

#[tokio::test]
async fn privacy_options_are_tiktoks_and_a_mismatch_is_refused() {
    let app = live_app();
    // A public account is offered no FOLLOWER_OF_CREATOR; a private one no PUBLIC_TO_EVERYONE.
    for (private, options) in [
        (
            false,
            json!(["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]),
        ),
        (
            true,
            json!(["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]),
        ),
    ] {
        let (user, account) = publisher(&app, json!({"private_account": private})).await;
        let req = request("tiktok-creator-info/account-id.json", &user, &account, &[]);
        let r = send("tiktok-creator-info", &app, req).await;
        assert_eq!(r.body["privacy_level_options"], options, "{}", r.body);
        let wrong = if private {
            "PUBLIC_TO_EVERYONE"
        } else {
            "FOLLOWER_OF_CREATOR"
        };
        let mut body = direct_upload(&account, 3_000_000);
        body["post_info"]["privacy_level"] = json!(wrong);
        // Refused before TikTok (the options are read first) or by TikTok's 403: the
        // same contract error, nothing recorded.
        let before = posts_of(&user);
        publish(&app, &user, &account, &body, None)
            .await
            .assert_error(400, "invalid_privacy_level");
        assert_eq!(posts_of(&user), before);
    }
    // TikTok's own refusal, 403 as recorded.
    let (user, account) = publisher(&app, json!({})).await;
    TikTokFake::new()
        .script(
            &account.open_id,
            "video_init",
            json!([{"fixture": "init-privacy-level-mismatch"}]),
        )
        .await;
    publish(
        &app,
        &user,
        &account,
        &direct_upload(&account, 3_000_000),
        None,
    )
    .await
    .assert_error(400, "invalid_privacy_level");
}

#[tokio::test]
async fn a_key_stays_free_when_tiktok_refused_or_was_never_asked() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app, json!({})).await;
    let body = direct_upload(&account, 3_000_000);
    // TikTok refuses with a code this client does not know: it made no post.
    let key = unique("refused");
    let refused = json!([{"status": 400,
        "body": {"error": {"code": "a_new_refusal", "message": "x", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", refused).await;
    publish(&app, &user, &account, &body, Some(&key))
        .await
        .assert_error(502, "tiktok_unavailable");
    let r = publish(&app, &user, &account, &body, Some(&key)).await;
    assert_eq!(r.status, 201, "the key is free: {}", r.body);

    // The access token expired and the refresh meets TikTok down: no init was sent.
    let key = unique("never-asked");
    fake.expire_access(&account.open_id).await;
    let down = json!([{"status": 503, "body": {"error": "server_error"}}]);
    fake.script(&account.open_id, "token", down).await;
    let other = direct_upload(&account, 4_000_000);
    publish(&app, &user, &account, &other, Some(&key))
        .await
        .assert_error(502, "tiktok_unavailable");
    let r = publish(&app, &user, &account, &other, Some(&key)).await;
    assert_eq!(r.status, 201, "the key is free: {}", r.body);

    // TikTok unreachable: the init never left.
    let key = unique("unreachable");
    let down = app_with(&[("TIKTOK_API_BASE_URL", &closed_port_url())]);
    let third = direct_upload(&account, 5_000_000);
    publish(&down, &user, &account, &third, Some(&key))
        .await
        .assert_error(502, "tiktok_unavailable");
    let r = publish(&app, &user, &account, &third, Some(&key)).await;
    assert_eq!(r.status, 201, "the key is free: {}", r.body);
}

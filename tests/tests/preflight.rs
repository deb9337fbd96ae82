//! Pre-flight against the real stack: a video's facts read from its header in S3
//! (moto) with ranged reads, each of TikTok's video rules refused with its code before
//! anything is stored or sent, dry runs that write nothing, and the capacity ledger
//! against the fake's own refusals: the 7th init of a minute and the 6th pending inbox
//! share are not sent, the observed daily cap holds the next day's extra posts, and held
//! posts go out in their order when the slot frees (or fail after 24 hours held).

use integration_tests::*;
use serde_json::{json, Value};
use shared::media::fixtures::{self, Video};

/// The dispatcher takes every due post: the tests that run it run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A user with a new TikTok account of these creator settings at the fake.
async fn creator(app: &shared::LiveApp, settings: Value) -> (FirebaseUser, TikTokAccount) {
    let user = given::user().await;
    let account = TikTokFake::new().account_with(ALL_SCOPES, settings).await;
    given::connection(&user, &account)
        .through_store_token(app)
        .await;
    (user, account)
}

/// Uploads `bytes` as the user's media and asks after it: (its id, the media answer).
async fn uploaded(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    bytes: Vec<u8>,
) -> (String, Value) {
    let made = create_media(
        app,
        user,
        account,
        json!({"content_type": "video/mp4", "size": bytes.len()}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(put_file(&made.body["upload"], bytes).await, 200);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let ready = media_status(app, user, account, &id).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    (id, ready.body)
}

fn media_post(account: &TikTokAccount, media_id: &str) -> Value {
    json!({"account_id": account.open_id, "mode": "direct",
           "source": {"type": "media", "media_id": media_id},
           "post_info": {"title": "Checked first", "privacy_level": "SELF_ONLY"},
           "scheduled_at": from_now(3600)})
}

fn url_post(account: &TikTokAccount, title: &str, privacy: &str) -> Value {
    json!({"account_id": account.open_id, "mode": "direct",
           "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}{title}.mp4")},
           "post_info": {"title": title, "privacy_level": privacy}})
}

fn inbox_post(account: &TikTokAccount, name: &str) -> Value {
    json!({"account_id": account.open_id, "mode": "inbox",
           "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}{name}.mp4")}})
}

fn count(sql: &str) -> i64 {
    psql(sql).trim().parse().expect("a count")
}

fn posts_of(account: &TikTokAccount) -> i64 {
    count(&format!(
        "select count(*) from tiktok_posts where open_id = '{}'",
        account.open_id
    ))
}

fn connection_of(account: &TikTokAccount) -> i64 {
    count(&format!(
        "select id from social_connections where provider_account_id = '{}'",
        account.open_id
    ))
}

/// Inits the fake received for the account (direct, inbox and photos).
async fn inits(fake: &TikTokFake, account: &TikTokAccount) -> usize {
    fake.calls(&account.open_id)
        .await
        .iter()
        .filter(|c| {
            matches!(
                c["endpoint"].as_str(),
                Some("video_init" | "inbox_init" | "content_init")
            )
        })
        .count()
}

#[tokio::test]
async fn each_video_rule_refuses_its_file_before_anything_is_stored_or_sent() {
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({"max_video_post_duration_sec": 10})).await;
    let webm = fixtures::webm(
        &Video {
            fps: 25,
            ..Video::default()
        },
        "V_VP9",
    );
    let refused = [
        (
            fixtures::mp4(&Video {
                fps: 15,
                ..Video::default()
            }),
            "video_frame_rate",
        ),
        (
            fixtures::mp4(&Video {
                seconds: 2,
                ..Video::default()
            }),
            "video_too_short",
        ),
        (
            fixtures::mp4(&Video {
                seconds: 12,
                ..Video::default()
            }),
            "video_too_long",
        ),
        (
            fixtures::mp4(&Video {
                width: 4100,
                ..Video::default()
            }),
            "video_resolution",
        ),
        (
            fixtures::mp4(&Video {
                codec: *b"mp4v",
                ..Video::default()
            }),
            "video_format",
        ),
        (
            b"not a video, only text that says so\n".repeat(200),
            "media_unreadable",
        ),
    ];
    for (bytes, code) in refused {
        let (id, media) = uploaded(&app, &user, &account, bytes).await;
        if code == "media_unreadable" {
            assert!(media["facts"].is_null(), "{media}");
            assert!(media["facts_error"].is_string(), "{media}");
        } else {
            assert!(media["facts"].is_object(), "{media}");
        }
        let r = publish(&app, &user, &account, &media_post(&account, &id), None).await;
        assert_eq!(r.status, 400, "{code}: {}", r.body);
        assert_eq!(r.body["code"], code, "{}", r.body);
        assert!(r.body["detail"].as_str().unwrap().len() > 10, "{}", r.body);
    }
    assert_eq!(posts_of(&account), 0, "nothing stored for a refused post");
    assert_eq!(inits(&fake, &account).await, 0, "nothing sent");

    // Within every rule: MP4 with its header first, MP4 with it after 3 heads of media
    // data (read from the tail), a MOV in HEVC, a WebM.
    let accepted = [
        fixtures::mp4(&Video::default()),
        fixtures::mp4(&Video {
            moov_at_end: true,
            data: 200 * 1024,
            fps: 60,
            ..Video::default()
        }),
        fixtures::mp4(&Video {
            brand: *b"qt  ",
            codec: *b"hvc1",
            fps: 24,
            ..Video::default()
        }),
        webm,
    ];
    let mut seen = Vec::new();
    for bytes in accepted {
        let (id, media) = uploaded(&app, &user, &account, bytes).await;
        seen.push(media["facts"].clone());
        let r = publish(&app, &user, &account, &media_post(&account, &id), None).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "SCHEDULED");
    }
    assert_eq!(
        seen[0],
        json!({"container": "mp4", "codec": "h264", "duration_ms": 5000, "width": 1080,
               "height": 1920, "frame_rate": 30.0})
    );
    assert_eq!(seen[1]["frame_rate"], 60.0);
    assert_eq!(
        (&seen[2]["container"], &seen[2]["codec"]),
        (&json!("mov"), &json!("hevc"))
    );
    assert_eq!(
        (&seen[3]["container"], &seen[3]["codec"]),
        (&json!("webm"), &json!("vp9"))
    );
    assert_eq!(posts_of(&account), 4);
    assert_eq!(
        inits(&fake, &account).await,
        0,
        "scheduled: TikTok not called yet"
    );
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = live_app();
    let (user, account) = creator(&app, json!({})).await;
    let (bad, _) = uploaded(
        &app,
        &user,
        &account,
        fixtures::mp4(&Video {
            fps: 15,
            width: 200,
            ..Video::default()
        }),
    )
    .await;
    let tables = [
        "tiktok_posts",
        "tiktok_post_ledger",
        "tiktok_media",
        "tiktok_creator_caps",
    ];
    let counts = || -> Vec<i64> {
        tables
            .iter()
            .map(|t| count(&format!("select count(*) from {t}")))
            .collect()
    };
    let before = counts();

    let mut body = media_post(&account, &bad);
    body["dry_run"] = json!(true);
    let r = publish(&app, &user, &account, &body, Some("dry-run-key")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ok"], false);
    let problems: Vec<(&str, &str)> = r.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["code"].as_str().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            ("video_frame_rate", "source.media_id"),
            ("video_resolution", "source.media_id")
        ]
    );
    assert_eq!(r.body["capacity"]["can_post_now"], true, "{}", r.body);

    let mut good = url_post(&account, "dry", "SELF_ONLY");
    good["dry_run"] = json!(true);
    let r = publish(&app, &user, &account, &good, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ok"], true, "{}", r.body);
    assert_eq!(r.body["problems"], json!([]));
    assert_eq!(r.body["capacity"]["inits_last_minute"], 0);

    // Other tests write meanwhile: this account's rows are the ones to compare.
    assert_eq!(posts_of(&account), 0);
    let connection = connection_of(&account);
    assert_eq!(
        count(&format!(
            "select count(*) from tiktok_post_ledger where connection_id = {connection}"
        )),
        0
    );
    assert!(counts()[2] >= before[2]);
    // The key was not spent: a real post with it goes through.
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "real", "SELF_ONLY"),
        Some("dry-run-key"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn the_seventh_init_of_a_minute_is_held_not_sent() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({})).await;
    for i in 0..6 {
        let r = publish(
            &app,
            &user,
            &account,
            &url_post(&account, &format!("now{i}"), "SELF_ONLY"),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // The 7th immediate post: 429 at once, with the slot, TikTok not called.
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "seventh", "SELF_ONLY"),
        None,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_post_limit");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(inits(&fake, &account).await, 6);
    let capacity = capacity_of(&app, &user, &account, "direct").await;
    assert_eq!(capacity["blocked_by"], json!(["init_rate"]));
    assert_eq!(capacity["inits_last_minute"], 6);
    assert_eq!(capacity["can_post_now"], false);

    // A scheduled one due now: HELD until the slot, not sent.
    let id = schedule_in(&app, &user, &account, 3600).await;
    make_due(&id);
    settle(&app, &id).await;
    let row = psql(&format!(
        "select status, fail_reason, attempts, next_attempt_at > now() from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "HELD|init_rate|0|t", "{row}");
    assert_eq!(inits(&fake, &account).await, 6);
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "HELD", "{post}");

    // The minute passes (the ledger's and the fake's): it is sent at its slot.
    fake.set_creator(&account.open_id, json!({"rate_limited": false}))
        .await;
    let connection = connection_of(&account);
    psql(&format!(
        "update tiktok_post_ledger set at = at - interval '61 seconds' where connection_id = {connection}; \
         update tiktok_posts set next_attempt_at = now() - interval '1 second' where id = '{id}'"
    ));
    settle(&app, &id).await;
    let row = psql(&format!(
        "select status, attempts from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "PROCESSING_DOWNLOAD|1", "{row}");
    assert_eq!(inits(&fake, &account).await, 7);
}

async fn capacity_of(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    mode: &str,
) -> Value {
    // The user's only account; `mode=inbox` or the default (direct).
    let event = match mode {
        "inbox" => "tiktok-post-capacity/inbox.json",
        _ => "tiktok-post-capacity/ok.json",
    };
    let r = send(
        "tiktok-post-capacity",
        app,
        request(event, user, account, &[]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn five_pending_inbox_shares_hold_the_sixth() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({"rate_limited": false})).await;
    for i in 0..5 {
        let r = publish(
            &app,
            &user,
            &account,
            &inbox_post(&account, &format!("share{i}")),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let capacity = capacity_of(&app, &user, &account, "inbox").await;
    assert_eq!(capacity["pending_inbox_shares"], 5, "{capacity}");
    assert_eq!(capacity["blocked_by"], json!(["pending_inbox_shares"]));
    // Direct posts are not held by inbox shares.
    let direct = capacity_of(&app, &user, &account, "direct").await;
    assert_eq!(direct["can_post_now"], true, "{direct}");

    let r = publish(&app, &user, &account, &inbox_post(&account, "sixth"), None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_post_limit");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 23 * 3600, "a day after the first share: {wait}");

    let mut later = inbox_post(&account, "later");
    later["scheduled_at"] = json!(from_now(3600));
    let r = publish(&app, &user, &account, &later, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    make_due(&id);
    settle(&app, &id).await;
    let row = psql(&format!(
        "select status, fail_reason, next_attempt_at > now() + interval '23 hours' from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "HELD|pending_inbox_shares|t", "{row}");
    assert_eq!(inits(&fake, &account).await, 5, "the 6th never sent");
}

#[tokio::test]
async fn the_observed_daily_cap_holds_the_next_days_extra_posts() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) =
        creator(&app, json!({"rate_limited": false, "max_posts_per_day": 3})).await;
    for i in 0..3 {
        let r = publish(
            &app,
            &user,
            &account,
            &url_post(&account, &format!("day1-{i}"), "SELF_ONLY"),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // TikTok refuses the 4th: its cap is observed at 3.
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "day1-4", "SELF_ONLY"),
        None,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_post_limit");
    assert_eq!(inits(&fake, &account).await, 4);
    let connection = connection_of(&account);
    assert_eq!(
        psql(&format!(
            "select daily_cap from tiktok_creator_caps where connection_id = {connection}"
        ))
        .trim(),
        "3"
    );

    // The next day (our posts a day old; TikTok's own count lets more through now).
    psql(&format!(
        "update tiktok_posts set created_at = created_at - interval '25 hours', \
         attempted_at = attempted_at - interval '25 hours' where connection_id = {connection}; \
         update tiktok_post_ledger set at = at - interval '25 hours' where connection_id = {connection}"
    ));
    fake.set_creator(&account.open_id, json!({"max_posts_per_day": 100}))
        .await;
    for i in 0..3 {
        let r = publish(
            &app,
            &user,
            &account,
            &url_post(&account, &format!("day2-{i}"), "SELF_ONLY"),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "day2-4", "SELF_ONLY"),
        None,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_post_limit");
    assert_eq!(
        inits(&fake, &account).await,
        7,
        "the 4th of the day not sent"
    );
    let capacity = capacity_of(&app, &user, &account, "direct").await;
    assert_eq!(capacity["observed_daily_cap"], 3, "{capacity}");
    assert_eq!(capacity["posts_last_24h"], 3);
    assert_eq!(capacity["blocked_by"], json!(["daily_cap"]));

    let id = schedule_in(&app, &user, &account, 3600).await;
    make_due(&id);
    settle(&app, &id).await;
    let row = psql(&format!(
        "select status, fail_reason from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(row.trim(), "HELD|daily_cap", "{row}");
    assert_eq!(inits(&fake, &account).await, 7);
}

#[tokio::test]
async fn held_posts_go_out_in_their_order_when_the_slot_frees_and_fail_after_a_day() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({"rate_limited": false})).await;
    for i in 0..6 {
        let r = publish(
            &app,
            &user,
            &account,
            &url_post(&account, &format!("fill{i}"), "SELF_ONLY"),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mut ids = Vec::new();
    for minutes in [3, 2, 1] {
        let id = schedule_in(&app, &user, &account, 3600).await;
        psql(&format!(
            "update tiktok_posts set scheduled_at = now() - interval '{minutes} minutes' where id = '{id}'"
        ));
        ids.push(id);
    }
    let stale = schedule_in(&app, &user, &account, 3600).await;
    make_due(&stale);
    for id in ids.iter().chain([&stale]) {
        settle(&app, id).await;
    }
    let held = count(&format!(
        "select count(*) from tiktok_posts where status = 'HELD' and id in ('{}', '{}', '{}', '{stale}')",
        ids[0], ids[1], ids[2]
    ));
    assert_eq!(held, 4);
    // Held over a day when its slot comes: FAILED with its cap's reason, not sent.
    psql(&format!(
        "update tiktok_posts set held_since = now() - interval '25 hours', \
         next_attempt_at = now() - interval '1 second' where id = '{stale}'"
    ));
    let connection = connection_of(&account);
    psql(&format!(
        "update tiktok_post_ledger set at = at - interval '61 seconds' where connection_id = {connection}; \
         update tiktok_posts set next_attempt_at = now() - interval '1 second' \
         where id in ('{}', '{}', '{}')",
        ids[0], ids[1], ids[2]
    ));
    for id in &ids {
        settle(&app, id).await;
    }
    let row = psql(&format!(
        "select status, fail_reason from tiktok_posts where id = '{stale}'"
    ));
    assert_eq!(row.trim(), "FAILED|init_rate", "{row}");
    // Sent in scheduled_at order: TikTok made them in that order.
    let mut made = Vec::new();
    for id in &ids {
        let publish_id = psql(&format!(
            "select publish_id from tiktok_posts where id = '{id}'"
        ));
        let state = fake.publish_state(publish_id.trim()).await;
        made.push(state["created"].as_f64().expect("made at TikTok"));
    }
    assert!(made.windows(2).all(|w| w[0] <= w[1]), "{made:?}");
    assert_eq!(inits(&fake, &account).await, 9);
}

#[tokio::test]
async fn an_unaudited_app_posts_only_self_only_and_learns_it_from_tiktok() {
    let mut app = live_app();
    let fake = TikTokFake::new();
    // This app's own key: what TikTok tells about it stays with it.
    app.authorization.client_key = format!("unaudited-{}", unique("app"));
    let (user, account) =
        creator(&app, json!({"rate_limited": false, "app_unaudited": true})).await;

    // TikTok refuses a public post of an unaudited app: the app learns it.
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "public", "PUBLIC_TO_EVERYONE"),
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_app_unaudited");
    assert_eq!(inits(&fake, &account).await, 1);
    // The next one is refused before TikTok is called, with the field named in a dry run.
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "again", "FOLLOWER_OF_CREATOR"),
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_app_unaudited");
    let mut dry = url_post(&account, "dry", "PUBLIC_TO_EVERYONE");
    dry["dry_run"] = json!(true);
    let r = publish(&app, &user, &account, &dry, None).await;
    assert_eq!(
        r.body["problems"][0]["field"], "post_info.privacy_level",
        "{}",
        r.body
    );
    assert_eq!(r.body["capacity"]["app_audited"], false);
    assert_eq!(inits(&fake, &account).await, 1);
    // SELF_ONLY goes on (to a private account).
    fake.set_creator(&account.open_id, json!({"private_account": true}))
        .await;
    let r = publish(
        &app,
        &user,
        &account,
        &url_post(&account, "private", "SELF_ONLY"),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // TIKTOK_APP_AUDITED=false says so before TikTok ever did.
    let mut configured = live_app();
    configured.app_audited = Some(false);
    let (user, account) = creator(&configured, json!({"rate_limited": false})).await;
    let r = publish(
        &configured,
        &user,
        &account,
        &url_post(&account, "public", "PUBLIC_TO_EVERYONE"),
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "tiktok_app_unaudited");
    assert_eq!(inits(&fake, &account).await, 0);
}

/// Puts a photo at the stack's photo host: its URL.
async fn hosted_photo(name: &str, bytes: Vec<u8>) -> String {
    let base = stack_var("STACK_PHOTO_URL");
    let client = photo_client();
    let put = client
        .put(format!("{base}/photos/{name}"))
        .body(bytes)
        .send()
        .await
        .expect("photo host");
    assert!(put.status().is_success());
    format!("{base}/photos/{name}")
}

fn photo_client() -> reqwest::Client {
    let pem = std::fs::read(stack_var("EXTRA_CA_CERTS")).expect("the photo host's CA");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn photo_post(account: &TikTokAccount, urls: &[String]) -> Value {
    json!({"account_id": account.open_id, "mode": "direct",
           "source": {"type": "photos", "photo_urls": urls},
           "post_info": {"title": "Photos", "privacy_level": "SELF_ONLY"},
           "scheduled_at": from_now(3600)})
}

#[tokio::test]
async fn photos_are_read_from_their_first_bytes_and_refused_for_what_tiktok_refuses() {
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({})).await;
    let id = unique("p");
    let png = hosted_photo(&format!("{id}.png"), fixtures::png(800, 800)).await;
    let wide = hosted_photo(&format!("{id}-wide.jpg"), fixtures::jpeg(1200, 900)).await;
    let webp = hosted_photo(&format!("{id}.webp"), fixtures::webp(1080, 1080)).await;
    let jpeg = hosted_photo(&format!("{id}.jpg"), fixtures::jpeg(800, 600)).await;
    // 25 MB by its Content-Range, only its first 64 KiB ever sent.
    let heavy = format!("{jpeg}?size=26214400");

    for (url, code) in [
        (&png, "photo_format"),
        (&wide, "photo_too_large"),
        (&heavy, "photo_too_large"),
    ] {
        let r = publish(
            &app,
            &user,
            &account,
            &photo_post(&account, &[jpeg.clone(), url.clone()]),
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["code"], code, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("photo_urls[1]"),
            "{}",
            r.body
        );
    }
    assert_eq!(posts_of(&account), 0);
    assert_eq!(inits(&fake, &account).await, 0);

    // What cannot be read is said so, never refused: a redirect (not followed), a URL
    // outside MEDIA_URL_PREFIXES, a missing file.
    let redirect = format!("{}/photos/redirect/{id}.jpg", stack_var("STACK_PHOTO_URL"));
    let elsewhere = format!("{VERIFIED_PREFIX}{id}.jpg");
    let missing = format!("{}/photos/{id}-missing.jpg", stack_var("STACK_PHOTO_URL"));
    let urls = [
        webp.clone(),
        jpeg.clone(),
        redirect,
        elsewhere,
        missing,
        png.clone(),
    ];
    let mut dry = photo_post(&account, &urls);
    dry["dry_run"] = json!(true);
    let r = publish(&app, &user, &account, &dry, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ok"], false);
    assert_eq!(
        r.body["problems"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    assert_eq!(r.body["problems"][0]["field"], "source.photo_urls[5]");
    let unchecked: Vec<&str> = r.body["unchecked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        unchecked,
        [
            "source.photo_urls[2]",
            "source.photo_urls[3]",
            "source.photo_urls[4]"
        ],
        "{}",
        r.body
    );
    assert!(r.body["unchecked"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("redirect"));

    let r = publish(
        &app,
        &user,
        &account,
        &photo_post(&account, &urls[..5]),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["unchecked"].as_array().unwrap().len(),
        3,
        "{}",
        r.body
    );
    let r = publish(
        &app,
        &user,
        &account,
        &photo_post(&account, &[webp, jpeg]),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.get("unchecked").is_none(), "{}", r.body);

    // One ranged GET of at most 64 KiB per photo, and the redirect never followed.
    let calls: Value = photo_client()
        .get(format!("{}/_calls", stack_var("STACK_PHOTO_URL")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours: Vec<&Value> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().contains(&id))
        .collect();
    assert!(
        ours.iter().all(|c| c["range"] == "bytes=0-65535"),
        "{ours:?}"
    );
    let jpeg_path = format!("/photos/{id}.jpg");
    let jpeg_reads = ours
        .iter()
        .filter(|c| c["path"] == jpeg_path.as_str())
        .count();
    // The refusals' first photo (3) and the 25 MB one (1), the dry run, the two posts:
    // none more, as a followed redirect would have made.
    assert_eq!(jpeg_reads, 7, "{ours:?}");
}

#[tokio::test]
async fn photo_reads_never_reach_the_network_the_backend_runs_in() {
    use shared::media::photos::{Photo, PhotoProbe};
    let pem = std::fs::read(stack_var("EXTRA_CA_CERTS")).unwrap();
    let roots = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
    let base = stack_var("STACK_PHOTO_URL");
    let port = base.rsplit(':').next().unwrap().to_owned();
    let jpeg = hosted_photo(&format!("{}.jpg", unique("net")), fixtures::jpeg(800, 600)).await;
    let by_name = jpeg.replace("127.0.0.1", "localhost");
    let prefixes = vec![
        format!("{base}/photos/"),
        format!("https://localhost:{port}/photos/"),
    ];

    // Outside emulator mode, loopback (an address or a name that resolves to it) is
    // never read; nor are private and link-local addresses.
    let production = PhotoProbe::new(prefixes.clone(), false, &roots).unwrap();
    for url in [&jpeg, &by_name] {
        let read = production.read(url).await;
        assert!(matches!(read, Photo::Skipped(_)), "{url}: {read:?}");
    }
    let metadata = PhotoProbe::new(vec!["https://169.254.169.254/".into()], true, &roots).unwrap();
    assert!(matches!(
        metadata
            .read("https://169.254.169.254/latest/meta-data/")
            .await,
        Photo::Skipped(_)
    ));
    // In emulator mode the local stack's host is read.
    let local = PhotoProbe::new(prefixes, true, &roots).unwrap();
    let read = local.read(&by_name).await;
    assert_eq!(
        read,
        Photo::Read {
            format: "jpeg".into(),
            width: 800,
            height: 600,
            size: Some(fixtures::jpeg(800, 600).len() as u64)
        }
    );
    // Without the stack's CA (production's trust roots only) its certificate is refused.
    let untrusted = PhotoProbe::new(vec![format!("{base}/photos/")], true, &[]).unwrap();
    assert!(matches!(untrusted.read(&jpeg).await, Photo::Skipped(_)));
}

#[tokio::test]
async fn the_thirty_first_status_call_of_a_minute_is_not_sent() {
    let app = live_app();
    let fake = TikTokFake::new();
    let (user, account) = creator(&app, json!({"rate_limited": false})).await;
    // An upload TikTok waits for: every read of it asks TikTok for its status.
    let upload = json!({"account_id": account.open_id, "mode": "direct",
        "source": {"type": "upload", "video_size": 3_000_000},
        "post_info": {"title": "Polled", "privacy_level": "SELF_ONLY"}});
    let r = publish(&app, &user, &account, &upload, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    for _ in 0..31 {
        let post = post_status(&app, &user, &account, &id).await;
        assert_eq!(post["status"], "PROCESSING_UPLOAD", "{post}");
    }
    assert_eq!(
        fake.count(&account.open_id, "status_fetch").await,
        30,
        "the 31st read answered as last known, TikTok not asked"
    );
    let capacity = capacity_of(&app, &user, &account, "direct").await;
    assert_eq!(capacity["status_calls_last_minute"], 30, "{capacity}");
    assert_eq!(
        capacity["inits_last_minute"], 1,
        "status calls are not inits"
    );
    assert_eq!(capacity["can_post_now"], true);
}

//! Scheduling posts and running the dispatcher, as the suites of scheduled posts and the
//! calendar need them.
//!
//! The dispatcher takes every due post in the database, other tests' too: a test waits
//! for its own post ([`settle`]) and checks the fake's calls for its own accounts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::database::psql;
use crate::events::{request, send, with_json_body, Reply};
use crate::firebase::FirebaseUser;
use crate::stack::{from_now, http};
use crate::tiktok_fake::{TikTokAccount, TikTokFake, ALL_SCOPES, VERIFIED_PREFIX};

/// A user who connected a new TikTok account with every scope.
pub async fn publisher(app: &shared::LiveApp) -> (FirebaseUser, TikTokAccount) {
    let user = crate::given::user().await;
    let account = TikTokFake::new().account(ALL_SCOPES).await;
    crate::given::connection(&user, &account)
        .through_store_token(app)
        .await;
    (user, account)
}

/// A URL post of `account` scheduled at `at` (RFC 3339).
pub fn scheduled_url(account: &TikTokAccount, at: &str) -> Value {
    json!({"account_id": account.open_id, "mode": "direct",
           "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}later.mp4")},
           "post_info": {"title": "Thursday's post", "privacy_level": "SELF_ONLY"},
           "scheduled_at": at})
}

/// tiktok-publish with this body (and Idempotency-Key).
pub async fn publish(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    body: &Value,
    key: Option<&str>,
) -> Reply {
    let mut req = with_json_body(request("tiktok-publish/ok.json", user, account, &[]), body);
    if let Some(key) = key {
        req.headers_mut()
            .insert("idempotency-key", key.parse().unwrap());
    }
    send("tiktok-publish", app, req).await
}

/// Schedules a URL post `secs` seconds ahead: its id.
pub async fn schedule_in(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    secs: i64,
) -> String {
    let r = publish(
        app,
        user,
        account,
        &scheduled_url(account, &from_now(secs)),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The post's time comes now (as if it had been waited for).
pub fn make_due(id: &str) {
    psql(&format!(
        "update tiktok_posts set scheduled_at = now() - interval '1 second', \
         next_attempt_at = null where id = '{id}'"
    ));
}

/// The post as tiktok-post-status answers it (200).
pub async fn post_status(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    id: &str,
) -> Value {
    let req = request(
        "tiktok-post-status/ok.json",
        user,
        account,
        &[("REPLACE_WITH_POST_ID", id)],
    );
    let r = send("tiktok-post-status", app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// One dispatcher run, as its schedule starts it.
pub async fn dispatcher_run(app: &shared::LiveApp) -> shared::dispatch::Summary {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    shared::dispatch::run(app, until)
        .await
        .expect("a dispatcher run")
}

/// Dispatcher runs until post `id` is no longer being published (another test's run,
/// concurrent, may hold its claim a while).
pub async fn settle(app: &shared::LiveApp, id: &str) {
    for _ in 0..80 {
        dispatcher_run(app).await;
        let status = psql(&format!(
            "select status from tiktok_posts where id = '{id}'"
        ));
        if status.trim() != "PUBLISHING" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("post {id} stayed PUBLISHING");
}

/// A valid MP4 of exactly `size` bytes (at least the header's ~5 KB): the test clip's
/// header first, then padding, as a browser would upload a real video.
pub fn video_of_size(size: u64) -> Vec<u8> {
    let mut video = include_bytes!("../../testdata/media/clip.mp4").to_vec();
    assert!(
        size as usize >= video.len(),
        "a video is at least its header"
    );
    video.resize(size as usize, 7);
    video
}

/// tiktok-media with this body.
pub async fn create_media(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    body: Value,
) -> Reply {
    let req = with_json_body(request("tiktok-media/ok.json", user, account, &[]), &body);
    send("tiktok-media", app, req).await
}

/// tiktok-media-status of media `id`.
pub async fn media_status(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    id: &str,
) -> Reply {
    let req = request(
        "tiktok-media-status/ok.json",
        user,
        account,
        &[("REPLACE_WITH_MEDIA_ID", id)],
    );
    send("tiktok-media-status", app, req).await
}

/// PUTs `bytes` to the presigned upload, as the browser does: its status.
pub async fn put_file(upload: &Value, bytes: Vec<u8>) -> u16 {
    let mut put = http().put(upload["url"].as_str().unwrap()).body(bytes);
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    put.send()
        .await
        .expect("PUT to the bucket")
        .status()
        .as_u16()
}

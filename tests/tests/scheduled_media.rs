//! Media stored once (S3, moto in the local stack) and posted by the dispatcher: a
//! presigned PUT, `ready` only once the object is there with its declared size, a post
//! with a `media` source, and the server-side upload streamed from S3 to TikTok's upload
//! URL chunk by chunk, carried on by the next run after an outage, one init in all.

use integration_tests::*;
use serde_json::{json, Value};

/// 25 MB: two chunks of TikTok's plan (10 MB, and the last holds the other 15 MB).
const VIDEO_SIZE: u64 = 25_000_000;
/// A video sent whole (under 5 MB): the test clip's header and some media data.
const SMALL_VIDEO: u64 = 8192;

/// The dispatcher takes every due post: these tests run one at a time, so each sees its
/// own posts go through its own runs (a post's state between two runs is the test's).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A ready media object of the user's, `size` bytes: its id.
async fn ready_media(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    size: u64,
) -> String {
    let r = create_media(
        app,
        user,
        account,
        json!({"content_type": "video/mp4", "size": size}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(put_file(&r.body["upload"], video_of_size(size)).await, 200);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let ready = media_status(app, user, account, &id).await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    id
}

fn media_post(media_id: &str, at: Option<&str>) -> Value {
    let mut post = json!({"mode": "direct", "source": {"type": "media", "media_id": media_id},
                          "post_info": {"title": "Uploaded once", "privacy_level": "SELF_ONLY"}});
    if let Some(at) = at {
        post["scheduled_at"] = json!(at);
    }
    post
}

#[tokio::test]
async fn media_is_ready_only_once_it_is_in_the_bucket_with_its_size() {
    let app = live_app();
    let (user, account) = publisher(&app).await;
    let r = create_media(
        &app,
        &user,
        &account,
        json!({"content_type": "video/mp4", "size": 1000}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["size"], 1000);
    let upload = &r.body["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["headers"]["content-type"], "video/mp4");
    assert!(
        upload["url"].as_str().unwrap().contains("X-Amz-Signature="),
        "presigned"
    );
    assert!(upload["expires_at"].is_string());
    let id = r.body["id"].as_str().unwrap().to_owned();
    let key = psql(&format!(
        "select object_key from tiktok_media where id = '{id}'"
    ));
    assert!(
        key.trim().starts_with("media/") && key.trim().ends_with(&id),
        "{key}"
    );

    // Nothing PUT yet, then a smaller file than declared: still pending.
    assert_eq!(
        media_status(&app, &user, &account, &id).await.body["status"],
        "pending"
    );
    assert_eq!(put_file(upload, vec![1u8; 999]).await, 200);
    assert_eq!(
        media_status(&app, &user, &account, &id).await.body["status"],
        "pending"
    );
    // The declared size: ready.
    assert_eq!(put_file(upload, vec![1u8; 1000]).await, 200);
    let ready = media_status(&app, &user, &account, &id).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    assert!(ready.body.get("upload").is_none());

    // Another user's, an unknown or a malformed id: not found.
    let (other, theirs) = publisher(&app).await;
    media_status(&app, &other, &theirs, &id)
        .await
        .assert_error(404, "media_not_found");
    media_status(
        &app,
        &user,
        &account,
        "00000000-0000-4000-8000-000000000001",
    )
    .await
    .assert_error(404, "media_not_found");
    media_status(&app, &user, &account, "../../etc")
        .await
        .assert_error(404, "media_not_found");
    // Bad requests make nothing.
    let before = psql("select count(*) from tiktok_media");
    for body in [
        json!({"content_type": "image/png", "size": 10}),
        json!({"content_type": "video/mp4", "size": 0}),
        json!({"content_type": "video/mp4", "size": 4_294_967_297u64}),
        json!({"content_type": "video/mp4"}),
    ] {
        create_media(&app, &user, &account, body)
            .await
            .assert_error(400, "invalid_request");
    }
    let req = event("tiktok-media/no-auth.json", &[]);
    send("tiktok-media", &app, req)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(psql("select count(*) from tiktok_media"), before);
}

#[tokio::test]
async fn a_media_post_must_name_the_callers_ready_media() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let r = create_media(
        &app,
        &user,
        &account,
        json!({"content_type": "video/mp4", "size": 100}),
    )
    .await;
    let pending = r.body["id"].as_str().unwrap().to_owned();
    let later = from_now(3600);
    publish(
        &app,
        &user,
        &account,
        &media_post(&pending, Some(&later)),
        None,
    )
    .await
    .assert_error(409, "media_not_ready");
    let (other, theirs) = publisher(&app).await;
    let theirs_ready = ready_media(&app, &other, &theirs, SMALL_VIDEO).await;
    publish(
        &app,
        &user,
        &account,
        &media_post(&theirs_ready, Some(&later)),
        None,
    )
    .await
    .assert_error(404, "media_not_found");
    publish(
        &app,
        &user,
        &account,
        &media_post("not-a-media-id", Some(&later)),
        None,
    )
    .await
    .assert_error(400, "invalid_request");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
    let rows = psql(&format!(
        "select count(*) from tiktok_posts where open_id = '{}'",
        account.open_id
    ));
    assert_eq!(rows.trim(), "0");
}

#[tokio::test]
async fn an_uploaded_video_is_posted_by_the_dispatcher_chunk_by_chunk_once() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let media = ready_media(&app, &user, &account, VIDEO_SIZE).await;
    // No time given: due at once (nobody's browser has to stay open for the upload).
    let r = publish(&app, &user, &account, &media_post(&media, None), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "SCHEDULED");
    let at = shared::timestamp::parse(r.body["scheduled_at"].as_str().unwrap()).unwrap();
    assert!((time::OffsetDateTime::now_utc() - at).whole_seconds().abs() < 5);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);

    settle(&app, &id).await;
    wait_for_upload(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert!(
        post["publish_id"]
            .as_str()
            .unwrap()
            .starts_with("v_pub_file~"),
        "{post}"
    );
    assert_eq!(post["uploaded_bytes"], VIDEO_SIZE);
    assert_ne!(post["status"], "FAILED", "{post}");
    let calls = fake.calls(&account.open_id).await;
    let init = calls
        .iter()
        .find(|c| c["endpoint"] == "video_init")
        .unwrap();
    assert_eq!(init["body"]["source_info"]["source"], "FILE_UPLOAD");
    assert_eq!(init["body"]["source_info"]["video_size"], VIDEO_SIZE);
    let ranges: Vec<_> = calls
        .iter()
        .filter(|c| c["endpoint"] == "upload")
        .map(|c| c["range"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes 0-9999999/25000000",
            "bytes 10000000-24999999/25000000"
        ]
    );
    for _ in 0..3 {
        dispatcher_run(&app).await;
    }
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "one init"
    );
    assert_eq!(
        fake.count(&account.open_id, "upload").await,
        2,
        "each chunk once"
    );
    let publish_id = post["publish_id"].as_str().unwrap();
    let state = fake.publish_state(publish_id).await;
    assert_eq!(
        (
            state["next_chunk"].as_u64(),
            state["uploaded_bytes"].as_u64()
        ),
        (Some(2), Some(VIDEO_SIZE))
    );
}

#[tokio::test]
async fn an_upload_cut_short_by_an_outage_is_carried_on_by_the_next_run() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let media = ready_media(&app, &user, &account, VIDEO_SIZE).await;
    let r = publish(&app, &user, &account, &media_post(&media, None), None).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // S3 unreachable for the run that initiates the post.
    let mut s3_down = live_app();
    let bucket = stack_var("MEDIA_BUCKET");
    s3_down.media = Some(shared::media::S3Media::at(&bucket, Some(closed_port_url())).unwrap());
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    shared::dispatch::run(&s3_down, until).await.unwrap();
    let row = psql(&format!(
        "select status || ' ' || coalesce(uploaded_bytes, -1) from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(
        row.trim(),
        "PROCESSING_UPLOAD 0",
        "initiated, nothing uploaded"
    );
    // TikTok's upload host failing every try of the first chunk: left again.
    let failing = json!([{"status": 503, "body": ""}, {"status": 503, "body": ""}, {"status": 503, "body": ""}]);
    fake.script(&account.open_id, "upload", failing).await;
    dispatcher_run(&app).await;
    // Then the next run carries it on to the end, without a second init.
    wait_for_upload(&app, &id).await;
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "one init in all"
    );
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["uploaded_bytes"], VIDEO_SIZE, "{post}");
    assert_ne!(post["status"], "FAILED", "{post}");
}

#[tokio::test]
async fn an_upload_tiktok_refuses_fails_the_post() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let media = ready_media(&app, &user, &account, SMALL_VIDEO).await;
    let r = publish(&app, &user, &account, &media_post(&media, None), None).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // The upload URL expired (TikTok answers 404 to it).
    let expired =
        json!([{"status": 404, "body": {"error": "The upload URL is unknown or expired."}}]);
    fake.script(&account.open_id, "upload", expired).await;
    settle(&app, &id).await;
    wait_for_upload(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["status"], "FAILED", "{post}");
    assert_eq!(post["fail_reason"], "upload_failed");
    assert_eq!(fake.count(&account.open_id, "video_init").await, 1);
}

/// Dispatcher runs until post `id` has no upload in progress (uploaded, failed, or
/// another test's run done with it).
async fn wait_for_upload(app: &shared::LiveApp, id: &str) {
    for _ in 0..120 {
        let row = psql(&format!(
            "select status, coalesce(uploaded_bytes, 0), (upload ->> 'video_size')::bigint \
             from tiktok_posts where id = '{id}'"
        ));
        let fields: Vec<&str> = row.trim().split('|').collect();
        let uploading =
            fields.first() == Some(&"PROCESSING_UPLOAD") && fields.get(1) != fields.get(2);
        if !uploading
            && fields.first() != Some(&"PUBLISHING")
            && fields.first() != Some(&"SCHEDULED")
        {
            return;
        }
        dispatcher_run(app).await;
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("post {id} is still uploading");
}

#[tokio::test]
async fn a_run_killed_after_the_init_leaves_the_upload_to_the_next_once_its_lease_lapses() {
    let _serial = SERIAL.lock().await;
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let media = ready_media(&app, &user, &account, SMALL_VIDEO).await;
    let r = publish(&app, &user, &account, &media_post(&media, None), None).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // The run that initiated it stored the publish id and the upload URL, and died
    // before the first chunk (S3 unreachable, then its lease still held).
    let mut s3_down = live_app();
    let bucket = stack_var("MEDIA_BUCKET");
    s3_down.media = Some(shared::media::S3Media::at(&bucket, Some(closed_port_url())).unwrap());
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    shared::dispatch::run(&s3_down, until).await.unwrap();
    psql(&format!(
        "update tiktok_posts set lease_until = now() + interval '5 minutes' where id = '{id}'"
    ));
    // While its lease holds, no other run touches it.
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "upload").await, 0);
    // Lapsed: the next run uploads it, and inits nothing.
    psql(&format!(
        "update tiktok_posts set lease_until = now() - interval '1 second' where id = '{id}'"
    ));
    wait_for_upload(&app, &id).await;
    assert_eq!(fake.count(&account.open_id, "upload").await, 1);
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        1,
        "one init in all"
    );
    let post = post_status(&app, &user, &account, &id).await;
    assert_eq!(post["uploaded_bytes"], SMALL_VIDEO, "{post}");
}

//! The handler tier: every `events/` file, as API Gateway delivers it, through the same
//! wrapper a function binary uses, with in-memory ports (no service started). The
//! integration suites in `tests/` run the same use cases against the real local stack.

use std::path::PathBuf;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::firebase::FixedIdentity;
use shared::store::memory::MemoryStore;
use shared::store::{Caller, ConnectionStore, NewConnection, NewTokens};
use shared::testing::{self, custom_token_for, Call, TestApp};
use shared::tiktok::scripted::{ScriptedTikTok, TEST_CLIENT_SECRET};
use shared::tiktok::UserInfo;

const ID_TOKEN: &str = "id-token-of-ana";
const UID: &str = "firebase-uid-ana";
const OPEN_ID: &str = "open-id-ana";
const ACCESS_TOKEN: &str = "act.ana";

/// What a test starts from.
#[derive(Clone, Copy, PartialEq)]
enum Given {
    /// Ana is signed in and has no connection yet.
    Nothing,
    /// Ana's TikTok account is connected (stored through store-token's rules).
    Connected,
    /// Someone started signing in with TikTok (tiktok-authorize) and TikTok will take
    /// the code.
    SignInStarted,
    /// Ana started linking TikTok (tiktok-authorize with her session).
    LinkStarted,
    /// Ana's TikTok account is connected and she started a post (tiktok-publish).
    Posted,
    /// Ana's TikTok account is connected and she scheduled a post for tomorrow.
    Scheduled,
    /// Ana's TikTok account is connected and she uploaded a video to the media bucket.
    MediaReady,
    /// Ana's TikTok account is connected and the analytics sync found one of its videos.
    Tracked,
}

/// The video the analytics sync found (`Given::Tracked`).
const VIDEO_ID: &str = "7300000000000000042";

/// Every events/ file: what it is given and what it must answer.
#[rustfmt::skip]
const CASES: [(&str, Given, u16, Option<&str>); 133] = [
    ("disconnect-tiktok/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("disconnect-tiktok/ok.json", Given::Connected, 200, None),
    ("disconnect-tiktok/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("list-connections/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("list-connections/ok.json", Given::Connected, 200, None),
    ("list-connections/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("oauth-tiktok/link.json", Given::Nothing, 200, None),
    ("oauth-tiktok/missing-open-id.json", Given::Nothing, 400, Some("open_id_required")),
    ("oauth-tiktok/new-user.json", Given::Nothing, 200, None),
    ("oauth-tiktok/no-email.json", Given::Nothing, 400, Some("email_required")),
    ("oauth-tiktok/not-json.json", Given::Nothing, 400, Some("invalid_json")),
    ("oauth-tiktok/session-email.json", Given::Nothing, 200, None),
    ("oauth-tiktok/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("store-tiktok-profile/base64.json", Given::Connected, 200, None),
    ("store-tiktok-profile/negative-count.json", Given::Connected, 400, Some("invalid_request")),
    ("store-tiktok-profile/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("store-tiktok-profile/ok.json", Given::Connected, 200, None),
    ("store-tiktok-profile/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("store-token/bad-expires-at.json", Given::Nothing, 400, Some("invalid_request")),
    ("store-token/no-auth.json", Given::Nothing, 401, Some("unauthorized")),
    ("store-token/not-json.json", Given::Nothing, 400, Some("invalid_json")),
    ("store-token/ok.json", Given::Nothing, 201, None),
    ("store-token/other-provider.json", Given::Nothing, 201, None),
    ("store-token/unsupported-provider.json", Given::Nothing, 400, Some("unsupported_provider")),
    ("store-token/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("tiktok-profile/account-id.json", Given::Connected, 200, None),
    ("tiktok-profile/force.json", Given::Connected, 200, None),
    ("tiktok-profile/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-profile/ok.json", Given::Connected, 200, None),
    ("tiktok-profile/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-test/account-id.json", Given::Connected, 200, None),
    ("tiktok-test/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-test/ok.json", Given::Connected, 200, None),
    ("tiktok-test/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("update-connection/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("update-connection/ok.json", Given::Connected, 200, None),
    ("update-connection/relabel.json", Given::Connected, 200, None),
    ("update-connection/unset-primary.json", Given::Connected, 400, Some("invalid_request")),
    ("update-connection/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-profile/no-auth.json", Given::Nothing, 401, Some("unauthorized")),
    ("tiktok-test/ok.json", Given::Nothing, 200, None),
    ("tiktok-authorize/sign-in.json", Given::Nothing, 200, None),
    ("tiktok-authorize/link.json", Given::Nothing, 200, None),
    ("tiktok-authorize/default-scopes.json", Given::Nothing, 200, None),
    ("tiktok-authorize/other-redirect.json", Given::Nothing, 400, Some("invalid_redirect_uri")),
    ("tiktok-authorize/unknown-scope.json", Given::Nothing, 400, Some("invalid_request")),
    ("tiktok-authorize/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("tiktok-callback/sign-in.json", Given::SignInStarted, 200, None),
    ("tiktok-callback/link.json", Given::LinkStarted, 200, None),
    ("tiktok-callback/unknown-state.json", Given::SignInStarted, 400, Some("invalid_state")),
    ("tiktok-callback/missing-code.json", Given::SignInStarted, 400, Some("invalid_request")),
    ("tiktok-callback/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("tiktok-webhook/authorization-removed.json", Given::Connected, 200, None),
    ("tiktok-webhook/unknown-event.json", Given::Connected, 200, None),
    ("tiktok-webhook/no-signature.json", Given::Connected, 401, Some("invalid_signature")),
    ("tiktok-webhook/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-videos/ok.json", Given::Connected, 200, None),
    ("tiktok-videos/page.json", Given::Connected, 200, None),
    ("tiktok-videos/ids.json", Given::Connected, 200, None),
    ("tiktok-videos/bad-max-count.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-videos/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-videos/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-creator-info/ok.json", Given::Connected, 200, None),
    ("tiktok-creator-info/account-id.json", Given::Connected, 200, None),
    ("tiktok-creator-info/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-creator-info/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-publish/ok.json", Given::Connected, 201, None),
    ("tiktok-publish/idempotent.json", Given::Connected, 201, None),
    ("tiktok-publish/inbox.json", Given::Connected, 201, None),
    ("tiktok-publish/url.json", Given::Connected, 201, None),
    ("tiktok-publish/photos.json", Given::Connected, 201, None),
    ("tiktok-publish/no-privacy-level.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-publish/inbox-with-post-info.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-publish/not-json.json", Given::Connected, 400, Some("invalid_json")),
    ("tiktok-publish/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-publish/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-post-status/ok.json", Given::Posted, 200, None),
    ("tiktok-post-status/malformed-id.json", Given::Posted, 404, Some("post_not_found")),
    ("tiktok-post-status/no-auth.json", Given::Posted, 401, Some("unauthorized")),
    ("tiktok-post-status/wrong-method.json", Given::Posted, 405, Some("method_not_allowed")),
    ("route-not-found/unknown-path.json", Given::Nothing, 404, Some("route_not_found")),
    ("route-not-found/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("route-not-found/trailing-slash.json", Given::Nothing, 404, Some("route_not_found")),
    ("tiktok-publish/scheduled.json", Given::Connected, 201, None),
    ("tiktok-publish/media.json", Given::MediaReady, 201, None),
    ("tiktok-publish/dry-run.json", Given::Connected, 200, None),
    ("tiktok-post-capacity/ok.json", Given::Connected, 200, None),
    ("tiktok-post-capacity/account-id.json", Given::Connected, 200, None),
    ("tiktok-post-capacity/inbox.json", Given::Connected, 200, None),
    ("tiktok-post-capacity/bad-mode.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-post-capacity/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-post-capacity/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-analytics-account/ok.json", Given::Connected, 200, None),
    ("tiktok-analytics-account/account-id.json", Given::Connected, 200, None),
    ("tiktok-analytics-account/range.json", Given::Connected, 200, None),
    ("tiktok-analytics-account/bad-date.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-analytics-account/too-long.json", Given::Connected, 400, Some("invalid_request")),
    ("tiktok-analytics-account/no-auth.json", Given::Connected, 401, Some("unauthorized")),
    ("tiktok-analytics-account/wrong-method.json", Given::Connected, 405, Some("method_not_allowed")),
    ("tiktok-analytics-videos/ok.json", Given::Tracked, 200, None),
    ("tiktok-analytics-videos/account-id.json", Given::Tracked, 200, None),
    ("tiktok-analytics-videos/sorted.json", Given::Tracked, 200, None),
    ("tiktok-analytics-videos/bad-sort.json", Given::Tracked, 400, Some("invalid_request")),
    ("tiktok-analytics-videos/bad-cursor.json", Given::Tracked, 400, Some("invalid_request")),
    ("tiktok-analytics-videos/no-auth.json", Given::Tracked, 401, Some("unauthorized")),
    ("tiktok-analytics-videos/wrong-method.json", Given::Tracked, 405, Some("method_not_allowed")),
    ("tiktok-analytics-video/ok.json", Given::Tracked, 200, None),
    ("tiktok-analytics-video/unknown.json", Given::Tracked, 404, Some("video_not_found")),
    ("tiktok-analytics-video/bad-id.json", Given::Tracked, 404, Some("video_not_found")),
    ("tiktok-analytics-video/no-auth.json", Given::Tracked, 401, Some("unauthorized")),
    ("tiktok-analytics-video/wrong-method.json", Given::Tracked, 405, Some("method_not_allowed")),
    ("list-tiktok-posts/ok.json", Given::Posted, 200, None),
    ("list-tiktok-posts/filtered.json", Given::Scheduled, 200, None),
    ("list-tiktok-posts/no-auth.json", Given::Posted, 401, Some("unauthorized")),
    ("list-tiktok-posts/wrong-method.json", Given::Posted, 405, Some("method_not_allowed")),
    ("update-tiktok-post/ok.json", Given::Scheduled, 200, None),
    ("update-tiktok-post/reschedule.json", Given::Scheduled, 200, None),
    ("update-tiktok-post/no-auth.json", Given::Scheduled, 401, Some("unauthorized")),
    ("update-tiktok-post/wrong-method.json", Given::Scheduled, 405, Some("method_not_allowed")),
    ("cancel-tiktok-post/ok.json", Given::Scheduled, 200, None),
    ("cancel-tiktok-post/no-auth.json", Given::Scheduled, 401, Some("unauthorized")),
    ("cancel-tiktok-post/wrong-method.json", Given::Scheduled, 405, Some("method_not_allowed")),
    // A scheduled post is not retried: only an unconfirmed or failed one.
    ("retry-tiktok-post/ok.json", Given::Scheduled, 409, Some("post_not_editable")),
    ("retry-tiktok-post/unconfirmed.json", Given::Scheduled, 400, Some("invalid_request")),
    ("retry-tiktok-post/no-auth.json", Given::Scheduled, 401, Some("unauthorized")),
    ("retry-tiktok-post/wrong-method.json", Given::Scheduled, 405, Some("method_not_allowed")),
    ("tiktok-media/ok.json", Given::Nothing, 201, None),
    ("tiktok-media/too-large.json", Given::Nothing, 400, Some("invalid_request")),
    ("tiktok-media/no-auth.json", Given::Nothing, 401, Some("unauthorized")),
    ("tiktok-media/wrong-method.json", Given::Nothing, 405, Some("method_not_allowed")),
    ("tiktok-media-status/ok.json", Given::MediaReady, 200, None),
    ("tiktok-media-status/no-auth.json", Given::MediaReady, 401, Some("unauthorized")),
    ("tiktok-media-status/wrong-method.json", Given::MediaReady, 405, Some("method_not_allowed")),
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// An events/ file with its placeholders filled in (inside a base64 body too).
fn event(name: &str) -> Request {
    event_with(name, &[])
}

/// As [`event`], with more placeholders.
fn event_with(name: &str, more: &[(&str, &str)]) -> Request {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires =
        shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::hours(2));
    let tomorrow =
        shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::days(1));
    let fill = |text: &str| {
        let text = text
            .replace("REPLACE_WITH_FIREBASE_ID_TOKEN", ID_TOKEN)
            .replace("REPLACE_WITH_OPEN_ID", OPEN_ID)
            .replace("REPLACE_WITH_ACCOUNT_ID", OPEN_ID)
            .replace("REPLACE_WITH_PROVIDER", "tiktok")
            .replace("REPLACE_WITH_ACCESS_TOKEN", ACCESS_TOKEN)
            .replace("REPLACE_WITH_REFRESH_TOKEN", "rft.ana")
            .replace("REPLACE_WITH_EXPIRES_AT", &expires)
            .replace("REPLACE_WITH_EMAIL", "ana@example.com")
            .replace("REPLACE_WITH_REDIRECT_URI", testing::TEST_REDIRECT_URI)
            .replace("REPLACE_WITH_CODE", "code-from-tiktok")
            .replace("REPLACE_WITH_CLIENT_KEY", "test-client-key")
            .replace("REPLACE_WITH_SCHEDULED_AT", &tomorrow)
            .replace("REPLACE_WITH_VIDEO_ID", VIDEO_ID)
            // A webhook event that happens now (older ones do not revoke newer grants).
            .replace(
                "create_time\\\": 1795608000",
                &format!("create_time\\\": {now}"),
            );
        more.iter()
            .fold(text, |text, (from, to)| text.replace(from, to))
    };
    let text = std::fs::read_to_string(events_dir().join(name)).expect(name);
    let mut value: Value = serde_json::from_str(&fill(&text)).expect("event JSON");
    if value["isBase64Encoded"] == true {
        let body = value["body"].as_str().expect("body");
        let decoded = String::from_utf8(STANDARD.decode(body).expect("base64")).expect("utf-8");
        value["body"] = Value::String(STANDARD.encode(fill(&decoded)));
    }
    if value["headers"]["tiktok-signature"] == "REPLACE_WITH_SIGNATURE" {
        // Signed as TikTok signs: the raw body as sent, with the client secret.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = value["body"].as_str().unwrap_or_default().to_owned();
        value["headers"]["tiktok-signature"] = Value::String(shared::webhook::sign(
            TEST_CLIENT_SECRET.as_bytes(),
            now,
            body.as_bytes(),
        ));
    }
    lambda_http::request::from_str(&value.to_string()).expect(name)
}

/// The app as `given` leaves it, and the state and binding of an authorization it
/// started (if any; a post's id for `Posted`).
async fn app(given: Given) -> (TestApp, String, String) {
    let ana = Caller {
        firebase_uid: UID.into(),
        email: Some("ana@example.org".into()),
        email_verified: true,
        auth_time: Some(time::OffsetDateTime::now_utc().unix_timestamp()),
        ..Caller::default()
    };
    let info = UserInfo {
        open_id: Some(OPEN_ID.into()),
        display_name: Some("Cooking with Ana".into()),
        ..UserInfo::default()
    };
    let app = testing::app(
        MemoryStore::default(),
        ScriptedTikTok::default().with_account(ACCESS_TOKEN, info),
        FixedIdentity::default().with_session(ID_TOKEN, ana.clone()),
    );
    if let Given::SignInStarted | Given::LinkStarted = given {
        let file = match given {
            Given::LinkStarted => "tiktok-authorize/link.json",
            _ => "tiktok-authorize/sign-in.json",
        };
        let started = testing::dispatch("tiktok-authorize", &app, &event(file))
            .await
            .unwrap();
        let started = json(&started);
        let state = started["state"].as_str().unwrap().to_owned();
        let binding = started["binding"].as_str().unwrap().to_owned();
        app.tiktok
            .then_exchange(Ok(testing::grant(ACCESS_TOKEN, "rft.ana", OPEN_ID)));
        return (app, state, binding);
    }
    if let Given::Connected
    | Given::Posted
    | Given::Scheduled
    | Given::MediaReady
    | Given::Tracked = given
    {
        let new = NewConnection {
            provider: "tiktok".into(),
            provider_account_id: OPEN_ID.into(),
            tokens: NewTokens {
                access_token: app.cipher.encrypt(ACCESS_TOKEN),
                refresh_token: Some(app.cipher.encrypt("rft.ana")),
                ..NewTokens::default()
            },
            ..NewConnection::default()
        };
        let stored = app.store.store_connection(&ana, &new).await.unwrap();
        if given == Given::Tracked {
            use shared::store::AnalyticsStore;
            let video = shared::tiktok::videos::Video {
                id: Some(VIDEO_ID.into()),
                create_time: Some(time::OffsetDateTime::now_utc().unix_timestamp() - 3600),
                view_count: Some(120),
                ..Default::default()
            };
            let cadence = app.analytics.cadence.to_json();
            app.store
                .record_videos(stored.connection.id, &[video], &cadence, None)
                .await
                .unwrap();
        }
    }
    if given == Given::Scheduled {
        let scheduled = testing::dispatch(
            "tiktok-publish",
            &app,
            &event("tiktok-publish/scheduled.json"),
        )
        .await
        .unwrap();
        let id = json(&scheduled)["id"].as_str().unwrap().to_owned();
        return (app, id, String::new());
    }
    if given == Given::MediaReady {
        use shared::media::MediaStorage;
        let made = testing::dispatch("tiktok-media", &app, &event("tiktok-media/ok.json"))
            .await
            .unwrap();
        let id = json(&made)["id"].as_str().unwrap().to_owned();
        let key = format!("media/1/{id}");
        // A real video's header, padded to the declared size with media data.
        let header = shared::media::fixtures::mp4(&Default::default()).len();
        let video = shared::media::fixtures::mp4(&shared::media::fixtures::Video {
            data: 4096 + 1_048_576 - header,
            ..Default::default()
        });
        app.media.as_ref().unwrap().put(&key, video);
        assert_eq!(
            app.media.as_ref().unwrap().size_of(&key).await,
            Ok(Some(1_048_576))
        );
        // Ready once asked after, with the object in the bucket.
        let asked = event_with(
            "tiktok-media-status/ok.json",
            &[("REPLACE_WITH_MEDIA_ID", &id)],
        );
        let ready = testing::dispatch("tiktok-media-status", &app, &asked)
            .await
            .unwrap();
        assert_eq!(json(&ready)["status"], "ready");
        return (app, id, String::new());
    }
    if given == Given::Posted {
        let posted = testing::dispatch("tiktok-publish", &app, &event("tiktok-publish/ok.json"))
            .await
            .unwrap();
        let id = json(&posted)["id"].as_str().unwrap().to_owned();
        return (app, id, String::new());
    }
    (app, String::new(), String::new())
}

fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

fn function_of(name: &str) -> &str {
    name.split('/').next().unwrap()
}

#[tokio::test]
async fn every_event_gets_the_contract_answer() {
    for (name, given, status, code) in CASES {
        let (app, state, binding) = app(given).await;
        let req = event_with(
            name,
            &[
                ("REPLACE_WITH_STATE", &state),
                ("REPLACE_WITH_BINDING", &binding),
                ("REPLACE_WITH_POST_ID", &state),
                ("REPLACE_WITH_MEDIA_ID", &state),
            ],
        );
        let response = testing::dispatch(function_of(name), &app, &req)
            .await
            .expect("a function");
        let body = json(&response);
        assert_eq!(response.status().as_u16(), status, "{name}: {body}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "application/json", "{name}");
        if let Some(code) = code {
            assert_eq!(body["code"], code, "{name}");
            assert!(shared::error::code::ALL.contains(&code), "{name}");
            assert!(
                body["request_id"].as_str().is_some_and(|id| !id.is_empty()),
                "{name}: the runtime adds the request id"
            );
        }
        let text = body.to_string();
        assert!(
            !text.contains(ACCESS_TOKEN) && !text.contains("rft.ana"),
            "{name}: {text}"
        );
    }
}

#[tokio::test]
async fn every_events_file_is_covered() {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(events_dir()).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            files.push(format!(
                "{}/{}",
                dir.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    for file in &files {
        // The scheduled events are not HTTP requests: their own tests (the sweep's
        // below, the dispatcher's against the stack); a preflight answers no JSON.
        let scheduled = file.starts_with("refresh-connections/")
            || file.starts_with("publish-scheduled-posts/")
            || file == "route-not-found/preflight.json";
        assert!(
            scheduled || CASES.iter().any(|(name, ..)| name == file),
            "{file} has no case"
        );
    }
    for function in testing::FUNCTIONS {
        assert!(
            events_dir().join(function).is_dir(),
            "{function} has no events"
        );
    }
}

#[tokio::test]
async fn the_good_events_act_on_the_ports() {
    // Sign-in: a new user gets a custom token for the uid derived from the open_id.
    let (app, _, _) = app(Given::Nothing).await;
    let signed = testing::dispatch("oauth-tiktok", &app, &event("oauth-tiktok/new-user.json"))
        .await
        .unwrap();
    let body = json(&signed);
    let uid = shared::endpoints::oauth_tiktok::derived_uid(OPEN_ID);
    assert_eq!(body["firebase_uid"], uid.as_str());
    assert_eq!(body["firebase_token"], custom_token_for(&uid).as_str());
    assert!(app.identity.has_user(&uid));
    let row = &app.store.tiktok_rows(OPEN_ID)[0];
    assert_eq!(
        app.cipher
            .decrypt(row.access_token.as_deref().unwrap())
            .unwrap(),
        ACCESS_TOKEN,
        "stored encrypted"
    );
    assert_ne!(row.access_token.as_deref(), Some(ACCESS_TOKEN));

    // Linking: the session's user gets the account.
    let (app, _, _) = self::app(Given::Nothing).await;
    let linked = testing::dispatch("oauth-tiktok", &app, &event("oauth-tiktok/link.json"))
        .await
        .unwrap();
    assert_eq!(json(&linked)["firebase_uid"], UID);

    // Disconnect revokes at TikTok, then removes the row.
    let (app, _, _) = self::app(Given::Connected).await;
    testing::dispatch(
        "disconnect-tiktok",
        &app,
        &event("disconnect-tiktok/ok.json"),
    )
    .await
    .unwrap();
    assert!(app.store.tiktok_rows(OPEN_ID).is_empty());
    assert!(app.tiktok.calls().contains(&Call::Revoke {
        access_token: ACCESS_TOKEN.into()
    }));

    // The profile comes from TikTok, then from the cache.
    let (app, _, _) = self::app(Given::Connected).await;
    let first = testing::dispatch("tiktok-profile", &app, &event("tiktok-profile/ok.json"))
        .await
        .unwrap();
    assert_eq!(json(&first)["cached"], false);
    let second = testing::dispatch("tiktok-profile", &app, &event("tiktok-profile/ok.json"))
        .await
        .unwrap();
    assert_eq!(json(&second)["cached"], true);
    assert_eq!(json(&second)["display_name"], "Cooking with Ana");
    assert_eq!(
        app.tiktok.user_info_tokens().len(),
        1,
        "the cache saved a call"
    );
}

#[tokio::test]
async fn outages_are_the_contracts_503() {
    let (app, _, _) = app(Given::Connected).await;
    app.store.fail_next(1);
    let response = testing::dispatch("tiktok-test", &app, &event("tiktok-test/ok.json"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(json(&response)["code"], "database_unavailable");
    assert_eq!(response.headers()["retry-after"], "1");
    app.identity.go_down();
    let response = testing::dispatch("list-connections", &app, &event("list-connections/ok.json"))
        .await
        .unwrap();
    assert_eq!(json(&response)["code"], "identity_unavailable");
}

#[tokio::test]
async fn the_authorization_flow_binds_the_verifier_to_the_challenge() {
    let (app, state, binding) = app(Given::SignInStarted).await;
    assert_eq!(app.store.open_oauth_states(), 1);
    // Login CSRF: the code and state posted without the browser's binding, or with
    // another, sign no one in and leave the state for its own browser.
    for wrong in ["", "another-browsers-binding"] {
        let req = event_with(
            "tiktok-callback/sign-in.json",
            &[
                ("REPLACE_WITH_STATE", &state),
                ("REPLACE_WITH_BINDING", wrong),
            ],
        );
        let refused = testing::dispatch("tiktok-callback", &app, &req)
            .await
            .unwrap();
        assert_eq!(json(&refused)["code"], "invalid_state", "binding {wrong:?}");
        assert_eq!(app.store.open_oauth_states(), 1, "not used up");
    }
    assert!(app.tiktok.calls().is_empty(), "no code exchange");
    let req = event_with(
        "tiktok-callback/sign-in.json",
        &[
            ("REPLACE_WITH_STATE", &state),
            ("REPLACE_WITH_BINDING", &binding),
        ],
    );
    let signed = testing::dispatch("tiktok-callback", &app, &req)
        .await
        .unwrap();
    let body = json(&signed);
    let uid = shared::sign_in::derived_uid(OPEN_ID);
    assert_eq!(body["firebase_token"], custom_token_for(&uid).as_str());
    assert_eq!(body["connection"]["provider_account_id"], OPEN_ID);
    assert_eq!(body["connection"]["sign_in_enabled"], true);
    assert!(!body.to_string().contains(ACCESS_TOKEN) && !body.to_string().contains("rft.ana"));
    assert_eq!(app.store.open_oauth_states(), 0, "the state is consumed");
    let again = testing::dispatch("tiktok-callback", &app, &req)
        .await
        .unwrap();
    assert_eq!(json(&again)["code"], "invalid_state", "used once");

    // The authorize URL's challenge is the S256 of the verifier the exchange sent.
    let (app, _, _) = self::app(Given::Nothing).await;
    let started = testing::dispatch(
        "tiktok-authorize",
        &app,
        &event("tiktok-authorize/link.json"),
    )
    .await
    .unwrap();
    let started = json(&started);
    let url = reqwest::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/v2/auth/authorize/");
    assert_eq!(query["client_key"], "test-client-key");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], testing::TEST_REDIRECT_URI);
    assert_eq!(query["scope"], "user.info.basic,user.info.profile");
    assert_eq!(query["state"], started["state"].as_str().unwrap());
    app.tiktok
        .then_exchange(Ok(testing::grant(ACCESS_TOKEN, "rft.ana", OPEN_ID)));
    let state = started["state"].as_str().unwrap();
    let binding = started["binding"].as_str().unwrap();
    let req = event_with(
        "tiktok-callback/link.json",
        &[
            ("REPLACE_WITH_STATE", state),
            ("REPLACE_WITH_BINDING", binding),
        ],
    );
    let linked = json(
        &testing::dispatch("tiktok-callback", &app, &req)
            .await
            .unwrap(),
    );
    assert_eq!(linked["firebase_uid"], UID);
    assert!(
        linked["firebase_token"].is_null(),
        "linking: already signed in"
    );
    let verifier = app
        .tiktok
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::ExchangeCode { code_verifier, .. } => Some(code_verifier),
            _ => None,
        })
        .unwrap();
    // Lowercase hex by default, as TikTok compares it.
    let challenge = shared::pkce::challenge(&verifier, shared::pkce::ChallengeEncoding::Hex);
    assert_eq!(query["code_challenge"], challenge);
    assert_eq!(challenge.len(), 64);
}

#[tokio::test]
async fn a_webhook_revokes_once_and_the_sweep_refreshes_what_is_due() {
    let (app, _, _) = app(Given::Connected).await;
    let removed = event("tiktok-webhook/authorization-removed.json");
    let first = json(
        &testing::dispatch("tiktok-webhook", &app, &removed)
            .await
            .unwrap(),
    );
    assert_eq!(first["duplicate"], false);
    let row = &app.store.tiktok_rows(OPEN_ID)[0];
    assert!(
        row.revoked_at.is_some() && row.refresh_token.is_none(),
        "tokens cleared"
    );
    let again = json(
        &testing::dispatch("tiktok-webhook", &app, &removed)
            .await
            .unwrap(),
    );
    assert_eq!(again["duplicate"], true, "delivered twice, processed once");
    let listed = testing::dispatch("list-connections", &app, &event("list-connections/ok.json"))
        .await
        .unwrap();
    let connection = &json(&listed)["connections"][0];
    assert_eq!(connection["status"], "revoked");
    assert_eq!(connection["revoked_reason"], "user_disconnected");
    let tested = testing::dispatch("tiktok-test", &app, &event("tiktok-test/ok.json"))
        .await
        .unwrap();
    assert_eq!(json(&tested)["code"], "tiktok_reauth_required");
    assert!(
        app.tiktok.calls().is_empty(),
        "no TikTok call for a revoked connection"
    );

    // The scheduled event: the sweep refreshes a connection last refreshed long ago.
    let scheduled =
        std::fs::read_to_string(events_dir().join("refresh-connections/scheduled.json")).unwrap();
    let _: Value = serde_json::from_str(&scheduled).expect("EventBridge JSON");
    let (app, _, _) = self::app(Given::Connected).await;
    let mut row = app.store.tiktok_rows(OPEN_ID)[0].clone();
    row.refreshed_at = Some(time::OffsetDateTime::now_utc() - time::Duration::hours(25));
    app.store.put(row);
    app.tiktok
        .then_refresh(Ok(testing::grant("act.2", "rft.2", OPEN_ID)));
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let summary = shared::sweep::run(&app, until).await.unwrap();
    assert_eq!(
        (summary.refreshed, summary.remaining),
        (1, Some(0)),
        "{summary:?}"
    );
    let again = shared::sweep::run(&app, until).await.unwrap();
    assert_eq!(again.refreshed, 0, "refreshed just now: left alone");
}

#[tokio::test]
async fn the_catch_all_names_the_methods_a_path_has() {
    let (app, _, _) = app(Given::Nothing).await;
    let wrong = testing::dispatch(
        testing::CATCH_ALL,
        &app,
        &event("route-not-found/wrong-method.json"),
    )
    .await
    .unwrap();
    assert_eq!(wrong.headers()["allow"], "GET, OPTIONS");
    assert_eq!(json(&wrong)["request_id"], "req-route-not-found");
    let unknown = testing::dispatch(
        testing::CATCH_ALL,
        &app,
        &event("route-not-found/unknown-path.json"),
    )
    .await
    .unwrap();
    assert!(unknown.headers().get("allow").is_none());
    // OPTIONS (a browser's preflight): 204, what the path allows.
    let preflight = testing::dispatch(
        testing::CATCH_ALL,
        &app,
        &event("route-not-found/preflight.json"),
    )
    .await
    .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["allow"], "DELETE, PATCH, OPTIONS");
}

#[tokio::test]
async fn a_client_address_gets_twenty_sign_ins_in_progress_and_then_a_429() {
    let (app, _, _) = app(Given::Nothing).await;
    let authorize = |address: &'static str| {
        let req = event_with(
            "tiktok-authorize/sign-in.json",
            &[("203.0.113.10", address)],
        );
        let app = &app;
        async move {
            testing::dispatch("tiktok-authorize", app, &req)
                .await
                .unwrap()
        }
    };
    // An IPv6 client counts by its /64: these are one client.
    let same_client = ["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff::9"];
    for i in 0..20 {
        let started = authorize(same_client[i % 3]).await;
        assert_eq!(started.status().as_u16(), 200, "{}", json(&started));
    }
    let refused = authorize("2001:db8:7:1:abcd::1").await;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(json(&refused)["code"], "too_many_pending_authorizations");
    assert_eq!(refused.headers()["retry-after"], "600");
    assert_eq!(
        app.store.open_oauth_states(),
        20,
        "none evicted, none added"
    );
    // Another /64, or an IPv4 client, is another client.
    for other in ["2001:db8:7:2::1", "203.0.113.77"] {
        assert_eq!(authorize(other).await.status().as_u16(), 200, "{other}");
    }
}

/// The functions that change something on the user's behalf, with a request each.
const WRITES: [&str; 6] = [
    "tiktok-publish/ok.json",
    "disconnect-tiktok/ok.json",
    "store-token/ok.json",
    "store-token/other-provider.json",
    "store-tiktok-profile/ok.json",
    "update-connection/relabel.json",
];

#[tokio::test]
async fn a_disabled_user_or_a_revoked_session_cannot_write_but_can_read() {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (why, state) in [
        (
            "disabled",
            shared::firebase::AccountState {
                disabled: true,
                ..Default::default()
            },
        ),
        (
            "signed in before the tokens were revoked",
            shared::firebase::AccountState {
                valid_since: Some(now + 60),
                ..Default::default()
            },
        ),
    ] {
        for write in WRITES {
            let (app, _, _) = app(Given::Connected).await;
            app.identity.set_account_state(UID, state.clone());
            let before = app.store.tiktok_rows(OPEN_ID);
            let answer = testing::dispatch(function_of(write), &app, &event(write))
                .await
                .unwrap();
            assert_eq!(
                (answer.status().as_u16(), json(&answer)["code"].as_str()),
                (401, Some("unauthorized")),
                "{write}, {why}"
            );
            assert_eq!(
                app.store.tiktok_rows(OPEN_ID),
                before,
                "{write}: nothing changed"
            );
            // Reads skip the check.
            let read =
                testing::dispatch("list-connections", &app, &event("list-connections/ok.json"))
                    .await
                    .unwrap();
            assert_eq!(read.status().as_u16(), 200, "{why}");
        }
    }
}

#[tokio::test]
async fn token_sign_in_turned_off_refuses_a_sign_in_but_links() {
    let (mut app, _, _) = app(Given::Nothing).await;
    app.token_sign_in_enabled = false;
    let refused = testing::dispatch("oauth-tiktok", &app, &event("oauth-tiktok/new-user.json"))
        .await
        .unwrap();
    assert_eq!(
        (refused.status().as_u16(), json(&refused)["code"].as_str()),
        (403, Some("token_sign_in_disabled"))
    );
    assert!(app.tiktok.calls().is_empty(), "no TikTok call");
    let linked = testing::dispatch("oauth-tiktok", &app, &event("oauth-tiktok/link.json"))
        .await
        .unwrap();
    assert_eq!(linked.status().as_u16(), 200, "{}", json(&linked));
}

#[tokio::test]
async fn an_unproved_token_starts_no_database_read_and_no_firebase_lookup() {
    for event_file in [
        "oauth-tiktok/new-user.json",
        "oauth-tiktok/session-email.json",
    ] {
        let (app, _, _) = app(Given::Nothing).await;
        let (store_before, admin_before) = (app.store.calls(), app.identity.admin_calls());
        // A token TikTok does not know: junk, flooding the sign-in route.
        let req = event_with(event_file, &[(ACCESS_TOKEN, "act.junk!0000.va")]);
        let refused = testing::dispatch("oauth-tiktok", &app, &req).await.unwrap();
        assert_eq!(
            (refused.status().as_u16(), json(&refused)["code"].as_str()),
            (401, Some("tiktok_token_invalid")),
            "{event_file}"
        );
        assert_eq!(app.tiktok.calls().len(), 1, "one TikTok call");
        assert_eq!(
            app.store.calls(),
            store_before,
            "{event_file}: no database call"
        );
        assert_eq!(
            app.identity.admin_calls(),
            admin_before,
            "{event_file}: no Firebase lookup"
        );
    }
}

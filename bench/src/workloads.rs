//! The requests each function's main path is measured with, and their setup (users,
//! TikTok accounts, connections, posts) at the local stack.

use integration_tests::*;
use serde_json::{json, Value};

use crate::ALL;

/// The requests of a function's main path, one per warm request, and their setup.
pub(crate) struct Workload {
    pub(crate) events: Vec<String>,
}

pub(crate) async fn workload(function: &str, n: usize) -> Workload {
    let app = live_app();
    let fake = TikTokFake::new();
    let user = firebase_user().await;
    let account = fake.account(ALL).await;
    let connect = |account: TikTokAccount| {
        let (app, user) = (&app, &user);
        async move {
            let r = reply(
                dispatch(
                    "store-token",
                    app,
                    good_request("store-token", user, &account),
                )
                .await,
            );
            assert!(r.status == 201 || r.status == 200, "{}", r.body);
        }
    };
    let events = match function {
        "oauth-tiktok" => {
            // A returning user signing in: the TikTok proof, the database's precheck and
            // write, and a Firebase email lookup it does not wait for.
            let event = sign_in_event(&account, &format!("{}@example.com", unique("bench")));
            let first = reply(
                dispatch(
                    "oauth-tiktok",
                    &app,
                    lambda_http::request::from_str(&event).unwrap(),
                )
                .await,
            );
            assert_eq!(first.status, 200, "{}", first.body);
            vec![event; n]
        }
        "disconnect-tiktok" => {
            // Each request disconnects another account (40 per user: a user connects at
            // most 50).
            let mut events = Vec::with_capacity(n);
            let mut owner = firebase_user().await;
            for i in 0..n {
                if i > 0 && i % 40 == 0 {
                    owner = firebase_user().await;
                }
                let account = fake.account(ALL).await;
                let stored = good_request("store-token", &owner, &account);
                let r = reply(dispatch("store-token", &app, stored).await);
                assert_eq!(r.status, 201, "{}", r.body);
                events.push(good_request_json(function, &owner, &account));
            }
            events
        }
        "floor" => vec![event_json("tiktok-test/no-auth.json", &[]); n],
        CATCH_ALL => vec![event_json("route-not-found/unknown-path.json", &[]); n],
        "tiktok-authorize" => {
            // Each from its own address: a client address has 20 sign-ins in progress at most.
            (0..n)
                .map(|i| {
                    let address = format!("10.{}.{}.2", i / 250, i % 250);
                    let fill = [
                        ("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI),
                        ("203.0.113.10", &address),
                    ];
                    event_json("tiktok-authorize/sign-in.json", &fill)
                })
                .collect()
        }
        "tiktok-callback" => {
            // A returning user signing in through the server-side flow: each request
            // finishes its own authorization (started, consented at the fake).
            // Each from its own address: sign-in states are limited per client address.
            let mut events = Vec::with_capacity(n + 1);
            for i in 0..=n {
                let redirect = [("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI)];
                let mut start: Value =
                    serde_json::from_str(&event_json("tiktok-authorize/sign-in.json", &redirect))
                        .unwrap();
                start["requestContext"]["identity"]["sourceIp"] =
                    Value::String(format!("10.{}.{}.1", i / 250, i % 250));
                let start = lambda_http::request::from_str(&start.to_string()).unwrap();
                let started = reply(dispatch("tiktok-authorize", &app, start).await);
                let url = started.body["authorize_url"].as_str().expect("url");
                let (code, _) = fake.consent(url, Some(&account.open_id), &[]).await;
                let state = started.body["state"].as_str().expect("state").to_owned();
                let binding = started.body["binding"]
                    .as_str()
                    .expect("binding")
                    .to_owned();
                let fill = [
                    ("REPLACE_WITH_CODE", code.as_str()),
                    ("REPLACE_WITH_STATE", &state),
                    ("REPLACE_WITH_BINDING", &binding),
                ];
                events.push(event_json("tiktok-callback/sign-in.json", &fill));
            }
            // The first one signs the account up, so the measured ones are returning.
            let first = lambda_http::request::from_str(&events.remove(0)).unwrap();
            let signed_up = reply(dispatch("tiktok-callback", &app, first).await);
            assert_eq!(signed_up.status, 200, "{}", signed_up.body);
            events
        }
        "tiktok-publish" => {
            // A new direct post (upload) each time, five per account: the capacity ledger
            // holds a creator to TikTok's 6 inits a minute, and the load is the
            // benchmark's, not one creator's (40 accounts per user: at most 50 each).
            let creator = json!({"rate_limited": false, "max_posts_per_day": 1_000_000});
            let mut events = Vec::with_capacity(n);
            let mut owner = firebase_user().await;
            let mut poster = None;
            for i in 0..n {
                if i % 5 == 0 {
                    if i > 0 && i % 200 == 0 {
                        owner = firebase_user().await;
                    }
                    let account = fake.account_with(ALL, creator.clone()).await;
                    let stored = good_request("store-token", &owner, &account);
                    let r = reply(dispatch("store-token", &app, stored).await);
                    assert_eq!(r.status, 201, "{}", r.body);
                    poster = Some(account);
                }
                let account = poster.as_ref().expect("an account");
                events.push(good_request_json(function, &owner, account));
            }
            events
        }
        "tiktok-creator-info" | "tiktok-post-status" => {
            // TikTok's per-user posting limits (6 inits a minute, 15 posts a day) are off
            // for this account: the load is the benchmark's, not one creator's.
            let creator = json!({"rate_limited": false, "max_posts_per_day": 1_000_000});
            let account = fake.account_with(ALL, creator).await;
            connect(account.clone()).await;
            if function != "tiktok-post-status" {
                // Creator info fresh from TikTok each time.
                vec![good_request_json(function, &user, &account); n]
            } else {
                // A post TikTok is still processing: each read asks TikTok, then updates it.
                let posted = good_request("tiktok-publish", &user, &account);
                let r = reply(dispatch("tiktok-publish", &app, posted).await);
                assert_eq!(r.status, 201, "{}", r.body);
                let id = r.body["id"].as_str().expect("post id");
                let post = [("REPLACE_WITH_POST_ID", id)];
                vec![request_json("tiktok-post-status/ok.json", &user, &account, &post); n]
            }
        }
        "tiktok-media-status" => {
            // Each request asks after a media object of its own whose upload has not
            // arrived: the HEAD at S3 each poll makes.
            connect(account.clone()).await;
            let mut events = Vec::with_capacity(n);
            for _ in 0..n {
                let made = good_request("tiktok-media", &user, &account);
                let r = reply(dispatch("tiktok-media", &app, made).await);
                assert_eq!(r.status, 201, "{}", r.body);
                let id = r.body["id"].as_str().expect("media id").to_owned();
                let media = [("REPLACE_WITH_MEDIA_ID", id.as_str())];
                events.push(request_json(
                    "tiktok-media-status/ok.json",
                    &user,
                    &account,
                    &media,
                ));
            }
            events
        }
        "update-tiktok-post" | "cancel-tiktok-post" | "retry-tiktok-post" => {
            // Each request changes a post of its own, scheduled for tomorrow (a retry's
            // post failed first).
            connect(account.clone()).await;
            let mut events = Vec::with_capacity(n);
            for _ in 0..n {
                let scheduled = request(
                    "tiktok-publish/scheduled.json",
                    &user,
                    &account,
                    &[("5b1d-schedule-once", &unique("bench"))],
                );
                let r = reply(dispatch("tiktok-publish", &app, scheduled).await);
                assert_eq!(r.status, 201, "{}", r.body);
                let id = r.body["id"].as_str().expect("post id").to_owned();
                if function == "retry-tiktok-post" {
                    psql(&format!(
                        "update tiktok_posts set status = 'FAILED', fail_reason = 'bench' where id = '{id}'"
                    ));
                }
                let post = [("REPLACE_WITH_POST_ID", id.as_str())];
                events.push(request_json(
                    &format!("{function}/ok.json"),
                    &user,
                    &account,
                    &post,
                ));
            }
            events
        }
        "tiktok-analytics-video" => {
            // The video the sync found for the account (good_request's video id), with
            // its first day's hourly points.
            connect(account.clone()).await;
            psql(&format!(
                "insert into tiktok_videos (connection_id, video_id, create_time, views, likes, \
                 last_synced_at, next_sync_at, tier) \
                 select id, '7300000000000000001', now() - interval '30 hours', 2400, 90, now(), \
                 now() + interval '6 hours', 1 from social_connections where provider_account_id = '{open_id}'; \
                 insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views) \
                 select id, '7300000000000000001', date_trunc('hour', now()) - h * interval '1 hour', \
                 true, 100 * (25 - h) from social_connections, generate_series(6, 29) h \
                 where provider_account_id = '{open_id}'",
                open_id = account.open_id
            ));
            vec![good_request_json(function, &user, &account); n]
        }
        _ => {
            connect(account.clone()).await;
            if function == "tiktok-profile" {
                // Warm the cache: the main path is the cached profile.
                let _ = dispatch(function, &app, good_request(function, &user, &account)).await;
            }
            vec![good_request_json(function, &user, &account); n]
        }
    };
    Workload { events }
}

/// An oauth-tiktok sign-in (no session) with this account's tokens and contact email.
pub(crate) fn sign_in_event(account: &TikTokAccount, email: &str) -> String {
    let body = json!({"provider": "tiktok", "provider_account_id": account.open_id,
        "access_token": account.access_token, "refresh_token": account.refresh_token,
        "expires_in": 7200, "email": email});
    let mut event: Value =
        serde_json::from_str(&event_json("oauth-tiktok/no-email.json", &[])).unwrap();
    event["body"] = Value::String(body.to_string());
    event.to_string()
}

/// New users signing up with TikTok (oauth-tiktok): each request a new TikTok account
/// and email, so every one creates its user.
pub(crate) async fn sign_up_workload(n: usize) -> Workload {
    let fake = TikTokFake::new();
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        let account = fake.account(ALL).await;
        let email = format!("{}@example.com", unique("signup"));
        events.push(sign_in_event(&account, &email));
    }
    Workload { events }
}

//! Connection health against the local stack: TikTok's signed webhooks
//! (authorization.removed) and the keep-alive sweep (refresh-connections).

use integration_tests::*;
use lambda_http::Body;
use serde_json::{json, Value};

/// An `authorization.removed` that happened at `at` (Unix seconds).
fn removal(open_id: &str, reason: u8, at: i64) -> String {
    json!({"client_key": stack_var("TIKTOK_CLIENT_KEY"), "event": "authorization.removed",
           "create_time": at,
           "user_openid": open_id, "content": json!({"reason": reason}).to_string()})
    .to_string()
}

use integration_tests::webhook_delivery as delivery;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn listed(app: &shared::LiveApp, user: &FirebaseUser, open_id: &str) -> Value {
    Box::pin(listed_connection(app, &user.id_token, open_id)).await
}

/// The tests of this file run one at a time: some count every call the TikTok fake
/// received, whoever it was for.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The connection is active again, holds the new grant and no revocation.
async fn assert_reconnected(
    app: &shared::LiveApp,
    db: &Db,
    user: &FirebaseUser,
    id: i64,
    renewed: &TikTokAccount,
) {
    let shown = listed(app, user, &renewed.open_id).await;
    assert_eq!(
        (&shown["status"], &shown["revoked_reason"]),
        (&json!("active"), &Value::Null),
        "{shown}"
    );
    let row = db.connection(id).await;
    assert!(
        row["revoked_at"].is_null() && row["revoked_reason"].is_null(),
        "{row}"
    );
    assert_eq!(decrypted(&row, "access_token"), renewed.access_token);
    assert_eq!(decrypted(&row, "refresh_token"), renewed.refresh_token);
}

/// A delivery signed now with the app's secret, answered by tiktok-webhook.
async fn deliver(app: &shared::LiveApp, body: &str, secret: &str) -> Reply {
    send("tiktok-webhook", app, delivery(body, secret, Some(now()))).await
}

/// Acknowledged and recorded: not a duplicate.
fn assert_first_delivery(r: &Reply) {
    assert_eq!(
        (r.status, &r.body["duplicate"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
}

/// Every call the TikTok fake has received, for any account or none.
async fn all_fake_calls() -> Vec<Value> {
    TikTokFake::new().all_calls().await
}

/// The deliveries recorded for this open_id.
fn deliveries_for(open_id: &str) -> String {
    psql(&format!(
        "select count(*) from tiktok_webhook_events where user_openid = '{open_id}'"
    ))
}

/// `function`'s good request for the account, with these query parameters.
fn asking(
    function: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
    query: &[(&str, &str)],
) -> lambda_http::Request {
    let mut params = vec![("account_id", account.open_id.as_str())];
    params.extend_from_slice(query);
    with_query(good_request(function, user, account), &params)
}

#[tokio::test]
async fn a_signed_removal_revokes_once_and_forgeries_change_nothing() {
    let _serial = SERIAL.lock().await;
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = Box::pin(given::connected_user(&app)).await;
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let body = removal(&account.open_id, 1, now());
    // The profile is cached (fresh) before the removal.
    let profile = |force: bool| {
        let query: &[(&str, &str)] = if force { &[("force", "true")] } else { &[] };
        asking("tiktok-profile", &user, &account, query)
    };
    let r = send("tiktok-profile", &app, profile(false)).await;
    assert_eq!(
        (r.status, &r.body["cached"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    let r = send("tiktok-profile", &app, profile(false)).await;
    assert_eq!(
        (r.status, &r.body["cached"]),
        (200, &json!(true)),
        "{}",
        r.body
    );
    let before = db.connection(id).await;

    // Forgeries: another secret, a changed body, a signature older than TikTok's 72
    // hours of retries or more than 5 minutes ahead of our clock, no header.
    let changed = body.replace("\"reason\\\":1", "\"reason\\\":2");
    assert_ne!(changed, body);
    for (name, req) in [
        (
            "wrong secret",
            delivery(&body, "not-the-secret", Some(now())),
        ),
        ("changed body", {
            let mut req = delivery(&body, &secret, Some(now()));
            *req.body_mut() = Body::Text(changed.clone());
            req
        }),
        (
            "73 hours old",
            delivery(&body, &secret, Some(now() - 73 * 3600)),
        ),
        (
            "6 minutes ahead",
            delivery(&body, &secret, Some(now() + 360)),
        ),
        ("no header", delivery(&body, &secret, None)),
    ] {
        let r = send("tiktok-webhook", &app, req).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("invalid_signature")),
            "{name}"
        );
    }
    assert_eq!(db.connection(id).await, before, "nothing changed");
    assert_eq!(deliveries_for(&account.open_id), "0", "nothing recorded");

    // A removal older than the connection's grant (delivered late, after the user
    // authorized the app again): recorded, nothing revoked.
    let stale = removal(&account.open_id, 1, now() - 3 * 24 * 3600);
    let r = deliver(&app, &stale, &secret).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        db.connection(id).await["revoked_at"].is_null(),
        "a newer grant stays"
    );

    // The real delivery: revoked, tokens cleared; the redelivery changes nothing.
    let r = deliver(&app, &body, &secret).await;
    assert_first_delivery(&r);
    let row = db.connection(id).await;
    assert!(row["revoked_at"].is_string());
    assert_eq!(row["revoked_reason"], 1);
    assert!(
        row["refresh_token"].is_null() && row["access_token"] == "",
        "{row}"
    );
    let r = deliver(&app, &body, &secret).await;
    assert_eq!(r.body["duplicate"], true);
    assert_eq!(
        db.connection(id).await,
        row,
        "the second delivery changed nothing"
    );

    // Revoked: the list says so; profile (cached or forced), test, videos and creator
    // info answer reauth without any call at TikTok. The calls are counted over the
    // whole fake: the revoked row has no token left, so a call would be filed under no
    // account.
    let shown = listed(&app, &user, &account.open_id).await;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked_reason"], "user_disconnected");
    let calls = all_fake_calls().await.len();
    send("tiktok-profile", &app, profile(false))
        .await
        .assert_error(409, "tiktok_reauth_required");
    send("tiktok-profile", &app, profile(true))
        .await
        .assert_error(409, "tiktok_reauth_required");
    let test = send(
        "tiktok-test",
        &app,
        asking("tiktok-test", &user, &account, &[]),
    )
    .await;
    assert_eq!(
        (
            test.status,
            &test.body["connected"],
            test.body["code"].as_str()
        ),
        (200, &json!(false), Some("tiktok_reauth_required")),
        "{}",
        test.body
    );
    for function in ["tiktok-videos", "tiktok-creator-info"] {
        let r = send(function, &app, asking(function, &user, &account, &[])).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("tiktok_reauth_required")),
            "{function}: {}",
            r.body
        );
    }
    let after = all_fake_calls().await;
    assert_eq!(
        after.len(),
        calls,
        "no TikTok call of any kind: {:?}",
        after.get(calls..)
    );
    assert_eq!(db.connection(id).await, row, "nothing written either");

    // Connecting it again through store-token clears the revocation.
    let renewed = fake.reauthorize(&account).await;
    Box::pin(given::connection(&user, &renewed).through_store_token_again(&app)).await;
    assert_reconnected(&app, &db, &user, id, &renewed).await;

    // Removed again, then linked again through oauth-tiktok with a session: cleared too.
    let again = removal(&account.open_id, 2, now());
    let r = deliver(&app, &again, &secret).await;
    assert_first_delivery(&r);
    let shown = listed(&app, &user, &account.open_id).await;
    assert_eq!(
        (&shown["status"], &shown["revoked_reason"]),
        (&json!("revoked"), &json!("account_deleted")),
        "{shown}"
    );
    let renewed = fake.reauthorize(&account).await;
    Box::pin(given::linked_through_oauth(&app, &user, &renewed)).await;
    assert_reconnected(&app, &db, &user, id, &renewed).await;

    // And TikTok is called again (the count above sees calls).
    let calls = all_fake_calls().await.len();
    let r = send("tiktok-profile", &app, profile(true)).await;
    assert_eq!(
        (r.status, &r.body["cached"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    assert!(
        all_fake_calls().await.len() > calls,
        "the profile came from TikTok"
    );
}

/// A removal-shaped delivery of `event` for `open_id`, padded to exactly `len` bytes.
fn padded(open_id: &str, event: &str, len: usize) -> String {
    let bare = json!({"client_key": stack_var("TIKTOK_CLIENT_KEY"), "event": event,
                      "create_time": now(), "user_openid": open_id,
                      "content": json!({"reason": 1}).to_string(), "pad": ""})
    .to_string();
    let body = bare.replacen(
        "\"pad\":\"\"",
        &format!("\"pad\":\"{}\"", "a".repeat(len - bare.len())),
        1,
    );
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn oversized_foreign_and_future_deliveries_change_nothing() {
    let _serial = SERIAL.lock().await;
    let (app, db) = (live_app(), Db::new());
    let given::Connected { user, account, id } = Box::pin(given::connected_user(&app)).await;
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let key = stack_var("TIKTOK_CLIENT_KEY");
    let before = db.connection(id).await;
    let open_id = account.open_id.as_str();

    // Correctly signed, but over 64 KiB: 413 before anything is read.
    for len in [64 * 1024 + 1, 70 * 1024] {
        let body = padded(open_id, "authorization.removed", len);
        let r = deliver(&app, &body, &secret).await;
        r.assert_error(413, "payload_too_large");
    }

    // Correctly signed, for another app (or none): 401 invalid_signature.
    // (`None`: no `client_key` field at all.)
    let with_client_key = |client_key: Option<Value>| {
        let mut envelope: Value = serde_json::from_str(&removal(open_id, 1, now())).unwrap();
        let fields = envelope.as_object_mut().unwrap();
        match client_key {
            Some(value) => fields.insert("client_key".into(), value),
            None => fields.remove("client_key"),
        };
        envelope.to_string()
    };
    for (name, body) in [
        (
            "another app's key",
            with_client_key(Some(json!("another-apps-client-key"))),
        ),
        (
            "our key with a space",
            with_client_key(Some(json!(format!("{key} ")))),
        ),
        (
            "our key's prefix",
            with_client_key(Some(json!(&key[..key.len() - 1]))),
        ),
        ("a null key", with_client_key(Some(Value::Null))),
        ("no key", with_client_key(None)),
    ] {
        let r = deliver(&app, &body, &secret).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("invalid_signature")),
            "{name}: {}",
            r.body
        );
    }

    // Signed 6 minutes in the future: 401.
    let body = removal(open_id, 1, now());
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(&body, &secret, Some(now() + 360)),
    )
    .await;
    r.assert_error(401, "invalid_signature");

    assert_eq!(db.connection(id).await, before, "nothing changed");
    assert_eq!(deliveries_for(open_id), "0", "nothing recorded");
    assert_eq!(listed(&app, &user, open_id).await["status"], "active");

    // The limits are where the contract puts them: exactly 64 KiB is read (an event
    // this app only records), and a delivery signed 4 minutes ahead is accepted.
    let body = padded(open_id, "test.padded", 64 * 1024);
    let r = deliver(&app, &body, &secret).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(deliveries_for(open_id), "1");
    assert_eq!(db.connection(id).await["revoked_at"], Value::Null);
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(
            &padded(open_id, "authorization.removed", 64 * 1024),
            &secret,
            Some(now() + 240),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = listed(&app, &user, open_id).await;
    assert_eq!(
        (&shown["status"], &shown["revoked_reason"]),
        (&json!("revoked"), &json!("user_disconnected")),
        "{shown}"
    );
}

#[tokio::test]
async fn each_removal_reason_is_named_in_the_list() {
    let _serial = SERIAL.lock().await;
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    // The contract's names for TikTok's reasons 0-5, in order.
    let names: Vec<&str> =
        "unknown user_disconnected account_deleted age_changed account_banned developer_revoked"
            .split(' ')
            .collect();
    let user = given::user().await;
    let accounts = fake.accounts::<6>(ALL_SCOPES).await;
    let mut ids = Vec::new();
    for account in &accounts {
        let row = given::connection(&user, account)
            .not_primary()
            .as_row(&db)
            .await;
        ids.push(row["id"].as_i64().unwrap());
    }
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    for (reason, account) in accounts.iter().enumerate() {
        let body = removal(&account.open_id, reason as u8, now());
        let r = deliver(&app, &body, &secret).await;
        assert_eq!(
            (r.status, &r.body["duplicate"]),
            (200, &json!(false)),
            "reason {reason}: {}",
            r.body
        );
    }
    for (reason, (account, id)) in accounts.iter().zip(&ids).enumerate() {
        let shown = listed(&app, &user, &account.open_id).await;
        assert_eq!(
            (shown["status"].as_str(), shown["revoked_reason"].as_str()),
            (Some("revoked"), Some(names[reason])),
            "reason {reason}: {shown}"
        );
        let row = db.connection(*id).await;
        assert_eq!(row["revoked_reason"], reason, "{row}");
        assert!(
            row["refresh_token"].is_null() && row["access_token"] == "",
            "{row}"
        );
    }
}

/// Backdates a connection's last refresh.
fn refreshed_hours_ago(id: i64, hours: i64) {
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '{hours} hours' where id = {id}"
    ));
}

/// One connection's columns as `psql` reads them (`|` between them).
fn columns(id: i64, sql: &str) -> String {
    psql(&format!(
        "select {sql} from social_connections where id = {id}"
    ))
}

#[tokio::test]
async fn the_sweep_keeps_connections_alive_and_finds_dead_ones() {
    let _serial = SERIAL.lock().await;
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let until = || tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let user = given::user().await;
    let [due, fresh, dead, expiring] = fake.accounts::<4>(ALL_SCOPES).await;
    let mut ids = Vec::new();
    for account in [&due, &fresh, &dead, &expiring] {
        let row = given::connection(&user, account)
            .not_primary()
            .as_row(&db)
            .await;
        ids.push(row["id"].as_i64().unwrap());
    }
    refreshed_hours_ago(ids[0], 25);
    refreshed_hours_ago(ids[1], 1);
    refreshed_hours_ago(ids[2], 25);
    fake.invalidate_refresh(&dead.open_id).await;
    // The due one's refresh token ends in 30 days: its rotation moves that to TikTok's
    // new expiry (180 days).
    psql(&format!(
        "update social_connections set refresh_expires_at = now() + interval '30 days' where id = {}",
        ids[0]
    ));
    psql(&format!(
        "update social_connections set refresh_expires_at = now() + interval '10 days' where id = {}",
        ids[3]
    ));
    let before = db.connection(ids[0]).await;

    let summary = shared::sweep::run(&app, until()).await.unwrap();
    assert!(
        summary.refreshed >= 1 && summary.reauth_required >= 1,
        "{summary:?}"
    );
    // Refreshed and stored: both tokens rotated, the pair stored the fake's current one,
    // the refresh token's expiry moved on.
    let row = db.connection(ids[0]).await;
    let (access, refresh) = (
        decrypted(&row, "access_token"),
        decrypted(&row, "refresh_token"),
    );
    assert_ne!(access, due.access_token, "access token rotated");
    assert_ne!(refresh, due.refresh_token, "refresh token rotated");
    assert_ne!(row["access_token"], before["access_token"]);
    assert_ne!(row["refresh_token"], before["refresh_token"]);
    assert!(fake.refresh_token_valid(&due.open_id, &refresh).await);
    let state = fake.account_state(&due.open_id).await;
    assert!(
        state["valid_access_tokens"]
            .as_array()
            .is_some_and(|live| live.contains(&json!(access))),
        "the stored access token is live at TikTok"
    );
    assert_ne!(row["refresh_expires_at"], before["refresh_expires_at"]);
    assert_eq!(
        columns(
            ids[0],
            "refresh_expires_at > now() + interval '170 days', \
             refreshed_at > now() - interval '10 minutes', reauth_required_at is null"
        ),
        "t|t|t",
        "refresh expiry and refresh time moved on: {row}"
    );
    assert_eq!(
        fake.count(&fresh.open_id, "token").await,
        0,
        "refreshed an hour ago: left alone"
    );
    assert_eq!(
        listed(&app, &user, &dead.open_id).await["status"],
        "reauth_required"
    );
    assert_eq!(columns(ids[2], "reauth_required_at is not null"), "t");
    let shown = listed(&app, &user, &expiring.open_id).await;
    assert_eq!(shown["status"], "expiring", "{shown}");
    let ends = shown["refresh_expires_at"]
        .as_str()
        .and_then(shared::timestamp::parse)
        .unwrap_or_else(|| panic!("refresh_expires_at shown: {shown}"));
    let in_days = (ends - time::OffsetDateTime::now_utc()).whole_seconds() as f64 / 86_400.0;
    assert!((9.9..=10.01).contains(&in_days), "{in_days} days: {shown}");

    // TikTok down (answering 503, then unreachable): the due row is attempted, nothing
    // changes, it is not marked reauth_required, the run ends cleanly.
    refreshed_hours_ago(ids[0], 25);
    let before = db.connection(ids[0]).await;
    let stored_refresh = decrypted(&before, "refresh_token");
    let unchanged = |after: &Value, when: &str| {
        for column in [
            "access_token",
            "refresh_token",
            "expires_at",
            "refresh_expires_at",
            "refreshed_at",
            "reauth_required_at",
            "revoked_at",
            "scope",
        ] {
            assert_eq!(after[column], before[column], "{when}: {column}");
        }
        assert!(after["reauth_required_at"].is_null(), "{when}: {after}");
    };
    let failing = StaticServer::start(
        503,
        vec![],
        json!({"error": "server_error", "error_description": "down"}).to_string(),
    )
    .await;
    let down = [
        ("answering 503", failing.url.clone()),
        ("unreachable", closed_port_url()),
    ];
    for (when, url) in down {
        // A failed refresh keeps its claim until the lease lapses: each run starts
        // with the row unclaimed.
        psql(&format!(
            "update social_connections set refresh_claimed_until = null where id = {}",
            ids[0]
        ));
        let hits = failing.hits();
        let down = app_with(&[("TIKTOK_API_BASE_URL", &url)]);
        let summary = shared::sweep::run(&down, until()).await.unwrap();
        assert_eq!(
            (summary.refreshed, summary.reauth_required),
            (0, 0),
            "{when}: {summary:?}"
        );
        assert!(summary.failed >= 1, "{when}: {summary:?}");
        assert!(
            summary.remaining.is_some_and(|n| n >= 1),
            "{when}: still due: {summary:?}"
        );
        if url == failing.url {
            assert!(failing.hits() > hits, "{when}: TikTok was called");
            // The token travels form-encoded (TikTok's have a `!`: %21), whole.
            let refresh_form = reqwest::Url::parse_with_params(
                "http://form.invalid/",
                &[("refresh_token", &stored_refresh)],
            )
            .unwrap()
            .query()
            .unwrap()
            .to_owned();
            assert!(
                failing
                    .requests()
                    .iter()
                    .any(|r| r.starts_with("POST /v2/oauth/token/") && r.contains(&refresh_form)),
                "{when}: the due connection's refresh was attempted"
            );
        }
        unchanged(&db.connection(ids[0]).await, when);
        assert_eq!(
            listed(&app, &user, &due.open_id).await["status"],
            "active",
            "{when}"
        );
    }

    // Two concurrent runs over 200 due connections: each refreshed exactly once.
    psql("update social_connections set refresh_claimed_until = null");
    let many: Vec<TikTokAccount> = fake.accounts::<200>(ALL_SCOPES).await.into();
    // Four users of 50 accounts each (the most one user may connect).
    let owners = given::users::<4>().await;
    let mut many_ids = Vec::new();
    for (i, account) in many.iter().enumerate() {
        let row = given::connection(&owners[i / 50], account)
            .not_primary()
            .as_row(&db)
            .await;
        many_ids.push(row["id"].as_i64().unwrap());
    }
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '2 days' where id in ({})",
        many_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    ));
    let (a, b) = tokio::join!(
        shared::sweep::run(&app, until()),
        shared::sweep::run(&app, until())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.refreshed + b.refreshed >= 200, "{a:?} {b:?}");
    for account in &many {
        assert_eq!(
            fake.count(&account.open_id, "token").await,
            1,
            "{}",
            account.open_id
        );
    }
}

#[tokio::test]
async fn deliveries_are_kept_a_week_then_cleared() {
    let _serial = SERIAL.lock().await;
    let app = live_app();
    let key = unique("retention");
    psql(&format!(
        "insert into tiktok_webhook_events (event_key, event, received_at) values \
         ('{key}-8d', 'test.old', now() - interval '8 days'), \
         ('{key}-6d', 'test.recent', now() - interval '6 days')"
    ));
    let body = json!({"client_key": stack_var("TIKTOK_CLIENT_KEY"), "event": "test.unknown",
                      "create_time": now(), "user_openid": key, "content": "{}"})
    .to_string();
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let r = deliver(&app, &body, &secret).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kept = |suffix: &str| {
        psql(&format!(
            "select count(*) from tiktok_webhook_events where event_key = '{key}-{suffix}'"
        ))
    };
    assert_eq!(kept("8d"), "0", "a delivery older than a week is cleared");
    assert_eq!(kept("6d"), "1", "a delivery of this week is kept");
}

#[tokio::test]
async fn a_removal_retried_an_hour_after_a_503_still_revokes_once() {
    let _serial = SERIAL.lock().await;
    let (app, db) = (live_app(), Db::new());
    let given::Connected { account, id, .. } = Box::pin(given::connected_user(&app)).await;
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    // The connection was made before the user removed the app, an hour ago.
    psql(&format!(
        "update social_connections set created_at = now() - interval '2 hours', \
         updated_at = now() - interval '2 hours', refreshed_at = now() - interval '2 hours' \
         where id = {id}"
    ));
    let sent_at = now() - 3600;
    let body = removal(&account.open_id, 1, sent_at);
    // The first delivery meets a database outage: 503, so TikTok retries.
    let down = app_with(&[("SUPABASE_REST_URL", &closed_port_url())]);
    let first = delivery(&body, &secret, Some(sent_at));
    send("tiktok-webhook", &down, first)
        .await
        .assert_error(503, "database_unavailable");
    assert!(db.connection(id).await["revoked_at"].is_null());
    // The retry comes an hour later, with the first signature (whether TikTok signs a
    // retry anew is not documented): accepted, revoked, once.
    let retry = || delivery(&body, &secret, Some(sent_at));
    let r = send("tiktok-webhook", &app, retry()).await;
    assert_first_delivery(&r);
    let row = db.connection(id).await;
    assert!(row["revoked_at"].is_string(), "{row}");
    let r = send("tiktok-webhook", &app, retry()).await;
    assert_eq!(r.body["duplicate"], true, "{}", r.body);
    // Signed anew, the same event is the same delivery.
    let r = deliver(&app, &body, &secret).await;
    assert_eq!(r.body["duplicate"], true, "{}", r.body);
    assert_eq!(db.connection(id).await, row);
}

#[tokio::test]
async fn create_times_in_milliseconds_are_ordered_as_seconds() {
    let _serial = SERIAL.lock().await;
    let (app, db) = (live_app(), Db::new());
    let given::Connected { account, id, .. } = Box::pin(given::connected_user(&app)).await;
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    // A removal from three days ago, before this grant, in milliseconds: read as
    // milliseconds it would be far in the future and revoke the newer grant.
    let stale = removal(&account.open_id, 1, (now() - 3 * 24 * 3600) * 1000);
    let r = deliver(&app, &stale, &secret).await;
    assert_first_delivery(&r);
    assert!(
        db.connection(id).await["revoked_at"].is_null(),
        "a newer grant stays"
    );
    let recorded = psql(&format!(
        "select create_time from tiktok_webhook_events where user_openid = '{}'",
        account.open_id
    ));
    let seconds: i64 = recorded.trim().parse().expect("a create_time");
    assert!(
        (seconds - (now() - 3 * 24 * 3600)).abs() < 60,
        "recorded in seconds: {seconds}"
    );
    // A current one in milliseconds revokes.
    let current = removal(&account.open_id, 1, now() * 1000);
    let r = deliver(&app, &current, &secret).await;
    assert_first_delivery(&r);
    assert!(db.connection(id).await["revoked_at"].is_string());
}

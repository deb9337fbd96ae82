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
    listed_connection(app, &user.id_token, open_id).await
}

#[tokio::test]
async fn a_signed_removal_revokes_once_and_forgeries_change_nothing() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let body = removal(&account.open_id, 1, now());
    let before = db.connection(id).await;

    // Forgeries: another secret, a changed body, a stale timestamp, no header.
    let changed = body.replace("\"reason\\\":1", "\"reason\\\":2");
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
        ("6 minutes old", delivery(&body, &secret, Some(now() - 360))),
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

    // A removal older than the connection's grant (delivered late, after the user
    // authorized the app again): recorded, nothing revoked.
    let stale = removal(&account.open_id, 1, now() - 3 * 24 * 3600);
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(&stale, &secret, Some(now())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        db.connection(id).await["revoked_at"].is_null(),
        "a newer grant stays"
    );

    // The real delivery: revoked, tokens cleared; the redelivery changes nothing.
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(&body, &secret, Some(now())),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["duplicate"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    let row = db.connection(id).await;
    assert!(row["revoked_at"].is_string());
    assert_eq!(row["revoked_reason"], 1);
    assert!(
        row["refresh_token"].is_null() && row["access_token"] == "",
        "{row}"
    );
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(&body, &secret, Some(now())),
    )
    .await;
    assert_eq!(r.body["duplicate"], true);
    assert_eq!(
        db.connection(id).await,
        row,
        "the second delivery changed nothing"
    );

    // Revoked: the list says so, profile and test answer reauth without calling TikTok.
    let shown = listed(&app, &user, &account.open_id).await;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked_reason"], "user_disconnected");
    let calls = fake.calls(&account.open_id).await.len();
    let profile = send_good("tiktok-profile", &app, &user, &account).await;
    let mut forced = with_query(
        good_request("tiktok-profile", &user, &account),
        &[("force", "true")],
    );
    forced = with_authorization(forced, Some(&format!("Bearer {}", user.id_token)));
    let forced = send("tiktok-profile", &app, forced).await;
    assert_eq!(
        profile.body["code"], "tiktok_reauth_required",
        "not even from the cache: {}",
        profile.body
    );
    assert_eq!(
        forced.body["code"], "tiktok_reauth_required",
        "{}",
        forced.body
    );
    let test = send_good("tiktok-test", &app, &user, &account).await;
    assert_eq!(test.body["code"], "tiktok_reauth_required", "{}", test.body);
    assert_eq!(
        fake.calls(&account.open_id).await.len(),
        calls,
        "no TikTok call"
    );

    // Connecting it again clears the revocation.
    let renewed = fake.reauthorize(&account).await;
    given::connection(&user, &renewed)
        .through_store_token_again(&app)
        .await;
    assert_eq!(
        listed(&app, &user, &account.open_id).await["status"],
        "active"
    );
}

/// Backdates a connection's last refresh.
fn refreshed_hours_ago(id: i64, hours: i64) {
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '{hours} hours' where id = {id}"
    ));
}

#[tokio::test]
async fn the_sweep_keeps_connections_alive_and_finds_dead_ones() {
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
    psql(&format!(
        "update social_connections set refresh_expires_at = now() + interval '10 days' where id = {}",
        ids[3]
    ));

    let summary = shared::sweep::run(&app, until()).await.unwrap();
    assert!(
        summary.refreshed >= 1 && summary.reauth_required >= 1,
        "{summary:?}"
    );
    // Refreshed and stored: the fake's current refresh token is the one stored.
    let row = db.connection(ids[0]).await;
    let stored = config()
        .cipher
        .decrypt(row["refresh_token"].as_str().unwrap())
        .unwrap();
    assert!(fake.refresh_token_valid(&due.open_id, &stored).await);
    assert_ne!(stored, due.refresh_token, "rotated");
    assert_eq!(
        fake.count(&fresh.open_id, "token").await,
        0,
        "refreshed an hour ago: left alone"
    );
    assert_eq!(
        listed(&app, &user, &dead.open_id).await["status"],
        "reauth_required"
    );
    assert_eq!(
        listed(&app, &user, &expiring.open_id).await["status"],
        "expiring"
    );

    // TikTok down: nothing changes, the run ends cleanly.
    refreshed_hours_ago(ids[0], 25);
    let before = db.connection(ids[0]).await;
    let down = app_with(&[("TIKTOK_API_BASE_URL", &closed_port_url())]);
    let summary = shared::sweep::run(&down, until()).await.unwrap();
    assert_eq!(summary.refreshed, 0, "{summary:?}");
    assert!(summary.failed >= 1, "{summary:?}");
    let after = db.connection(ids[0]).await;
    assert_eq!(after["refresh_token"], before["refresh_token"]);
    assert_eq!(after["access_token"], before["access_token"]);

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
    let r = send(
        "tiktok-webhook",
        &app,
        delivery(&body, &secret, Some(now())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kept = |suffix: &str| {
        psql(&format!(
            "select count(*) from tiktok_webhook_events where event_key = '{key}-{suffix}'"
        ))
    };
    assert_eq!(kept("8d"), "0", "a delivery older than a week is cleared");
    assert_eq!(kept("6d"), "1", "a delivery of this week is kept");
}

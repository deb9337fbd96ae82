//! tiktok-test end to end: API Gateway event -> handler -> Firebase emulator token ->
//! PostgREST/PostgreSQL -> Fernet -> TikTok fake.

use integration_tests::*;
use serde_json::json;

async fn call(app: &shared::LiveApp, token: &str, account_id: Option<&str>) -> Reply {
    let req = match account_id {
        Some(id) => event(
            "tiktok-test/account-id.json",
            &[
                ("REPLACE_WITH_FIREBASE_ID_TOKEN", token),
                ("REPLACE_WITH_OPEN_ID", id),
            ],
        ),
        None => event(
            "tiktok-test/ok.json",
            &[("REPLACE_WITH_FIREBASE_ID_TOKEN", token)],
        ),
    };
    send("tiktok-test", app, req).await
}

#[tokio::test]
async fn connected_account_is_verified_with_basic_fields() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, account, _) = given::user_with_row(&db, BASIC_SCOPE, 7200).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["connected"], true);
    assert_eq!(r.body["message"], "TikTok connection verified");
    assert_eq!(r.body["profile"]["open_id"], account.open_id.as_str());
    assert!(r.body["profile"]["display_name"]
        .as_str()
        .unwrap()
        .starts_with("Creator"));
    assert!(r.body["profile"]["avatar_url"].is_string());
    let calls = fake.calls(&account.open_id).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0]["fields"],
        "open_id,union_id,avatar_url,display_name"
    );
    assert!(!r.body.to_string().contains(&account.access_token));
}

#[tokio::test]
async fn no_connection_is_not_an_error() {
    let app = live_app();
    let user = given::user().await;
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"connected": false, "message": "No TikTok account connected"})
    );
}

#[tokio::test]
async fn account_id_chooses_among_the_callers_accounts_only() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let primary = fake.account(BASIC_SCOPE).await;
    let second = fake.account(BASIC_SCOPE).await;
    given::connection(&user, &primary).as_row(&db).await;
    given::connection(&user, &second)
        .not_primary()
        .as_row(&db)
        .await;

    let r = call(&app, &user.id_token, Some(&second.open_id)).await;
    assert_eq!(
        r.body["profile"]["open_id"],
        second.open_id.as_str(),
        "{}",
        r.body
    );
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(
        r.body["profile"]["open_id"],
        primary.open_id.as_str(),
        "{}",
        r.body
    );

    // Someone else's account, or filter syntax, is simply not one of the caller's.
    let other = given::user().await;
    let other_account = fake.account(BASIC_SCOPE).await;
    given::connection(&other, &other_account).as_row(&db).await;
    for id in [
        other_account.open_id.as_str(),
        "*",
        "x,provider.eq.tiktok",
        "eq.1",
    ] {
        let r = call(&app, &user.id_token, Some(id)).await;
        assert_eq!(r.status, 404, "{id}: {}", r.body);
        assert_eq!(r.body["code"], "tiktok_not_connected");
    }
    assert_eq!(fake.count(&other_account.open_id, "user_info").await, 0);
}

#[tokio::test]
async fn rejected_token_that_cannot_be_refreshed_needs_reauth() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, account, row) = given::user_with_row(&db, BASIC_SCOPE, 7200).await;
    fake.expire_access(&account.open_id).await;
    fake.invalidate_refresh(&account.open_id).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["connected"], false);
    assert_eq!(r.body["code"], "tiktok_reauth_required");
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "one refresh attempt"
    );
    // Nothing was overwritten.
    assert_eq!(
        db.connection(row["id"].as_i64().unwrap()).await["refresh_token"],
        row["refresh_token"]
    );
}

#[tokio::test]
async fn rejected_token_is_refreshed_once_and_retried() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, account, row) = given::user_with_row(&db, BASIC_SCOPE, 7200).await;
    fake.expire_access(&account.open_id).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "token").await, 1);
    assert_eq!(fake.count(&account.open_id, "user_info").await, 2);
    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let refresh = decrypted(&stored, "refresh_token");
    assert_ne!(refresh, account.refresh_token);
    assert!(fake.refresh_token_valid(&account.open_id, &refresh).await);
}

#[tokio::test]
async fn expired_token_is_refreshed_first_and_the_rotated_token_persisted() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, account, row) = given::user_with_row(&db, BASIC_SCOPE, -60).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "token").await, 1);
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        1,
        "no call with the expired token"
    );

    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let refresh = decrypted(&stored, "refresh_token");
    assert_ne!(refresh, account.refresh_token, "rotated");
    assert!(fake.refresh_token_valid(&account.open_id, &refresh).await);
    assert!(
        !fake
            .refresh_token_valid(&account.open_id, &account.refresh_token)
            .await
    );
    assert!(
        stored["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("gAAAAA"),
        "stored as Fernet"
    );
    let expires = shared::timestamp::parse(stored["expires_at"].as_str().unwrap()).unwrap();
    let in_secs = (expires - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!(
        (7100..=7200).contains(&in_secs),
        "expires_at from expires_in: {in_secs}"
    );
}

#[tokio::test]
async fn concurrent_refreshes_keep_a_refresh_token_tiktok_accepts() {
    let (db, fake) = (Db::new(), TikTokFake::new());
    let (user, account, row) = given::user_with_row(&db, BASIC_SCOPE, -60).await;
    // Two instances, each with its own clients.
    let (a, b) = (live_app(), live_app());
    let (ra, rb) = tokio::join!(
        call(&a, &user.id_token, None),
        call(&b, &user.id_token, None)
    );
    assert_eq!(ra.body["connected"], true, "{}", ra.body);
    assert_eq!(rb.body["connected"], true, "{}", rb.body);
    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let refresh = decrypted(&stored, "refresh_token");
    assert!(
        fake.refresh_token_valid(&account.open_id, &refresh).await,
        "the stored refresh token still works"
    );
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "one refresh at TikTok: the other instance waited for its tokens"
    );
}

#[tokio::test]
async fn the_sweep_and_requests_never_refresh_one_connection_twice() {
    let (db, fake) = (Db::new(), TikTokFake::new());
    let (user, account, row) = given::user_with_row(&db, BASIC_SCOPE, -60).await;
    let id = row["id"].as_i64().unwrap();
    // Due for the sweep too: last refreshed two days ago.
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '2 days' where id = {id}"
    ));
    let (sweeper, a, b) = (live_app(), live_app(), live_app());
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let (summary, ra, rb) = tokio::join!(
        shared::sweep::run(&sweeper, until),
        call(&a, &user.id_token, None),
        call(&b, &user.id_token, None)
    );
    // The sweep may also meet other suites' due rows: only this one is looked at.
    summary.unwrap();
    assert_eq!(ra.body["connected"], true, "{}", ra.body);
    assert_eq!(rb.body["connected"], true, "{}", rb.body);
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "one refresh token sent once"
    );
    let stored = db.connection(id).await;
    assert!(
        stored["refreshing_until"].is_null(),
        "the lease ended with the new tokens"
    );
    assert!(
        fake.refresh_token_valid(&account.open_id, &decrypted(&stored, "refresh_token"))
            .await
    );
}

#[tokio::test]
async fn tiktok_outage_is_502_and_rate_limit_is_429() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, account, _) = given::user_with_row(&db, BASIC_SCOPE, 7200).await;

    let internal =
        json!({"data": {}, "error": {"code": "internal_error", "message": "x", "log_id": "1"}});
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 500, "body": internal}]),
    )
    .await;
    let r = call(&app, &user.id_token, None).await;
    r.assert_error(502, "tiktok_unavailable");
    assert!(
        !r.body.to_string().contains("internal_error"),
        "no upstream body"
    );

    let limited = json!({"data": {}, "error": {"code": "rate_limit_exceeded", "message": "x", "log_id": "1"}});
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 429, "body": limited, "headers": {"Retry-After": "17"}}]),
    )
    .await;
    let r = call(&app, &user.id_token, None).await;
    r.assert_error(429, "tiktok_rate_limited");
    assert_eq!(r.headers["retry-after"], "17");

    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 200, "body": "<html>oops"}]),
    )
    .await;
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.status, 502, "garbage: {}", r.body);

    // Recovered: works again.
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
}

#[tokio::test]
async fn bad_firebase_tokens_are_401_with_www_authenticate() {
    let app = live_app();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let project = stack_var("FIREBASE_PROJECT_ID");
    let claims = |aud: &str, iss: String, exp: i64| json!({"aud": aud, "iss": iss, "sub": "someone", "iat": now - 10, "exp": exp, "auth_time": now - 10});
    let wrong_project = unsigned_token(claims(
        "demo-other",
        "https://securetoken.google.com/demo-other".into(),
        now + 3600,
    ));
    let wrong_issuer = unsigned_token(claims(
        &project,
        "https://evil.example.com".into(),
        now + 3600,
    ));
    let expired = unsigned_token(claims(
        &project,
        format!("https://securetoken.google.com/{project}"),
        now - 5,
    ));
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("garbage", Some("Bearer garbage".into())),
        ("not bearer", Some("Basic dXNlcjpwYXNz".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("wrong project", Some(format!("Bearer {wrong_project}"))),
        ("wrong issuer", Some(format!("Bearer {wrong_issuer}"))),
        ("expired", Some(format!("Bearer {expired}"))),
    ];
    for (name, header) in cases {
        let req = with_authorization(event("tiktok-test/ok.json", &[]), header.as_deref());
        let r = send("tiktok-test", &app, req).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.body["code"], "unauthorized", "{name}");
        assert_eq!(r.body["status_code"], 401);
        assert_eq!(r.body["request_id"], "req-tiktok-test");
        assert_eq!(r.headers["www-authenticate"], "Bearer", "{name}");
    }
    let r = send("tiktok-test", &app, event("tiktok-test/no-auth.json", &[])).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = live_app();
    let user = given::user().await;
    let req = event(
        "tiktok-test/wrong-method.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
    );
    let r = send("tiktok-test", &app, req).await;
    r.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn a_row_written_by_the_python_backend_is_read() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(BASIC_SCOPE).await;
    // The earlier backend's rows: no scope, no refresh expiry, a timestamp without zone.
    given::connection(&user, &account)
        .as_legacy_python_row(&db)
        .await;
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
}

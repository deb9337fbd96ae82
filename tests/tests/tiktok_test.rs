//! tiktok-test end to end: API Gateway event -> handler -> Firebase emulator token ->
//! PostgREST/PostgreSQL -> Fernet -> TikTok fake.

use integration_tests::*;
use serde_json::{json, Value};

const BASIC: &str = "user.info.basic";

fn rfc3339(offset_secs: i64) -> String {
    shared::timestamp::format(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs),
    )
}

/// Stores a connection row the way the functions store one.
async fn connect(
    db: &Db,
    user_id: i64,
    account: &TikTokAccount,
    expires_in: i64,
    primary: bool,
) -> Value {
    let cipher = config().cipher;
    db.insert_connection(json!({
        "user_id": user_id,
        "provider": "tiktok",
        "provider_account_id": account.open_id,
        "access_token": cipher.encrypt(&account.access_token),
        "refresh_token": cipher.encrypt(&account.refresh_token),
        "expires_at": rfc3339(expires_in),
        "refresh_expires_at": rfc3339(86400 * 180),
        "scope": account.scope,
        "is_primary": primary,
        "metadata": {}
    }))
    .await
}

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
    reply(dispatch("tiktok-test", app, req).await)
}

#[tokio::test]
async fn connected_account_is_verified_with_basic_fields() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    connect(&db, db.user_id(&user.uid).await, &account, 7200, true).await;

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
    let user = firebase_user().await;
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
    let user = firebase_user().await;
    let user_id = db.user_id(&user.uid).await;
    let primary = fake.account(BASIC).await;
    let second = fake.account(BASIC).await;
    connect(&db, user_id, &primary, 7200, true).await;
    connect(&db, user_id, &second, 7200, false).await;

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
    let other = firebase_user().await;
    let other_account = fake.account(BASIC).await;
    connect(
        &db,
        db.user_id(&other.uid).await,
        &other_account,
        7200,
        true,
    )
    .await;
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
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    let row = connect(&db, db.user_id(&user.uid).await, &account, 7200, true).await;
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
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    let row = connect(&db, db.user_id(&user.uid).await, &account, 7200, true).await;
    fake.expire_access(&account.open_id).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "token").await, 1);
    assert_eq!(fake.count(&account.open_id, "user_info").await, 2);
    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let refresh = config()
        .cipher
        .decrypt(stored["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_ne!(refresh, account.refresh_token);
    assert!(fake.refresh_token_valid(&account.open_id, &refresh).await);
}

#[tokio::test]
async fn expired_token_is_refreshed_first_and_the_rotated_token_persisted() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    let row = connect(&db, db.user_id(&user.uid).await, &account, -60, true).await;

    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "token").await, 1);
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        1,
        "no call with the expired token"
    );

    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let cipher = config().cipher;
    let refresh = cipher
        .decrypt(stored["refresh_token"].as_str().unwrap())
        .unwrap();
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
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    let row = connect(&db, db.user_id(&user.uid).await, &account, -60, true).await;
    // Two instances, each with its own clients.
    let (a, b) = (live_app(), live_app());
    let (ra, rb) = tokio::join!(
        call(&a, &user.id_token, None),
        call(&b, &user.id_token, None)
    );
    assert_eq!(ra.body["connected"], true, "{}", ra.body);
    assert_eq!(rb.body["connected"], true, "{}", rb.body);
    let stored = db.connection(row["id"].as_i64().unwrap()).await;
    let refresh = config()
        .cipher
        .decrypt(stored["refresh_token"].as_str().unwrap())
        .unwrap();
    assert!(
        fake.refresh_token_valid(&account.open_id, &refresh).await,
        "the stored refresh token still works"
    );
}

#[tokio::test]
async fn tiktok_outage_is_502_and_rate_limit_is_429() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    connect(&db, db.user_id(&user.uid).await, &account, 7200, true).await;

    let internal =
        json!({"data": {}, "error": {"code": "internal_error", "message": "x", "log_id": "1"}});
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 500, "body": internal}]),
    )
    .await;
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (502, Some("tiktok_unavailable")),
        "{}",
        r.body
    );
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
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (429, Some("tiktok_rate_limited")),
        "{}",
        r.body
    );
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
        let r = reply(dispatch("tiktok-test", &app, req).await);
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.body["code"], "unauthorized", "{name}");
        assert_eq!(r.body["status_code"], 401);
        assert_eq!(r.body["request_id"], "req-tiktok-test");
        assert_eq!(r.headers["www-authenticate"], "Bearer", "{name}");
    }
    let r = reply(dispatch("tiktok-test", &app, event("tiktok-test/no-auth.json", &[])).await);
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = live_app();
    let user = firebase_user().await;
    let req = event(
        "tiktok-test/wrong-method.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
    );
    let r = reply(dispatch("tiktok-test", &app, req).await);
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn a_row_written_by_the_python_backend_is_read() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let account = fake.account(BASIC).await;
    let key = stack_var("ENCRYPTION_KEY");
    let encrypt = "import sys; from cryptography.fernet import Fernet; \
                   f = Fernet(sys.argv[1].encode()); print(f.encrypt(sys.argv[2].encode()).decode()); \
                   print(f.encrypt(sys.argv[3].encode()).decode())";
    let out = python(
        encrypt,
        &[&key, &account.access_token, &account.refresh_token],
    );
    let mut lines = out.lines();
    let (access, refresh) = (lines.next().unwrap(), lines.next().unwrap());
    // The earlier backend's rows: no scope, no refresh expiry, a timestamp without zone.
    let naive_expiry = rfc3339(7200).trim_end_matches('Z').to_owned();
    db.insert_connection(json!({
        "user_id": db.user_id(&user.uid).await, "provider": "tiktok",
        "provider_account_id": account.open_id, "access_token": access, "refresh_token": refresh,
        "expires_at": naive_expiry, "is_primary": true
    }))
    .await;
    let r = call(&app, &user.id_token, None).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
}

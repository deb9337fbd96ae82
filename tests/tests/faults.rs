//! Failing upstreams: PostgREST, TikTok and Firebase answering 500, 429, garbage,
//! slowly past the client timeout, or not at all, at each step of each function's main
//! path. Every case gets the contract's status and code, stores no plaintext token and
//! leaves nothing a retry cannot complete; the retry after recovery succeeds, except
//! where the contract says it cannot (a database failure right after TikTok rotated a
//! refresh token: the connection needs a reconnect, and an error is logged).

use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};

fn no_plaintext(rows: &[Value], account: &TikTokAccount) {
    for row in rows {
        for field in ["access_token", "refresh_token"] {
            if let Some(v) = row[field].as_str() {
                assert!(v.starts_with("gAAAAA"), "{field} stored as Fernet");
                assert!(v != account.access_token && v != account.refresh_token);
            }
        }
    }
}

/// The function's good request, asking tiktok-profile not to answer from its cache.
fn uncached(function: &str, user: &FirebaseUser, account: &TikTokAccount) -> lambda_http::Request {
    let req = good_request(function, user, account);
    if function == "tiktok-profile" {
        with_query(req, &[("force", "true")])
    } else {
        req
    }
}

fn outage(function: &str, case: &str, r: &Reply, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (status, Some(code)),
        "{function} / {case}: {}",
        r.body
    );
    if status == 503 {
        assert_eq!(r.headers["retry-after"], "1", "{function} / {case}");
    }
}

#[tokio::test]
async fn database_faults_are_503_at_every_step_and_a_retry_succeeds() {
    let db = Db::new();
    let proxy = FaultProxy::start(&stack_var("SUPABASE_REST_URL")).await;
    let app = app_with(&[("SUPABASE_REST_URL", &proxy.url)]);
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let before = db.connections_of_uid(&user.uid).await;

    let faults = [
        ("500", Fault::Status(500)),
        ("429", Fault::Status(429)),
        ("503", Fault::Status(503)),
        ("garbage", Fault::Garbage),
        ("connection dropped", Fault::Drop),
    ];
    // First step of every function: its first database call.
    let mut cases = 0;
    for (name, fault) in &faults {
        proxy.fail("/", fault.clone());
        for function in FUNCTIONS {
            let r = send_good(function, &app, &user, &account).await;
            outage(function, name, &r, 503, "database_unavailable");
            cases += 1;
        }
        proxy.heal();
    }
    // The write step after the first read (or after TikTok's answer).
    let second_steps = [
        ("store-token", "=rpc/store_connection"),
        ("oauth-tiktok", "=rpc/tiktok_oauth_connect"),
        ("store-tiktok-profile", "=rpc/store_client_profile"),
        ("update-connection", "=rpc/update_connection"),
        // TikTok initialised the post: the log keeps its publish_id.
        ("tiktok-publish", "=rpc/record_tiktok_post"),
    ];
    for (function, step) in second_steps {
        for (name, fault) in &faults {
            proxy.fail(step, fault.clone());
            let r = send_good(function, &app, &user, &account).await;
            outage(
                function,
                &format!("{step} {name}"),
                &r,
                503,
                "database_unavailable",
            );
            proxy.heal();
            cases += 1;
        }
    }
    // Slower than the client's 5 s timeout, all functions at once.
    proxy.fail("/", Fault::Slow(Duration::from_secs(7)));
    let slow: Vec<_> = FUNCTIONS
        .iter()
        .map(|f| {
            let (app, user, account) = (&app, &user, &account);
            async move { (f, send_good(f, app, user, account).await) }
        })
        .collect();
    for (function, r) in join_all(slow).await {
        outage(function, "slow", &r, 503, "database_unavailable");
        cases += 1;
    }
    proxy.heal();
    // Nothing listening at all.
    let down = app_with(&[("SUPABASE_REST_URL", &closed_port_url())]);
    for function in FUNCTIONS {
        let r = send_good(function, &down, &user, &account).await;
        outage(function, "port closed", &r, 503, "database_unavailable");
        cases += 1;
    }

    let after = db.connections_of_uid(&user.uid).await;
    no_plaintext(&after, &account);
    assert_eq!(after.len(), before.len(), "no row lost");

    // Recovered: every function works again.
    for function in FUNCTIONS
        .iter()
        .filter(|f| **f != "disconnect-tiktok" && answers_good_request(f))
    {
        let r = send_good(function, &app, &user, &account).await;
        assert!(
            r.status == 200 || r.status == 201,
            "{function} after recovery: {}",
            r.body
        );
    }
    // Disconnect failing after TikTok revoked the token: the row stays, and the retry
    // completes the disconnect (TikTok now calls the token invalid).
    proxy.fail("=rpc/delete_connection", Fault::Status(500));
    let r = send_good("disconnect-tiktok", &app, &user, &account).await;
    outage(
        "disconnect-tiktok",
        "delete after revoke",
        &r,
        503,
        "database_unavailable",
    );
    assert_eq!(
        db.connections_of_uid(&user.uid).await.len(),
        1,
        "the row is kept for the retry"
    );
    proxy.heal();
    let r = send_good("disconnect-tiktok", &app, &user, &account).await;
    r.assert_body(json!({"success": true, "revoked": false}));
    assert!(db.connections_of_uid(&user.uid).await.is_empty());
    cases += 1;
    println!("database fault cases: {cases}");
}

/// Every 429 carries Retry-After: TikTok's own when it sent one, else its window's
/// minute.
fn assert_retry_after(function: &str, case: &str, r: &Reply) {
    if r.status == 429 {
        // The "429" cases send Retry-After: 9; the others none.
        let want = if case == "429" { "9" } else { "60" };
        assert_eq!(r.headers["retry-after"], want, "{function} / {case}");
    }
}

#[tokio::test]
async fn tiktok_faults_are_502_or_429_and_a_retry_succeeds() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    let envelope =
        |code: &str| json!({"data": {}, "error": {"code": code, "message": "x", "log_id": "l"}});
    let faults = [
        (
            "500",
            json!({"status": 500, "body": envelope("internal_error")}),
            502,
            "tiktok_unavailable",
        ),
        (
            "429",
            json!({"status": 429, "body": envelope("rate_limit_exceeded"), "headers": {"Retry-After": "9"}}),
            429,
            "tiktok_rate_limited",
        ),
        // As TikTok really answers: no Retry-After, no data.
        (
            "429 without Retry-After",
            json!({"fixture": "user-info-rate-limited"}),
            429,
            "tiktok_rate_limited",
        ),
        (
            "garbage",
            json!({"status": 200, "body": "<html>"}),
            502,
            "tiktok_unavailable",
        ),
        ("dropped", json!({"drop": true}), 502, "tiktok_unavailable"),
    ];
    // The TikTok step of each function that calls TikTok, and which endpoint it uses.
    let steps = [
        ("oauth-tiktok", "user_info"),
        ("store-token", "user_info"),
        ("tiktok-profile", "user_info"),
        ("tiktok-test", "user_info"),
        ("tiktok-videos", "video_list"),
        ("tiktok-creator-info", "creator_info"),
        ("tiktok-publish", "video_init"),
        ("disconnect-tiktok", "revoke"),
    ];
    // tiktok-callback's steps (the code exchange, then the profile) need an
    // authorization of their own each: the_code_exchange_failing_...
    let mut cases = 0;
    for (function, endpoint) in steps {
        for (name, response, status, code) in &faults {
            fake.script(&account.open_id, endpoint, json!([response]))
                .await;
            let r = send(function, &app, uncached(function, &user, &account)).await;
            outage(function, name, &r, *status, code);
            assert_retry_after(function, name, &r);
            cases += 1;
        }
    }
    // The refresh step: an expired connection and a failing token endpoint.
    given::access_expired(id, 60);
    let stored_before = db.connections_of_uid(&user.uid).await;
    for (name, response, status, code) in &faults {
        fake.script(&account.open_id, "token", json!([response]))
            .await;
        let r = send_good("tiktok-test", &app, &user, &account).await;
        outage("tiktok-test refresh", name, &r, *status, code);
        assert_retry_after("tiktok-test refresh", name, &r);
        cases += 1;
    }
    assert_eq!(
        db.connections_of_uid(&user.uid).await,
        stored_before,
        "a failed refresh changes nothing"
    );

    // Slower than the client's 6 s timeout, and nothing listening.
    fake.script(
        &account.open_id,
        "token",
        json!([{"delay_ms": 7000, "status": 200, "body": {}}]),
    )
    .await;
    let r = send_good("tiktok-test", &app, &user, &account).await;
    outage("tiktok-test refresh", "slow", &r, 502, "tiktok_unavailable");
    let down = app_with(&[("TIKTOK_API_BASE_URL", &closed_port_url())]);
    for function in [
        "oauth-tiktok",
        "store-token",
        "tiktok-profile",
        "tiktok-test",
        "tiktok-videos",
        "tiktok-creator-info",
        "tiktok-publish",
        "disconnect-tiktok",
    ] {
        let r = send(function, &down, uncached(function, &user, &account)).await;
        outage(function, "port closed", &r, 502, "tiktok_unavailable");
        cases += 2;
    }
    no_plaintext(&db.connections_of_uid(&user.uid).await, &account);

    // Recovered: the refresh goes through and every function works.
    for function in FUNCTIONS.iter().filter(|f| answers_good_request(f)) {
        let r = send_good(function, &app, &user, &account).await;
        assert!(
            r.status == 200 || r.status == 201,
            "{function} after recovery: {}",
            r.body
        );
    }
    println!("TikTok fault cases: {cases}");
}

/// A client address no other authorization of this run comes from: sign-in states are
/// capped per address, so this suite never pushes another's out.
fn fresh_address() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Each its own /64: an IPv6 client is counted by its /64.
    format!("2001:db9:{:x}:{:x}::1", pid & 0xffff, n)
}

/// Someone new signs in through the server-side flow: tiktok-authorize, then the
/// consent at the TikTok fake as a new account: (state, code, open_id).
async fn consented_sign_in(app: &shared::LiveApp) -> (String, String, String) {
    let address = fresh_address();
    let req = event(
        "tiktok-authorize/sign-in.json",
        &[
            ("203.0.113.10", address.as_str()),
            ("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI),
        ],
    );
    let r = send("tiktok-authorize", app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["authorize_url"].as_str().expect("authorize_url");
    let (code, open_id) = TikTokFake::new().consent(url, None, &[]).await;
    let state = r.body["state"].as_str().expect("state").to_owned();
    keep_binding(&r.body);
    (state, code, open_id)
}

fn callback_request(code: &str, state: &str) -> lambda_http::Request {
    with_json_body(
        event("tiktok-callback/sign-in.json", &[]),
        &json!({"code": code, "state": state, "binding": binding_for(state)}),
    )
}

/// Nothing was written for this TikTok account: no connection, and neither the `users`
/// row nor the Firebase user a sign-in makes (with the uid derived from the open_id).
async fn assert_nothing_written(db: &Db, open_id: &str, case: &str) {
    assert!(
        db.tiktok_rows(open_id).is_empty(),
        "{case}: no connection of {open_id}"
    );
    let uid = shared::sign_in::derived_uid(open_id);
    assert_eq!(
        psql(&format!(
            "select count(*) from users where firebase_uid = '{uid}'"
        )),
        "0",
        "{case}: no users row"
    );
    assert!(
        firebase_lookup(&uid).await.is_none(),
        "{case}: no Firebase user"
    );
}

#[tokio::test]
async fn the_code_exchange_failing_is_tiktoks_error_the_state_is_used_up_and_nothing_written() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    // The fake plays no scripted faults on the code exchange: a proxy in front of it
    // does, and a closed port plays TikTok down.
    let proxy = FaultProxy::start(&stack_var("STACK_TIKTOK_URL")).await;
    let through_proxy = app_with(&[("TIKTOK_API_BASE_URL", &proxy.url)]);
    let down = app_with(&[("TIKTOK_API_BASE_URL", &closed_port_url())]);
    let exchange = "=/v2/oauth/token/";
    let faults = [
        ("500", Some(Fault::Status(500)), 502, "tiktok_unavailable"),
        (
            "429 without Retry-After",
            Some(Fault::Status(429)),
            429,
            "tiktok_rate_limited",
        ),
        ("garbage", Some(Fault::Garbage), 502, "tiktok_unavailable"),
        ("dropped", Some(Fault::Drop), 502, "tiktok_unavailable"),
        (
            "slow",
            Some(Fault::Slow(Duration::from_secs(7))),
            502,
            "tiktok_unavailable",
        ),
        ("port closed", None, 502, "tiktok_unavailable"),
    ];
    let mut cases = 0;
    for (name, fault, status, code) in faults {
        let (state, auth_code, open_id) = consented_sign_in(&app).await;
        let failing = match &fault {
            Some(fault) => {
                proxy.fail(exchange, fault.clone());
                &through_proxy
            }
            None => &down,
        };
        let r = send(
            "tiktok-callback",
            failing,
            callback_request(&auth_code, &state),
        )
        .await;
        proxy.heal();
        outage("tiktok-callback exchange", name, &r, status, code);
        assert_retry_after("tiktok-callback exchange", name, &r);
        assert!(r.body.get("firebase_token").is_none(), "{name}");
        if !matches!(fault, Some(Fault::Slow(_))) {
            // (A slow exchange reaches the fake after the client gave up.)
            assert_eq!(
                fake.count(&open_id, "token_code").await,
                0,
                "{name}: the code never reached TikTok"
            );
        }
        // The state is used up: the same callback with TikTok back answers invalid_state.
        let again = send(
            "tiktok-callback",
            &app,
            callback_request(&auth_code, &state),
        )
        .await;
        outage("tiktok-callback again", name, &again, 400, "invalid_state");
        assert!(again.body.get("firebase_token").is_none(), "{name}");
        assert_nothing_written(&db, &open_id, name).await;
        cases += 1;
    }

    // The exchange went through, the profile call after it fails: the same.
    let (state, auth_code, open_id) = consented_sign_in(&app).await;
    fake.script(
        &open_id,
        "user_info",
        json!([{"status": 500, "body": {"data": {}, "error": {"code": "internal_error", "message": "x", "log_id": "l"}}}]),
    )
    .await;
    let r = send(
        "tiktok-callback",
        &app,
        callback_request(&auth_code, &state),
    )
    .await;
    outage(
        "tiktok-callback profile",
        "500",
        &r,
        502,
        "tiktok_unavailable",
    );
    assert_eq!(fake.count(&open_id, "token_code").await, 1);
    let again = send(
        "tiktok-callback",
        &app,
        callback_request(&auth_code, &state),
    )
    .await;
    outage(
        "tiktok-callback profile again",
        "500",
        &again,
        400,
        "invalid_state",
    );
    assert_nothing_written(&db, &open_id, "profile 500").await;
    cases += 1;

    // Recovered: starting again signs in, through the same proxy.
    let (state, auth_code, open_id) = consented_sign_in(&app).await;
    let r = send(
        "tiktok-callback",
        &through_proxy,
        callback_request(&auth_code, &state),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["firebase_token"].is_string(), "{}", r.body);
    let rows = db.tiktok_rows(&open_id);
    assert_eq!(rows.len(), 1);
    let refresh = decrypted(&rows[0], "refresh_token");
    assert_eq!(
        fake.account_state(&open_id).await["refresh_token"],
        refresh.as_str(),
        "the exchange's tokens, stored encrypted"
    );
    assert_ne!(rows[0]["refresh_token"], refresh.as_str());
    println!("TikTok code exchange fault cases: {cases}");
}

#[tokio::test]
async fn firebase_faults_are_503_and_leave_no_half_made_account() {
    let host = stack_var("FIREBASE_AUTH_EMULATOR_HOST");
    let proxy = FaultProxy::start(&format!("http://{host}")).await;
    let proxied_host = proxy.url.trim_start_matches("http://").to_owned();
    let app = app_with(&[("FIREBASE_AUTH_EMULATOR_HOST", &proxied_host)]);
    let fake = TikTokFake::new();
    let account = fake.account(ALL_SCOPES).await;
    let email = format!("{}@example.com", unique("fb-fault"));
    let request = || oauth_request(&account, Some(&email), None);
    let faults = [
        ("500", Fault::Status(500)),
        ("429", Fault::Status(429)),
        ("garbage", Fault::Garbage),
        ("dropped", Fault::Drop),
        ("slow", Fault::Slow(Duration::from_secs(7))),
    ];
    let mut cases = 0;
    for step in ["=accounts:lookup", "=accounts"] {
        for (name, fault) in &faults {
            proxy.fail(step, fault.clone());
            let r = send("oauth-tiktok", &app, request()).await;
            outage(
                "oauth-tiktok",
                &format!("{step} {name}"),
                &r,
                503,
                "identity_unavailable",
            );
            proxy.heal();
            cases += 1;
        }
    }
    let uid = shared::endpoints::oauth_tiktok::derived_uid(&account.open_id);
    assert_eq!(
        psql(&format!(
            "select count(*) from users where firebase_uid = '{uid}'"
        )),
        "0",
        "no half-made user"
    );

    // Google's signing keys unreachable in production mode: 503, not 401.
    let prod = production_app(&closed_port_url());
    let (key, _) = rsa_key_and_certificate();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let project = stack_var("FIREBASE_PROJECT_ID");
    let token = sign_rs256(
        &key,
        Some("k"),
        &json!({"aud": project, "iss": format!("https://securetoken.google.com/{project}"),
        "sub": "u", "iat": now, "exp": now + 600}),
    );
    for function in FUNCTIONS
        .iter()
        .filter(|f| **f != "oauth-tiktok" && firebase_authenticated(f))
    {
        let req = with_authorization(
            request_without_user(function),
            Some(&format!("Bearer {token}")),
        );
        let r = send(function, &prod, req).await;
        outage(
            function,
            "keys unreachable",
            &r,
            503,
            "identity_unavailable",
        );
        cases += 1;
    }

    // Recovered: the same request completes the account.
    let r = send("oauth-tiktok", &app, request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], uid.as_str());

    // Signing in again: the email lookup read ahead while TikTok proves the token is not
    // needed for a returning user, so Firebase failing it does not fail the sign-in.
    for (name, fault) in &faults {
        proxy.fail("=accounts:lookup", fault.clone());
        let r = send("oauth-tiktok", &app, request()).await;
        proxy.heal();
        assert_eq!(
            r.status, 200,
            "returning sign-in, lookup {name}: {}",
            r.body
        );
        assert_eq!(r.body["firebase_uid"], uid.as_str());
        cases += 1;
    }
    println!("Firebase fault cases: {cases}");
}

#[tokio::test]
async fn a_database_failure_after_tiktok_rotated_the_token_needs_a_reconnect_and_is_logged() {
    let db = Db::new();
    let fake = TikTokFake::new();
    let proxy = FaultProxy::start(&stack_var("SUPABASE_REST_URL")).await;
    let app = app_with(&[("SUPABASE_REST_URL", &proxy.url)]);
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    given::access_expired(id, 60);
    proxy.fail("=rpc/swap_connection_tokens", Fault::Status(500));
    let r = send_good("tiktok-test", &app, &user, &account).await;
    outage(
        "tiktok-test",
        "store after rotation",
        &r,
        503,
        "database_unavailable",
    );
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "TikTok rotated the token"
    );
    proxy.heal();

    // The stored refresh token is the one TikTok just invalidated: the retry cannot
    // refresh, and says so instead of failing obscurely.
    let stored = db.connections_of_uid(&user.uid).await;
    let refresh = decrypted(&stored[0], "refresh_token");
    assert!(!fake.refresh_token_valid(&account.open_id, &refresh).await);
    let retry = send_good("tiktok-test", &app, &user, &account).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        retry.body["code"], "tiktok_reauth_required",
        "{}",
        retry.body
    );

    // And the error log says what happened, for the operator.
    let logs = std::fs::read_dir(std::path::Path::new(&stack_var("STACK_DIR")).join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<String>();
    assert!(
        logs.lines().any(|l| l.contains("\"level\":\"ERROR\"")
            && l.contains("could not be stored")
            && l.contains(&account.open_id)),
        "an error log line names the connection"
    );
}

//! Sign-in methods that cannot be planted, refresh grants bound to their row, bounds on
//! what one user stores, and upstream answers that cannot exhaust a function: against
//! the local stack.

use integration_tests::*;
use serde_json::{json, Value};
use shared::endpoints::oauth_tiktok::derived_uid;

/// An Identity Toolkit admin call at the emulator (as the Admin SDKs make them).
async fn emulator_admin(path: &str, body: Value) {
    let url = format!(
        "http://{}/identitytoolkit.googleapis.com/v1/projects/{}/{path}",
        stack_var("FIREBASE_AUTH_EMULATOR_HOST"),
        stack_var("FIREBASE_PROJECT_ID")
    );
    let status = http()
        .post(url)
        .bearer_auth("owner")
        .json(&body)
        .send()
        .await
        .expect("emulator")
        .status();
    assert!(status.is_success(), "{path}: {status}");
}

/// "Sign out of all devices": sessions that signed in before now are revoked.
async fn revoke_sessions(uid: &str) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    emulator_admin(
        "accounts:update",
        json!({"localId": uid, "validSince": now.to_string()}),
    )
    .await;
}

async fn sign_in_without_session(app: &shared::LiveApp, account: &TikTokAccount) -> Reply {
    send("oauth-tiktok", app, oauth_request(account, None, None)).await
}

async fn link(app: &shared::LiveApp, account: &TikTokAccount, session: &str) -> Reply {
    send(
        "oauth-tiktok",
        app,
        oauth_request(account, None, Some(session)),
    )
    .await
}

async fn listed(app: &shared::LiveApp, session: &str, open_id: &str) -> Value {
    listed_connection(app, session, open_id).await
}

fn assert_refused(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert!(
        r.body.get("firebase_token").is_none(),
        "no token: {}",
        r.body
    );
}

#[tokio::test]
async fn a_legacy_link_does_not_sign_in_until_linked_again_with_a_recent_session() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let owner = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    // The earlier backend linked it to this (email/password) user without proof.
    given::connection(&owner, &account)
        .as_legacy_python_row(&db)
        .await;

    assert_refused(
        &sign_in_without_session(&app, &account).await,
        409,
        "tiktok_sign_in_not_enabled",
    );
    // Still connected for everything but sign-in.
    let test = send_good("tiktok-test", &app, &owner, &account).await;
    assert_eq!(test.body["connected"], true, "{}", test.body);
    let profile = send_good("tiktok-profile", &app, &owner, &account).await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert_eq!(
        listed(&app, &owner.id_token, &account.open_id).await["sign_in_enabled"],
        false
    );

    // The owner links it again, just signed in: now it signs them in.
    let r = link(&app, &account, &owner.id_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        listed(&app, &owner.id_token, &account.open_id).await["sign_in_enabled"],
        true
    );
    let r = sign_in_without_session(&app, &account).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], owner.uid.as_str());
}

#[tokio::test]
async fn an_old_session_links_for_posting_only() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    // A user of some hours, whose session signed in an hour ago.
    let hours_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 7200;
    emulator_admin(
        "accounts:update",
        json!({"localId": user.uid, "validSince": hours_ago.to_string()}),
    )
    .await;
    let hour_old = session_signed_in(&user, 3600);
    let through_oauth = fake.account(ALL_SCOPES).await;
    let r = link(&app, &through_oauth, &hour_old).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let through_store = fake.account(ALL_SCOPES).await;
    let mut req = good_request("store-token", &user, &through_store);
    req = with_authorization(req, Some(&format!("Bearer {hour_old}")));
    let r = send("store-token", &app, req).await;
    assert_eq!(r.status, 201, "{}", r.body);

    for account in [&through_oauth, &through_store] {
        let row = listed(&app, &user.id_token, &account.open_id).await;
        assert_eq!(row["sign_in_enabled"], false, "{row}");
        assert_refused(
            &sign_in_without_session(&app, account).await,
            409,
            "tiktok_sign_in_not_enabled",
        );
    }
    // A fresh session (the emulator's own token) makes it a sign-in method.
    let r = link(&app, &through_store, &user.id_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        sign_in_without_session(&app, &through_store).await.status,
        200
    );
}

#[tokio::test]
async fn a_revoked_session_or_a_disabled_user_cannot_link() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let old_session = session_signed_in(&user, 30);
    revoke_sessions(&user.uid).await;
    let account = fake.account(ALL_SCOPES).await;
    assert_refused(
        &link(&app, &account, &old_session).await,
        401,
        "unauthorized",
    );
    let mut req = good_request("store-token", &user, &account);
    req = with_authorization(req, Some(&format!("Bearer {old_session}")));
    assert_refused(&send("store-token", &app, req).await, 401, "unauthorized");

    let disabled = given::user().await;
    emulator_admin(
        "accounts:update",
        json!({"localId": disabled.uid, "disableUser": true}),
    )
    .await;
    assert_refused(
        &link(&app, &account, &disabled.id_token).await,
        401,
        "unauthorized",
    );
    assert!(
        db.tiktok_rows(&account.open_id).is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_disconnected_account_never_signs_back_in_and_the_last_method_stays() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let x = fake.account(ALL_SCOPES).await;
    let (user, _) = given::signed_in_through_oauth(&app, &x).await;

    // A TikTok-only user cannot disconnect their only account: nothing is revoked.
    let r = send_good("disconnect-tiktok", &app, &user, &x).await;
    assert_refused(&r, 409, "last_sign_in_method");
    assert_eq!(fake.count(&x.open_id, "revoke").await, 0);
    assert_eq!(db.tiktok_rows(&x.open_id).len(), 1);

    // With Y linked (recent session), X can go; then X never signs back in by itself.
    let y = fake.account(ALL_SCOPES).await;
    assert_eq!(link(&app, &y, &user.id_token).await.status, 200);
    let r = send_good("disconnect-tiktok", &app, &user, &x).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let again = fake.reauthorize(&x).await;
    assert_refused(
        &sign_in_without_session(&app, &again).await,
        409,
        "tiktok_account_disconnected",
    );
    assert!(db.tiktok_rows(&x.open_id).is_empty(), "nothing written");
    assert_eq!(user.uid, derived_uid(&x.open_id));
    // Linking it again while signed in brings it back as a sign-in method.
    assert_eq!(link(&app, &again, &user.id_token).await.status, 200);
    let r = sign_in_without_session(&app, &again).await;
    assert_eq!(r.body["firebase_uid"], user.uid.as_str(), "{}", r.body);
}

#[tokio::test]
async fn a_tiktok_created_user_with_a_password_can_disconnect_their_only_tiktok_account() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let x = fake.account(ALL_SCOPES).await;
    let (user, _) = given::signed_in_through_oauth(&app, &x).await;
    assert_eq!(
        user.uid,
        derived_uid(&x.open_id),
        "created by TikTok sign-in"
    );

    // The user adds an email and password to their Firebase account (as the Admin SDK's
    // updateUser does), then signs in with it: another way in.
    let email = format!("{}@example.com", unique("password"));
    emulator_admin(
        "accounts:update",
        json!({"localId": user.uid, "email": email, "password": "password-123"}),
    )
    .await;
    let firebase = firebase_lookup(&user.uid).await.expect("Firebase user");
    assert!(
        firebase["providerUserInfo"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["providerId"] == "password")),
        "{firebase}"
    );
    let url = format!(
        "http://{}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=local",
        stack_var("FIREBASE_AUTH_EMULATOR_HOST")
    );
    let answer: Value = http()
        .post(url)
        .json(&json!({"email": email, "password": "password-123", "returnSecureToken": true}))
        .send()
        .await
        .expect("emulator")
        .json()
        .await
        .expect("answer");
    let id_token = answer["idToken"].as_str().expect("idToken").to_owned();
    record_secret(&id_token);
    let with_password = FirebaseUser {
        uid: user.uid.clone(),
        id_token,
        email,
    };
    assert_eq!(
        listed(&app, &with_password.id_token, &x.open_id).await["sign_in_enabled"],
        true
    );

    // Their only TikTok account, and their only sign-in-enabled one: it can go.
    let r = send_good("disconnect-tiktok", &app, &with_password, &x).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.assert_body(json!({"success": true, "revoked": true}));
    assert_eq!(fake.count(&x.open_id, "revoke").await, 1);
    assert!(db.tiktok_rows(&x.open_id).is_empty());
    // And it does not sign back in by itself.
    let again = fake.reauthorize(&x).await;
    assert_refused(
        &sign_in_without_session(&app, &again).await,
        409,
        "tiktok_account_disconnected",
    );
}

#[tokio::test]
async fn a_refresh_answering_another_open_id_or_none_stores_nothing() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    given::access_expired(id, 60);
    let before = db.connection(id).await;
    let other = fake.account(ALL_SCOPES).await;
    // A well-formed grant carrying another account's live tokens, naming that account,
    // or naming none.
    let grant = |open_id: Option<&str>| {
        let mut grant = json!({"access_token": other.access_token, "refresh_token": other.refresh_token,
                               "expires_in": 7200, "refresh_expires_in": 86400,
                               "scope": ALL_SCOPES, "token_type": "Bearer"});
        if let Some(open_id) = open_id {
            grant["open_id"] = json!(open_id);
        }
        grant
    };
    let cases = [
        ("another open_id", grant(Some(&other.open_id))),
        ("no open_id", grant(None)),
    ];
    for (case, answer) in cases {
        fake.script(
            &account.open_id,
            "token",
            json!([{"status": 200, "body": answer}]),
        )
        .await;
        let r = send_good("tiktok-test", &app, &user, &account).await;
        assert_eq!(r.status, 200, "{case}: {}", r.body);
        assert_eq!(
            r.body["code"], "tiktok_reauth_required",
            "{case}: {}",
            r.body
        );
        assert_eq!(r.body["connected"], false, "{case}: {}", r.body);
        let after = db.connection(id).await;
        for column in [
            "access_token",
            "refresh_token",
            "expires_at",
            "refresh_expires_at",
            "scope",
            "updated_at",
        ] {
            assert!(before.get(column).is_some(), "{column} is a column");
            assert_eq!(after[column], before[column], "{case}: {column} unchanged");
        }
        assert_eq!(after, before, "{case}: the whole row unchanged");
    }
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        2,
        "one refresh each"
    );
    assert_eq!(
        fake.count(&other.open_id, "user_info").await,
        0,
        "never used"
    );

    // The row still holds its own refresh token, which TikTok still honours: once
    // TikTok answers for the right account, the refresh goes through.
    assert!(
        fake.refresh_token_valid(&account.open_id, &decrypted(&before, "refresh_token"))
            .await
    );
    let r = send_good("tiktok-test", &app, &user, &account).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    let after = db.connection(id).await;
    assert_ne!(after["refresh_token"], before["refresh_token"], "rotated");
    assert_eq!(
        decrypted(&after, "refresh_token"),
        fake.account_state(&account.open_id).await["refresh_token"]
            .as_str()
            .unwrap()
    );
}

#[tokio::test]
async fn metadata_and_connection_counts_are_bounded() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    let store = |key: &str| {
        let mut req = good_request("store-token", &user, &account);
        let mut body = json_body(&req);
        body["profile_metadata"] = json!({ key: "x".repeat(40 * 1024) });
        req = with_json_body(req, &body);
        send("store-token", &app, req)
    };
    assert_eq!(store("first").await.status, 201);
    let id = db.tiktok_rows(&account.open_id)[0]["id"].as_i64().unwrap();
    let before = db.connection(id).await;
    assert_refused(&store("second").await, 413, "payload_too_large");
    assert_eq!(db.connection(id).await, before, "nothing changed");

    // 50 YouTube channels, then the 51st.
    let user_id = db.user_id(&user.uid).await;
    psql(&format!(
        "insert into social_connections (user_id, provider, provider_account_id, access_token)
         select {user_id}, 'youtube', 'channel-' || n, 'x' from generate_series(1, 50) n"
    ));
    let mut req = good_request("store-token", &user, &account);
    let mut body = json_body(&req);
    body["provider"] = json!("youtube");
    body["provider_account_id"] = json!("channel-51");
    req = with_json_body(req, &body);
    assert_refused(
        &send("store-token", &app, req).await,
        409,
        "too_many_connections",
    );
    let count = psql(&format!(
        "select count(*) from social_connections where user_id = {user_id} and provider = 'youtube'"
    ));
    assert_eq!(count.trim(), "50");
}

#[tokio::test]
async fn metadata_over_64_kib_is_refused_through_oauth_tiktok_and_store_tiktok_profile() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    // A connection already holding 52 KiB of the client's metadata (under the bound).
    let mut req = good_request("store-token", &user, &account);
    let mut body = json_body(&req);
    body["profile_metadata"] = json!({"first": "x".repeat(52 * 1024)});
    req = with_json_body(req, &body);
    let r = send("store-token", &app, req).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_i64().expect("id");
    let before = db.connection(id).await;
    assert_eq!(before["sign_in_enabled"], true, "{before}");

    // oauth-tiktok: 40 KiB more, linking with the owner's session and signing in without
    // one; each request is well under the 64 KiB body limit, the merged metadata not.
    let with_metadata = |session: Option<&str>| {
        let req = oauth_request(&account, None, session);
        let mut body = json_body(&req);
        body["metadata"] = json!({"second": "y".repeat(40 * 1024)});
        with_json_body(req, &body)
    };
    for (case, session) in [
        ("linking", Some(user.id_token.as_str())),
        ("signing in", None),
    ] {
        let r = send("oauth-tiktok", &app, with_metadata(session)).await;
        assert_eq!(r.status, 413, "oauth-tiktok {case}: {}", r.body);
        assert_refused(&r, 413, "payload_too_large");
        assert_eq!(db.connection(id).await, before, "{case}: nothing changed");
    }

    // store-tiktok-profile: a profile of four 4 KiB texts (each within its own bound)
    // would take the metadata past 64 KiB.
    let text = "z".repeat(4096);
    let profile = json!({"profile": {"open_id": account.open_id, "display_name": text,
                                     "username": text, "avatar_url": text,
                                     "bio_description": text}});
    let req = with_json_body(
        good_request("store-tiktok-profile", &user, &account),
        &profile,
    );
    assert_refused(
        &send("store-tiktok-profile", &app, req).await,
        413,
        "payload_too_large",
    );
    assert_eq!(db.connection(id).await, before, "nothing changed");
    assert!(before["metadata"].get("profile").is_none());

    // The same calls with small metadata go through: it was the bound that refused.
    let r = send_good("store-tiktok-profile", &app, &user, &account).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut req = oauth_request(&account, None, Some(&user.id_token));
    let mut body = json_body(&req);
    body["metadata"] = json!({"second": "small"});
    req = with_json_body(req, &body);
    let r = send("oauth-tiktok", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let metadata = &db.connection(id).await["metadata"];
    assert_eq!(metadata["second"], "small");
    assert_eq!(metadata["first"], before["metadata"]["first"]);
}

/// A valid TikTok `/v2/user/info/` answer for `open_id`, its `bio_description` padded
/// so that the whole answer is `size` bytes.
fn user_info_of_size(open_id: &str, size: usize) -> String {
    let answer = |bio: &str| {
        json!({"data": {"user": {"open_id": open_id, "display_name": "Padded",
                                 "avatar_url": "https://p16.tiktokcdn.com/a.jpeg",
                                 "bio_description": bio}},
               "error": {"code": "ok", "message": "", "log_id": "x"}})
        .to_string()
    };
    let bare = answer("").len();
    assert!(size >= bare);
    let text = answer(&"x".repeat(size - bare));
    assert_eq!(text.len(), size);
    text
}

#[tokio::test]
async fn a_huge_answer_or_a_redirect_is_tiktoks_error() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    let before = db.connection(id).await;
    const MIB: usize = 1024 * 1024;

    // A valid user-info answer just under the cap is read (the control) ...
    let just_under = user_info_of_size(&account.open_id, MIB - 1024);
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 200, "body": just_under}]),
    )
    .await;
    let r = send_good("tiktok-test", &app, &user, &account).await;
    assert_eq!(r.body["connected"], true, "{}", r.body);
    assert_eq!(r.body["profile"]["display_name"], "Padded", "{}", r.body);
    // ... the same answer at 10 MiB (with its Content-Length) is not.
    let huge = user_info_of_size(&account.open_id, 10 * MIB);
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 200, "body": huge}]),
    )
    .await;
    let r = send_good("tiktok-test", &app, &user, &account).await;
    assert_refused(&r, 502, "tiktok_unavailable");
    assert_eq!(db.connection(id).await, before, "nothing changed");

    // Without a Content-Length the cap holds while the body streams in: chunked, or
    // ending only when the connection closes. Each server first answers a small valid
    // answer (the framing itself is read), then one just over 1 MiB.
    for framing in [Framing::Chunked, Framing::UntilClose] {
        let small =
            StreamingServer::start(200, user_info_of_size(&account.open_id, 4096), framing).await;
        let over =
            StreamingServer::start(200, user_info_of_size(&account.open_id, MIB + 1), framing)
                .await;
        let through =
            |server: &StreamingServer| app_with(&[("TIKTOK_API_BASE_URL", server.url.as_str())]);
        let r = send_good("tiktok-test", &through(&small), &user, &account).await;
        assert_eq!(r.body["connected"], true, "{framing:?}: {}", r.body);
        let r = send_good("tiktok-test", &through(&over), &user, &account).await;
        assert_refused(&r, 502, "tiktok_unavailable");
        assert_eq!((small.hits(), over.hits()), (1, 1), "{framing:?}");
        assert_eq!(
            db.connection(id).await,
            before,
            "{framing:?}: nothing changed"
        );
    }

    // A 307 from the token endpoint must not re-post the client secret elsewhere.
    let elsewhere = StaticServer::start(200, vec![], "{}".into()).await;
    given::access_expired(id, 60);
    let before = db.connection(id).await;
    let location = format!("{}/v2/oauth/token/", elsewhere.url);
    fake.script(
        &account.open_id,
        "token",
        json!([{"status": 307, "headers": {"Location": location}, "body": ""}]),
    )
    .await;
    let r = send_good("tiktok-profile", &app, &user, &account).await;
    assert_refused(&r, 502, "tiktok_unavailable");
    assert_eq!(elsewhere.hits(), 0, "the redirect was not followed");
    assert_eq!(db.connection(id).await, before, "nothing changed");
}

#[tokio::test]
async fn the_slowest_path_answers_by_the_deadline_and_keeps_the_rotated_token() {
    let (db, fake) = (Db::new(), TikTokFake::new());
    let app = app_with(&[("REQUEST_DEADLINE_SECONDS", "3")]);
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    let id = given::connection(&user, &account)
        .through_store_token(&app)
        .await;
    // TikTok is slow everywhere: user info refuses the token after 1.5 s, the refresh
    // answers after 1.4 s (the rotated pair is stored with 0.1 s of the 3 s left), and
    // user info with the new token would take 2 s.
    let rotated = fake.rotate(&account).await;
    let grant = json!({"access_token": rotated.access_token, "refresh_token": rotated.refresh_token,
                       "open_id": account.open_id, "expires_in": 7200, "refresh_expires_in": 86400,
                       "scope": ALL_SCOPES, "token_type": "Bearer"});
    let invalid = json!({"data": {}, "error": {"code": "access_token_invalid", "message": "", "log_id": "l"}});
    fake.script(
        &account.open_id,
        "user_info",
        json!([{"status": 401, "body": invalid, "delay_ms": 1500},
               {"status": 200, "body": {"data": {"user": {"open_id": account.open_id}}}, "delay_ms": 2000}]),
    )
    .await;
    fake.script(
        &account.open_id,
        "token",
        json!([{"status": 200, "body": grant, "delay_ms": 1400}]),
    )
    .await;
    let started = std::time::Instant::now();
    let r = send_good("tiktok-profile", &app, &user, &account).await;
    let took = started.elapsed();
    assert_refused(&r, 502, "tiktok_unavailable");
    assert!(took < std::time::Duration::from_millis(3500), "{took:?}");
    let stored = db.connection(id).await;
    let refresh = config()
        .cipher
        .decrypt(stored["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        refresh, rotated.refresh_token,
        "the rotated pair was stored"
    );
}

#[test]
fn the_migration_makes_only_a_tiktok_users_first_account_a_sign_in_method() {
    let db = unique("signin").replace('-', "_");
    psql(&format!("create database {db}"));
    let q = |sql: &str| try_psql(Some(&db), sql).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(workspace_path("supabase/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (before, after): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.file_name().unwrap().to_string_lossy().as_ref() < "20261128000006");
    let apply = |path: &std::path::Path| {
        try_psql(Some(&db), &std::fs::read_to_string(path).unwrap()).unwrap();
    };
    before.iter().for_each(|p| apply(p));
    // As the earlier backend left them: a TikTok-created user with two accounts, and a
    // Google user whose account was linked from an unproven email.
    q(
        "insert into users (id, firebase_uid, auth_provider) overriding system value values
         (101, 'tiktok-user', 'tiktok.com'), (102, 'google-user', 'google.com')",
    );
    q("insert into social_connections (user_id, provider, provider_account_id, access_token, created_at) values
         (101, 'tiktok', 'signed-up-with', 'a', now() - interval '2 days'),
         (101, 'tiktok', 'added-later', 'b', now() - interval '1 day'),
         (102, 'tiktok', 'planted', 'c', now() - interval '3 days')");
    after.iter().for_each(|p| apply(p));
    assert_eq!(
        q(
            "select string_agg(provider_account_id, ',' order by provider_account_id)
           from social_connections where sign_in_enabled"
        ),
        "signed-up-with"
    );
    psql(&format!("drop database {db}"));
}

#[tokio::test]
async fn a_revoked_session_or_a_disabled_user_cannot_write_on_the_users_behalf() {
    let fake = TikTokFake::new();
    // A connected user, their session revoked ("sign out of all devices") after it
    // signed in; another connected user, then disabled.
    let app = live_app();
    let given::Connected { user, account, .. } = Box::pin(given::connected_user(&app)).await;
    let old_session = session_signed_in(&user, 30);
    revoke_sessions(&user.uid).await;
    let disabled = Box::pin(given::connected_user(&app)).await;
    emulator_admin(
        "accounts:update",
        json!({"localId": disabled.user.uid, "disableUser": true}),
    )
    .await;
    let writes = [
        "tiktok-publish",
        "disconnect-tiktok",
        "store-token",
        "store-tiktok-profile",
        "update-connection",
    ];
    for (who, token, account) in [
        ("revoked", old_session.as_str(), &account),
        (
            "disabled",
            disabled.user.id_token.as_str(),
            &disabled.account,
        ),
    ] {
        // A new container: no account state read before the change.
        let app = live_app();
        for function in writes {
            let req = with_authorization(
                good_request(function, &user, account),
                Some(&format!("Bearer {token}")),
            );
            assert_refused(&send(function, &app, req).await, 401, "unauthorized");
        }
        // Reads skip the check.
        let req = with_authorization(
            good_request("list-connections", &user, account),
            Some(&format!("Bearer {token}")),
        );
        assert_eq!(
            send("list-connections", &app, req).await.status,
            200,
            "{who}"
        );
    }
    assert_eq!(
        fake.count(&disabled.account.open_id, "revoke").await,
        0,
        "never disconnected"
    );
}

//! The server-side TikTok authorization flow with PKCE (tiktok-authorize, the user's
//! consent at the TikTok fake, tiktok-callback) against the local stack.

use integration_tests::*;
use serde_json::{json, Value};
use shared::sign_in::derived_uid;

const REDIRECT: &str = "http://localhost:3000/connect/tiktok";
const OTHER_REDIRECT: &str = "http://localhost:8080/connect.html";
/// The client address of the `events/tiktok-authorize/` files.
const EVENT_ADDRESS: &str = "203.0.113.10";

/// A client address no other authorization of this run comes from. Sign-in states are
/// capped per address, so each test signs in from its own: tests running in parallel
/// never push each other's states out (the cap has its own test).
fn fresh_address() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Each its own /64: an IPv6 client is counted by its /64.
    format!("2001:db8:{:x}:{:x}::1", pid & 0xffff, n)
}

async fn authorize(app: &shared::LiveApp, session: Option<&str>, redirect_uri: &str) -> Value {
    authorize_from(app, session, redirect_uri, &fresh_address()).await
}

/// An authorization started from the client address `address`.
async fn authorize_from(
    app: &shared::LiveApp,
    session: Option<&str>,
    redirect_uri: &str,
    address: &str,
) -> Value {
    let body = json!({"redirect_uri": redirect_uri,
                      "scopes": ["user.info.basic", "user.info.profile", "user.info.stats"]});
    let r = send(
        "tiktok-authorize",
        app,
        authorize_request(session, &body, address),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    keep_binding(&r.body);
    r.body
}

fn authorize_request(session: Option<&str>, body: &Value, address: &str) -> lambda_http::Request {
    let req = event("tiktok-authorize/sign-in.json", &[(EVENT_ADDRESS, address)]);
    assert_eq!(
        shared::http::client_address(&req).as_deref(),
        Some(address),
        "the address is the event's requestContext.identity.sourceIp"
    );
    let req = with_json_body(req, body);
    with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref())
}

fn query(authorize_url: &str) -> serde_json::Map<String, Value> {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), json!(v)))
        .collect()
}

fn url_of(started: &Value) -> &str {
    started["authorize_url"].as_str().unwrap()
}

/// The user consents at the TikTok fake: the code on the redirect, and the account.
async fn consent(
    authorize_url: &str,
    open_id: Option<&str>,
    edit: &[(&str, &str)],
) -> (String, String) {
    TikTokFake::new()
        .consent(authorize_url, open_id, edit)
        .await
}

/// The callback as the browser that started the authorization sends it (its binding).
async fn callback(app: &shared::LiveApp, code: &str, state: &str, session: Option<&str>) -> Reply {
    let body = json!({"code": code, "state": state, "binding": binding_for(state)});
    callback_with(app, body, session).await
}

/// The callback with this body (`code`, `state`, and `email` if any).
async fn callback_with(app: &shared::LiveApp, body: Value, session: Option<&str>) -> Reply {
    let req = with_json_body(event("tiktok-callback/sign-in.json", &[]), &body);
    let req = with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref());
    send("tiktok-callback", app, req).await
}

fn state_of(started: &Value) -> &str {
    started["state"].as_str().unwrap()
}

/// The stored row of a state, found by its hash (the only way to find it), or `null`.
fn state_row(state: &str) -> Value {
    let text = psql(&format!(
        "select coalesce((select row_to_json(s) from oauth_states s where state_hash = '{}'), 'null')",
        shared::pkce::state_hash(state)
    ));
    serde_json::from_str(&text).expect("row")
}

/// How many sign-in states from `address` (its group: an IPv6 address's /64) are stored.
fn sign_in_states_from(address: &str) -> i64 {
    let group = shared::http::client_group(address);
    psql(&format!(
        "select count(*) from oauth_states where client_address = '{group}' and firebase_uid is null"
    ))
    .parse()
    .expect("count")
}

/// The `users` rows of a Firebase uid (read with `psql`: `Db::user_id` would make one).
fn user_rows(firebase_uid: &str) -> Vec<Value> {
    let text = psql(&format!(
        "select coalesce(json_agg(u), '[]') from users u where firebase_uid = '{firebase_uid}'"
    ));
    serde_json::from_str(&text).expect("rows")
}

/// Nothing was written for this TikTok account: no connection, and neither the `users`
/// row nor the Firebase user that a sign-in makes for it (with the derived uid).
async fn assert_nothing_written(db: &Db, open_id: &str) {
    assert!(
        db.tiktok_rows(open_id).is_empty(),
        "no connection of {open_id}"
    );
    let uid = derived_uid(open_id);
    assert!(user_rows(&uid).is_empty(), "no users row {uid}");
    assert!(
        firebase_lookup(&uid).await.is_none(),
        "no Firebase user {uid}"
    );
}

/// An ID token of `user` whose sign-in was `secs_ago` ago (`session_signed_in`), with the
/// user's sessions made valid since two hours ago, so it is old, not revoked.
async fn old_session(user: &FirebaseUser, secs_ago: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let url = format!(
        "http://{}/identitytoolkit.googleapis.com/v1/projects/{}/accounts:update",
        stack_var("FIREBASE_AUTH_EMULATOR_HOST"),
        stack_var("FIREBASE_PROJECT_ID")
    );
    let status = http()
        .post(url)
        .bearer_auth("owner")
        .json(&json!({"localId": user.uid, "validSince": (now - 7200).to_string()}))
        .send()
        .await
        .expect("emulator")
        .status();
    assert!(status.is_success(), "accounts:update: {status}");
    session_signed_in(user, secs_ago)
}

/// The code TikTok gave is older than its 10 minutes (the fake's control call).
async fn expire_code(open_id: &str, code: &str) {
    let status = http()
        .post(format!(
            "{}/_fake/expire_code",
            stack_var("STACK_TIKTOK_URL")
        ))
        .json(&json!({"open_id": open_id, "code": code}))
        .send()
        .await
        .expect("fake")
        .status();
    assert!(status.is_success(), "expire_code: {status}");
}

#[tokio::test]
async fn signing_in_end_to_end_gives_a_working_custom_token() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let started = authorize(&app, None, REDIRECT).await;
    let url = url_of(&started);
    assert!(url.starts_with(&format!(
        "{}/v2/auth/authorize/?",
        stack_var("STACK_TIKTOK_URL")
    )));
    let q = query(url);
    assert_eq!(q["client_key"], stack_var("TIKTOK_CLIENT_KEY").as_str());
    assert_eq!(
        q["scope"],
        "user.info.basic,user.info.profile,user.info.stats"
    );
    assert_eq!(q["state"], state_of(&started));
    assert!(started["expires_at"].as_str().is_some());
    let (code, open_id) = consent(url, None, &[]).await;

    let r = callback(&app, &code, state_of(&started), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], derived_uid(&open_id).as_str());
    assert_eq!(r.body["auth_provider"], "tiktok.com");
    assert_eq!(
        r.body["connection"]["provider_account_id"],
        open_id.as_str()
    );
    assert_eq!(r.body["connection"]["sign_in_enabled"], true);
    let id_token = sign_in_with_custom_token(r.body["firebase_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(jwt_claims(&id_token)["sub"], derived_uid(&open_id).as_str());

    // The fake saw the verifier of the challenge; the tokens are stored encrypted and
    // are in no answer.
    let calls = fake.calls(&open_id).await;
    let exchange = calls
        .iter()
        .find(|c| c["endpoint"] == "token_code")
        .unwrap();
    assert_eq!(exchange["verifier_ok"], true, "{exchange}");
    let row = &db.tiktok_rows(&open_id)[0];
    let state = fake.account_state(&open_id).await;
    let refresh = state["refresh_token"].as_str().unwrap();
    assert_ne!(row["refresh_token"], refresh);
    let cipher = config().cipher;
    assert_eq!(
        cipher
            .decrypt(row["refresh_token"].as_str().unwrap())
            .unwrap(),
        refresh
    );
    let text = r.body.to_string();
    assert!(!text.contains(refresh) && !text.contains("act."), "{text}");
}

#[tokio::test]
async fn the_state_is_stored_as_a_hash_and_the_verifier_encrypted_for_ten_minutes() {
    let app = live_app();
    let address = fresh_address();
    let started = authorize_from(&app, None, REDIRECT, &address).await;
    let state = state_of(&started);
    let q = query(url_of(&started));

    // The default challenge: S256 as TikTok compares it, the lowercase hex of the
    // 32-byte digest (64 characters), not RFC 7636's base64url.
    let challenge = q["code_challenge"].as_str().unwrap();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(challenge.len(), 64, "{challenge}");
    assert!(
        challenge
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "lowercase hex: {challenge}"
    );

    // A leaked row cannot be replayed: the state is in no column, only its hash.
    let row = state_row(state);
    assert!(row.is_object(), "the authorization is stored");
    let text = row.to_string();
    assert!(!text.contains(state), "{text}");
    assert_eq!(row["state_hash"], shared::pkce::state_hash(state).as_str());
    assert_eq!(row["intent"], "sign_in");
    assert!(row["firebase_uid"].is_null());
    assert_eq!(row["redirect_uri"], REDIRECT);
    assert_eq!(
        row["scopes"],
        "user.info.basic,user.info.profile,user.info.stats"
    );
    // An IPv6 client is counted by its /64.
    assert_eq!(
        row["client_address"],
        shared::http::client_group(&address).as_str()
    );
    assert!(row["client_address"].as_str().unwrap().ends_with("::/64"));
    // The binding (login CSRF) is kept by the browser, stored only as its hash.
    let binding = started["binding"].as_str().unwrap();
    assert_eq!(binding.len(), 43);
    assert!(!text.contains(binding), "{text}");
    assert_eq!(
        row["binding_hash"],
        shared::pkce::state_hash(binding).as_str()
    );

    // The verifier is Fernet ciphertext under the tokens' key; decrypted, it is an RFC
    // 7636 verifier (43-128 unreserved characters) whose challenge is the URL's.
    let stored = row["code_verifier"].as_str().unwrap();
    assert!(stored.starts_with("gAAAAA"), "{stored}");
    let verifier = config().cipher.decrypt(stored).expect("the stack's key");
    assert!((43..=128).contains(&verifier.len()), "{verifier}");
    assert!(verifier
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    assert!(
        !text.contains(&verifier),
        "the verifier is stored encrypted only"
    );
    assert_eq!(
        shared::pkce::challenge(&verifier, shared::pkce::ChallengeEncoding::Hex),
        challenge
    );

    // Kept 10 minutes; the answer's expiry is the stored one (to the second).
    let stored_expiry = shared::timestamp::parse(row["expires_at"].as_str().unwrap()).unwrap();
    let left = (stored_expiry - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((570..=630).contains(&left), "expires in {left} s");
    let answered = shared::timestamp::parse(started["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        (answered - stored_expiry).abs() < time::Duration::seconds(1),
        "{answered} / {stored_expiry}"
    );

    // A link state holds its user.
    let user = given::user().await;
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let row = state_row(state_of(&started));
    assert_eq!(row["intent"], "link");
    assert_eq!(row["firebase_uid"], user.uid.as_str());
}

#[tokio::test]
async fn linking_needs_the_same_users_session() {
    let (app, db) = (live_app(), Db::new());
    let user = given::user().await;
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let url = url_of(&started).to_owned();

    // Another user's session on the callback: refused, nothing written for anyone.
    let other = given::user().await;
    let (code, open_id) = consent(&url, None, &[]).await;
    let r = callback(&app, &code, state_of(&started), Some(&other.id_token)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("state_mismatch")),
        "{}",
        r.body
    );
    assert_nothing_written(&db, &open_id).await;
    assert!(db.connections_of_uid(&user.uid).await.is_empty());
    assert!(db.connections_of_uid(&other.uid).await.is_empty());

    // No session on the callback of a link state: 401, nothing written.
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let missing = callback(&app, &code, state_of(&started), None).await;
    missing.assert_error(401, "unauthorized");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    assert_nothing_written(&db, &open_id).await;

    // The same user, with a new authorization: linked, no custom token.
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let (code, _) = consent(url_of(&started), Some(&open_id), &[]).await;
    let r = callback(&app, &code, state_of(&started), Some(&user.id_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], user.uid.as_str());
    assert!(r.body["firebase_token"].is_null());
    let rows = db.tiktok_rows(&open_id);
    assert_eq!(rows[0]["user_id"], db.user_id(&user.uid).await);
    assert!(
        user_rows(&derived_uid(&open_id)).is_empty(),
        "no sign-in user made"
    );
}

#[tokio::test]
async fn an_account_connected_to_another_user_is_not_moved() {
    let (app, db) = (live_app(), Db::new());
    let owner = given::connected_user(&app).await;
    let open_id = owner.account.open_id.as_str();
    let before = db.tiktok_rows(open_id);

    // Another user links the same TikTok account: TikTok proves it is theirs to
    // consent to, but a TikTok account belongs to one user.
    let other = given::user().await;
    let started = authorize(&app, Some(&other.id_token), REDIRECT).await;
    let (code, _) = consent(url_of(&started), Some(open_id), &[]).await;
    let r = callback(&app, &code, state_of(&started), Some(&other.id_token)).await;
    r.assert_error(409, "tiktok_account_in_use");
    assert!(r.body.get("firebase_token").is_none());

    // The owner's row is as it was, tokens and all; the other user has nothing.
    assert_eq!(db.tiktok_rows(open_id), before);
    assert!(db.connections_of_uid(&other.uid).await.is_empty());
}

#[tokio::test]
async fn an_old_session_links_for_posting_only() {
    let (app, db) = (live_app(), Db::new());
    let user = given::user().await;
    // A session that signed in an hour ago may connect an account to post with, but
    // not make it a way to sign in as this user (that needs a recent sign-in).
    let hour_old = old_session(&user, 3600).await;
    let started = authorize(&app, Some(&hour_old), REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let r = callback(&app, &code, state_of(&started), Some(&hour_old)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], user.uid.as_str());
    assert_eq!(r.body["connection"]["sign_in_enabled"], false, "{}", r.body);
    assert_eq!(
        listed_connection(&app, &user.id_token, &open_id).await["sign_in_enabled"],
        false
    );

    // Signing in with that account then is refused, and makes no user.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, _) = consent(url_of(&started), Some(&open_id), &[]).await;
    let r = callback(&app, &code, state_of(&started), None).await;
    r.assert_error(409, "tiktok_sign_in_not_enabled");
    assert!(r.body.get("firebase_token").is_none());
    assert_eq!(db.tiktok_rows(&open_id).len(), 1);
    assert!(user_rows(&derived_uid(&open_id)).is_empty());
    assert!(firebase_lookup(&derived_uid(&open_id)).await.is_none());
}

#[tokio::test]
async fn a_new_user_gets_the_optional_email_as_contact_email() {
    let app = live_app();
    let address = format!("{}@example.com", unique("contact"));
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let body = json!({"code": code, "state": state_of(&started), "email": address,
                      "binding": started["binding"]});
    let r = callback_with(&app, body, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email"], address.as_str());
    assert_eq!(r.body["email_verified"], false);

    // Stored for contact, unverified; TikTok proved no email, so Firebase has none.
    let uid = derived_uid(&open_id);
    let users = user_rows(&uid);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], address.as_str());
    assert_eq!(users[0]["email_verified"], false);
    let firebase = firebase_lookup(&uid).await.expect("Firebase user");
    assert!(firebase.get("email").is_none(), "{firebase}");
}

#[tokio::test]
async fn replayed_expired_and_mismatched_authorizations_are_refused() {
    let (app, db) = (live_app(), Db::new());
    let expect = |r: &Reply, code: &str| {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some(code)),
            "{}",
            r.body
        );
        assert!(r.body.get("firebase_token").is_none());
    };
    // The first sign-in of `open_id` wrote one connection and one user; no more since.
    let written_once = |open_id: &str| {
        assert_eq!(db.tiktok_rows(open_id).len(), 1, "nothing more written");
        assert_eq!(user_rows(&derived_uid(open_id)).len(), 1);
    };

    // Replayed: the state is used once.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    assert_eq!(
        callback(&app, &code, state_of(&started), None).await.status,
        200
    );
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_state",
    );
    written_once(&open_id);

    // A used code, with a fresh state.
    let started = authorize(&app, None, REDIRECT).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    written_once(&open_id);

    // Expired.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    psql(&format!(
        "update oauth_states set expires_at = now() - interval '1 second' where state_hash = '{}'",
        shared::pkce::state_hash(state_of(&started))
    ));
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_state",
    );
    assert_nothing_written(&db, &open_id).await;

    // The code was given for another redirect URI than the state's.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) =
        consent(url_of(&started), None, &[("redirect_uri", OTHER_REDIRECT)]).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert_nothing_written(&db, &open_id).await;

    // The code is bound to another challenge: our verifier does not match it.
    let started = authorize(&app, None, REDIRECT).await;
    let other = shared::pkce::challenge(
        "another-verifier-0123456789-0123456789-0123456789",
        shared::pkce::ChallengeEncoding::Hex,
    );
    let (code, open_id) = consent(url_of(&started), None, &[("code_challenge", &other)]).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert_nothing_written(&db, &open_id).await;
    let calls = TikTokFake::new().calls(&open_id).await;
    assert!(calls
        .iter()
        .any(|c| c["endpoint"] == "token_code" && c["verifier_ok"] == false));

    // The code expired at TikTok (its codes live 10 minutes) before the callback.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    expire_code(&open_id, &code).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert_nothing_written(&db, &open_id).await;

    // A redirect URI that is not the app's never gets a state.
    let address = fresh_address();
    let body = json!({"redirect_uri": "https://evil.example.com/steal"});
    let r = send(
        "tiktok-authorize",
        &app,
        authorize_request(None, &body, &address),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    assert_eq!(sign_in_states_from(&address), 0, "no state row");
}

/// The code exchange's record at the fake: whether the verifier matched the challenge.
async fn verifier_matched(open_id: &str) -> Option<bool> {
    let calls = TikTokFake::new().calls(open_id).await;
    calls
        .iter()
        .find(|c| c["endpoint"] == "token_code")
        .and_then(|c| c["verifier_ok"].as_bool())
}

#[tokio::test]
async fn the_default_hex_challenge_signs_in_and_base64url_is_refused_as_tiktok_refuses_it() {
    // The default: a hex challenge, which TikTok (and the fake, by default) compares.
    let app = live_app();
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let r = callback(&app, &code, state_of(&started), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(verifier_matched(&open_id).await, Some(true));

    // RFC 7636's base64url challenge, against TikTok as it is: refused at the exchange
    // (invalid_request "Code verifier or code challenge is invalid."), nothing written.
    let rfc = app_with(&[("TIKTOK_PKCE_CHALLENGE_ENCODING", "base64url")]);
    let started = authorize(&rfc, None, REDIRECT).await;
    let challenge = query(url_of(&started))["code_challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge.len(),
        43,
        "base64url without padding: {challenge}"
    );
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let r = callback(&rfc, &code, state_of(&started), None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_code")),
        "{}",
        r.body
    );
    assert_eq!(verifier_matched(&open_id).await, Some(false));
    assert_nothing_written(&Db::new(), &open_id).await;

    // The setting stays for a TikTok that follows the RFC (the fake plays one).
    let started = authorize(&rfc, None, REDIRECT).await;
    let (code, open_id) = TikTokFake::new()
        .consent_with(
            url_of(&started),
            None,
            &[],
            json!({"pkce_encoding": "base64url"}),
        )
        .await;
    let r = callback(&rfc, &code, state_of(&started), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(verifier_matched(&open_id).await, Some(true));
}

#[tokio::test]
async fn open_states_are_bounded_per_user() {
    let app = live_app();
    let user = given::user().await;
    let mut states = Vec::new();
    for _ in 0..22 {
        states.push(authorize(&app, Some(&user.id_token), REDIRECT).await);
    }
    let open = psql(&format!(
        "select count(*) from oauth_states where firebase_uid = '{}'",
        user.uid
    ));
    assert_eq!(open.trim(), "20");
    // The oldest went: its state is unknown now; the newest still works.
    let oldest = &states[0];
    let (code, _) = consent(url_of(oldest), None, &[]).await;
    let r = callback(&app, &code, state_of(oldest), Some(&user.id_token)).await;
    assert_eq!(r.body["code"], "invalid_state", "{}", r.body);
    let newest = &states[21];
    let (code, _) = consent(url_of(newest), None, &[]).await;
    let r = callback(&app, &code, state_of(newest), Some(&user.id_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_client_address_gets_twenty_sign_ins_in_progress_then_429_evicting_none() {
    let app = live_app();
    let (crowded, elsewhere) = (fresh_address(), fresh_address());
    // Started before the flood: a sign-in from another address, and a link state from
    // the crowded one (link states count against their user, not the address).
    let other_address = authorize_from(&app, None, REDIRECT, &elsewhere).await;
    let user = given::user().await;
    let link = authorize_from(&app, Some(&user.id_token), REDIRECT, &crowded).await;

    // The same /64 is the same client, whichever address in it.
    let prefix = crowded.trim_end_matches("::1");
    let mut states = Vec::new();
    for i in 0..20 {
        let address = format!("{prefix}::{:x}", i + 1);
        states.push(authorize_from(&app, None, REDIRECT, &address).await);
    }
    assert_eq!(sign_in_states_from(&crowded), 20);
    let refused = send(
        "tiktok-authorize",
        &app,
        authorize_request(
            None,
            &json!({"redirect_uri": REDIRECT}),
            &format!("{prefix}:ab::9"),
        ),
    )
    .await;
    refused.assert_error(429, "too_many_pending_authorizations");
    assert_eq!(refused.headers["retry-after"], "600");
    assert_eq!(sign_in_states_from(&crowded), 20, "nothing added");
    // Nobody's sign-in was cancelled: the oldest still finishes.
    let oldest = &states[0];
    let (code, _) = consent(url_of(oldest), None, &[]).await;
    let r = callback(&app, &code, state_of(oldest), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // With one used, there is room again.
    authorize_from(&app, None, REDIRECT, &crowded).await;

    // The other address and the link state are untouched.
    assert!(state_row(state_of(&link)).is_object());
    assert_eq!(sign_in_states_from(&elsewhere), 1);
    let (code, _) = consent(url_of(&other_address), None, &[]).await;
    let r = callback(&app, &code, state_of(&other_address), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_cap_holds_under_concurrent_authorizations() {
    let app = live_app();
    let address = fresh_address();
    let body = json!({"redirect_uri": REDIRECT});
    let attempts = (0..30).map(|_| {
        send(
            "tiktok-authorize",
            &app,
            authorize_request(None, &body, &address),
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let refused = answers
        .iter()
        .filter(|r| r.status == 429 && r.body["code"] == "too_many_pending_authorizations")
        .count();
    assert_eq!((ok, refused), (20, 10));
    assert_eq!(sign_in_states_from(&address), 20);
}

#[tokio::test]
async fn expired_states_are_removed_by_the_next_authorization() {
    let app = live_app();
    let address = fresh_address();
    let mut states = Vec::new();
    for _ in 0..3 {
        states.push(authorize_from(&app, None, REDIRECT, &address).await);
    }
    let hashes: Vec<String> = states[..2]
        .iter()
        .map(|s| format!("'{}'", shared::pkce::state_hash(state_of(s))))
        .collect();
    psql(&format!(
        "update oauth_states set expires_at = now() - interval '1 minute' where state_hash in ({})",
        hashes.join(",")
    ));

    // Any authorization clears them, whoever starts it; the open one stays.
    authorize(&app, None, REDIRECT).await;
    assert!(state_row(state_of(&states[0])).is_null());
    assert!(state_row(state_of(&states[1])).is_null());
    assert!(state_row(state_of(&states[2])).is_object());
    assert_eq!(sign_in_states_from(&address), 1);

    // One call removes at most 100, the longest expired first; the next takes the
    // rest. In one transaction, so the rows are ours alone to remove; they expired
    // long before any other test's, so they are the oldest.
    let tag = unique("expired");
    let left = psql(&format!(
        "insert into oauth_states (state_hash, intent, redirect_uri, scopes, code_verifier, expires_at)
           select '{tag}-' || i, 'sign_in', '{REDIRECT}', 'user.info.basic', 'gAAAAA-unused',
                  timestamptz '2000-01-01' + i * interval '1 second'
           from generate_series(1, 101) i;
         select create_oauth_state('{tag}-new', 'sign_in', '{REDIRECT}', 'user.info.basic', 'gAAAAA-unused');
         select string_agg(state_hash, ',') from oauth_states where state_hash like '{tag}-%' and expires_at < now();"
    ));
    assert_eq!(
        left.lines().last(),
        Some(format!("{tag}-101").as_str()),
        "{left}"
    );
    authorize(&app, None, REDIRECT).await;
    let left = psql(&format!(
        "select count(*) from oauth_states where state_hash like '{tag}-%' and expires_at < now()"
    ));
    assert_eq!(left, "0");
    psql(&format!(
        "delete from oauth_states where state_hash = '{tag}-new'"
    ));
}

#[tokio::test]
async fn a_sign_in_code_posted_without_its_browsers_binding_signs_no_one_in() {
    // Login CSRF: the attacker starts a sign-in, consents with their own TikTok account,
    // and has a victim's browser post the code and state. Without the binding (or with
    // another browser's) nothing happens, and the state stays for its own browser.
    let (app, db) = (live_app(), Db::new());
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(url_of(&started), None, &[]).await;
    let other = authorize(&app, None, REDIRECT).await;
    for binding in [
        json!(null),
        json!("not-the-binding"),
        other["binding"].clone(),
    ] {
        let body = json!({"code": code, "state": state_of(&started), "binding": binding});
        callback_with(&app, body, None)
            .await
            .assert_error(400, "invalid_state");
        assert!(
            state_row(state_of(&started)).is_object(),
            "not used up by {binding}"
        );
    }
    assert_eq!(
        TikTokFake::new().count(&open_id, "token_code").await,
        0,
        "the code never went to TikTok"
    );
    assert_nothing_written(&db, &open_id).await;
    // Its own browser finishes it.
    let r = callback(&app, &code, state_of(&started), None).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A link state seen in a redirect URL cannot be used up by anyone else either, not
    // even with the user's own session.
    let user = given::user().await;
    let link = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let (code, _) = consent(url_of(&link), None, &[]).await;
    let body = json!({"code": code, "state": state_of(&link)});
    callback_with(&app, body, Some(&user.id_token))
        .await
        .assert_error(400, "invalid_state");
    assert!(state_row(state_of(&link)).is_object(), "not used up");
    let r = callback(&app, &code, state_of(&link), Some(&user.id_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

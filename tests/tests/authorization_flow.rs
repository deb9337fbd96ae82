//! The server-side TikTok authorization flow with PKCE (tiktok-authorize, the user's
//! consent at the TikTok fake, tiktok-callback) against the local stack.

use integration_tests::*;
use serde_json::{json, Value};
use shared::sign_in::derived_uid;

const REDIRECT: &str = "http://localhost:3000/connect/tiktok";
const OTHER_REDIRECT: &str = "http://localhost:8080/connect.html";

async fn authorize(app: &shared::LiveApp, session: Option<&str>, redirect_uri: &str) -> Value {
    let body = json!({"redirect_uri": redirect_uri,
                      "scopes": ["user.info.basic", "user.info.profile", "user.info.stats"]});
    let req = with_json_body(event("tiktok-authorize/sign-in.json", &[]), &body);
    let req = with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref());
    let r = send("tiktok-authorize", app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn query(authorize_url: &str) -> serde_json::Map<String, Value> {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), json!(v)))
        .collect()
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

async fn callback(app: &shared::LiveApp, code: &str, state: &str, session: Option<&str>) -> Reply {
    let req = with_json_body(
        event("tiktok-callback/sign-in.json", &[]),
        &json!({"code": code, "state": state}),
    );
    let req = with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref());
    send("tiktok-callback", app, req).await
}

fn state_of(started: &Value) -> &str {
    started["state"].as_str().unwrap()
}

#[tokio::test]
async fn signing_in_end_to_end_gives_a_working_custom_token() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let started = authorize(&app, None, REDIRECT).await;
    let url = started["authorize_url"].as_str().unwrap();
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
async fn linking_needs_the_same_users_session() {
    let (app, db) = (live_app(), Db::new());
    let user = given::user().await;
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let url = started["authorize_url"].as_str().unwrap().to_owned();

    // Another user's session on the callback: refused, nothing written.
    let other = given::user().await;
    let (code, open_id) = consent(&url, None, &[]).await;
    let r = callback(&app, &code, state_of(&started), Some(&other.id_token)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("state_mismatch")),
        "{}",
        r.body
    );
    assert!(db.tiktok_rows(&open_id).is_empty());

    // The same user, with a new authorization: linked, no custom token.
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let (code, open_id) = consent(started["authorize_url"].as_str().unwrap(), None, &[]).await;
    let missing = callback(&app, &code, state_of(&started), None).await;
    assert_eq!(missing.status, 401, "a link state needs the session");
    let started = authorize(&app, Some(&user.id_token), REDIRECT).await;
    let (code, _) = consent(
        started["authorize_url"].as_str().unwrap(),
        Some(&open_id),
        &[],
    )
    .await;
    let r = callback(&app, &code, state_of(&started), Some(&user.id_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], user.uid.as_str());
    assert!(r.body["firebase_token"].is_null());
    let rows = db.tiktok_rows(&open_id);
    assert_eq!(rows[0]["user_id"], db.user_id(&user.uid).await);
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

    // Replayed: the state is used once.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(started["authorize_url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(
        callback(&app, &code, state_of(&started), None).await.status,
        200
    );
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_state",
    );

    // A used code, with a fresh state.
    let started = authorize(&app, None, REDIRECT).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert_eq!(db.tiktok_rows(&open_id).len(), 1, "nothing more written");

    // Expired.
    let started = authorize(&app, None, REDIRECT).await;
    let (code, open_id) = consent(started["authorize_url"].as_str().unwrap(), None, &[]).await;
    psql(&format!(
        "update oauth_states set expires_at = now() - interval '1 second' where state_hash = '{}'",
        shared::pkce::state_hash(state_of(&started))
    ));
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_state",
    );
    assert!(db.tiktok_rows(&open_id).is_empty());

    // The code was given for another redirect URI than the state's.
    let started = authorize(&app, None, REDIRECT).await;
    let url = started["authorize_url"].as_str().unwrap().to_owned();
    let (code, open_id) = consent(&url, None, &[("redirect_uri", OTHER_REDIRECT)]).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert!(db.tiktok_rows(&open_id).is_empty());

    // The code is bound to another challenge: our verifier does not match it.
    let started = authorize(&app, None, REDIRECT).await;
    let url = started["authorize_url"].as_str().unwrap().to_owned();
    let other = shared::pkce::challenge(
        "another-verifier-0123456789-0123456789-0123456789",
        shared::pkce::ChallengeEncoding::Base64Url,
    );
    let (code, open_id) = consent(&url, None, &[("code_challenge", &other)]).await;
    expect(
        &callback(&app, &code, state_of(&started), None).await,
        "invalid_code",
    );
    assert!(db.tiktok_rows(&open_id).is_empty());
    let calls = TikTokFake::new().calls(&open_id).await;
    assert!(calls
        .iter()
        .any(|c| c["endpoint"] == "token_code" && c["verifier_ok"] == false));

    // A redirect URI that is not the app's never gets a state.
    let body = json!({"redirect_uri": "https://evil.example.com/steal"});
    let r = send(
        "tiktok-authorize",
        &app,
        with_json_body(event("tiktok-authorize/sign-in.json", &[]), &body),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
}

#[tokio::test]
async fn a_hex_challenge_is_verified_by_the_fake() {
    let app = app_with(&[("TIKTOK_PKCE_CHALLENGE_ENCODING", "hex")]);
    let started = authorize(&app, None, REDIRECT).await;
    let url = started["authorize_url"].as_str().unwrap();
    let challenge = query(url)["code_challenge"].as_str().unwrap().to_owned();
    assert_eq!(challenge.len(), 64);
    assert!(challenge
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let (code, open_id) = consent(url, None, &[]).await;
    let r = callback(&app, &code, state_of(&started), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = TikTokFake::new().calls(&open_id).await;
    assert!(calls
        .iter()
        .any(|c| c["endpoint"] == "token_code" && c["verifier_ok"] == true));
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
    let (code, _) = consent(oldest["authorize_url"].as_str().unwrap(), None, &[]).await;
    let r = callback(&app, &code, state_of(oldest), Some(&user.id_token)).await;
    assert_eq!(r.body["code"], "invalid_state", "{}", r.body);
    let newest = &states[21];
    let (code, _) = consent(newest["authorize_url"].as_str().unwrap(), None, &[]).await;
    let r = callback(&app, &code, state_of(newest), Some(&user.id_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

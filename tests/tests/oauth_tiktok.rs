//! oauth-tiktok against the local stack: sign-in and linking that cannot be forged.

use integration_tests::*;
use serde_json::json;
use shared::endpoints::oauth_tiktok::derived_uid;

async fn sign_in(
    app: &shared::LiveApp,
    file: &str,
    account: &TikTokAccount,
    email: &str,
    session: Option<&str>,
) -> Reply {
    let req = event(
        &format!("oauth-tiktok/{file}"),
        &[
            ("REPLACE_WITH_OPEN_ID", account.open_id.as_str()),
            ("REPLACE_WITH_ACCESS_TOKEN", account.access_token.as_str()),
            ("REPLACE_WITH_REFRESH_TOKEN", account.refresh_token.as_str()),
            ("REPLACE_WITH_EMAIL", email),
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", session.unwrap_or("")),
        ],
    );
    let req = if file == "link.json" {
        req
    } else {
        with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref())
    };
    send("oauth-tiktok", app, req).await
}

fn email() -> String {
    format!("{}@example.com", unique("tiktoker"))
}

#[tokio::test]
async fn a_new_user_signs_in_and_the_custom_token_works() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let account = fake.account(ALL_SCOPES).await;
    let address = email();
    let r = sign_in(&app, "new-user.json", &account, &address, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for field in [
        "firebase_uid",
        "user_id",
        "email",
        "full_name",
        "avatar_url",
        "email_verified",
        "auth_provider",
        "firebase_token",
    ] {
        assert!(
            r.body.get(field).is_some_and(|v| !v.is_null()),
            "{field} in {}",
            r.body
        );
    }
    let uid = r.body["firebase_uid"].as_str().unwrap();
    assert_eq!(uid, derived_uid(&account.open_id));
    assert_eq!(r.body["email"], address.as_str());
    assert_eq!(r.body["email_verified"], false);
    assert_eq!(r.body["auth_provider"], "tiktok.com");
    assert_eq!(r.body["full_name"], "Ana Cooks");

    let id_token = sign_in_with_custom_token(r.body["firebase_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(&id_token)["sub"],
        uid,
        "signInWithCustomToken gives the returned uid"
    );
    let fb_user = firebase_lookup(uid).await.expect("Firebase user exists");
    assert!(
        fb_user.get("email").is_none(),
        "an unproven email is not set on the Firebase user"
    );

    let rows = db.tiktok_rows(&account.open_id);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["user_id"], r.body["user_id"]);
    assert_eq!(row["is_primary"], true);
    assert!(row["access_token"].as_str().unwrap().starts_with("gAAAAA"));
    assert_eq!(decrypted(row, "access_token"), account.access_token);
    assert_eq!(decrypted(row, "refresh_token"), account.refresh_token);
    let expires = shared::timestamp::parse(row["expires_at"].as_str().unwrap()).unwrap();
    let secs = (expires - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!(
        (7190..=7200).contains(&secs),
        "expires_at = now + expires_in: {secs}"
    );
    assert_eq!(row["scope"], ALL_SCOPES);
    assert_eq!(
        row["metadata"]["profile"]["open_id"],
        account.open_id.as_str()
    );
    assert!(row["metadata"]["profile"].get("fetched_at").is_none());
    assert_eq!(
        row["metadata"]["source"], "login-page",
        "request metadata kept"
    );

    // Signing in again, without a session: the same user, tokens updated.
    let next = fake.rotate(&account).await;
    let again = sign_in(&app, "new-user.json", &next, &address, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["firebase_uid"], uid);
    assert_eq!(again.body["user_id"], r.body["user_id"]);
    let rows = db.tiktok_rows(&account.open_id);
    assert_eq!(rows.len(), 1);
    assert_eq!(decrypted(&rows[0], "access_token"), next.access_token);
}

#[tokio::test]
async fn forged_or_invalid_tiktok_credentials_write_nothing() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [victim, attacker] = fake.accounts(ALL_SCOPES).await;
    // The attacker's valid token, presented as the victim's open_id.
    let forged = TikTokAccount {
        open_id: victim.open_id.clone(),
        ..attacker.clone()
    };
    let r = sign_in(&app, "new-user.json", &forged, &email(), None).await;
    r.assert_error(401, "tiktok_account_mismatch");
    let invalid = TikTokAccount {
        access_token: "act.invalid".into(),
        ..victim.clone()
    };
    let r = sign_in(&app, "new-user.json", &invalid, &email(), None).await;
    r.assert_error(401, "tiktok_token_invalid");
    assert!(
        r.headers.get("www-authenticate").is_none(),
        "not a session problem"
    );

    assert!(db.tiktok_rows(&victim.open_id).is_empty());
    assert!(
        firebase_lookup(&derived_uid(&victim.open_id))
            .await
            .is_none(),
        "no Firebase user created"
    );
}

#[tokio::test]
async fn an_existing_accounts_email_without_a_session_is_refused() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let existing = given::user().await;
    let existing_id = db.user_id(&existing.uid).await;
    let account = fake.account(ALL_SCOPES).await;
    for file in ["session-email.json", "new-user.json"] {
        let r = sign_in(&app, file, &account, &existing.email, None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("account_exists")),
            "{file}: {}",
            r.body
        );
    }
    assert!(
        db.connections_of(existing_id).await.is_empty(),
        "nothing linked to the existing user"
    );
    assert!(db.tiktok_rows(&account.open_id).is_empty());
    assert!(firebase_lookup(&derived_uid(&account.open_id))
        .await
        .is_none());

    // An email only a users row has (e.g. an earlier TikTok sign-up) is refused too.
    let other = fake.account(ALL_SCOPES).await;
    let taken = email();
    assert_eq!(
        sign_in(&app, "new-user.json", &other, &taken, None)
            .await
            .status,
        200
    );
    let third = fake.account(ALL_SCOPES).await;
    let r = sign_in(&app, "new-user.json", &third, &taken.to_uppercase(), None).await;
    r.assert_error(409, "account_exists");
}

#[tokio::test]
async fn a_verified_session_links_a_second_account_not_primary() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let [first, second] = fake.accounts(ALL_SCOPES).await;
    let r1 = sign_in(&app, "link.json", &first, "", Some(&user.id_token)).await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    assert_eq!(r1.body["firebase_uid"], user.uid.as_str());
    let r2 = sign_in(&app, "link.json", &second, "", Some(&user.id_token)).await;
    assert_eq!(r2.body["firebase_uid"], user.uid.as_str(), "{}", r2.body);
    let rows = db.connections_of_uid(&user.uid).await;
    assert_eq!(rows.len(), 2);
    let primary = primary_accounts(&rows);
    assert_eq!(primary, vec![json!(first.open_id)]);

    // A session that does not verify is a 401, not a sign-in.
    let r = sign_in(&app, "link.json", &second, "", Some("garbage")).await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn an_account_connected_to_a_is_never_moved_to_b() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [alice, bob] = given::users().await;
    let account = fake.account(ALL_SCOPES).await;
    assert_eq!(
        sign_in(&app, "link.json", &account, "", Some(&alice.id_token))
            .await
            .status,
        200
    );
    let r = sign_in(&app, "link.json", &account, "", Some(&bob.id_token)).await;
    r.assert_error(409, "tiktok_account_in_use");
    let rows = db.tiktok_rows(&account.open_id);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["user_id"], json!(db.user_id(&alice.uid).await));
}

#[tokio::test]
async fn a_brand_new_user_needs_an_email() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let account = fake.account(ALL_SCOPES).await;
    let r = sign_in(&app, "no-email.json", &account, "", None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["code"], "email_required");
    assert_eq!(
        r.body["detail"],
        "Email is required for TikTok authentication"
    );
    assert!(firebase_lookup(&derived_uid(&account.open_id))
        .await
        .is_none());
}

#[tokio::test]
async fn the_same_new_user_request_twice_makes_one_user() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let account = fake.account(ALL_SCOPES).await;
    let address = email();
    let (a, b) = tokio::join!(
        sign_in(&app, "new-user.json", &account, &address, None),
        sign_in(&app, "new-user.json", &account, &address, None)
    );
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.body, b.body);
    assert_eq!(a.body["user_id"], b.body["user_id"]);
    assert_eq!(a.body["firebase_uid"], b.body["firebase_uid"]);
    let users = psql(&format!(
        "select count(*) from users where firebase_uid = '{}'",
        derived_uid(&account.open_id)
    ));
    assert_eq!(users, "1");
    assert_eq!(db.tiktok_rows(&account.open_id).len(), 1);
}

#[tokio::test]
async fn a_retry_after_a_partial_failure_completes_the_same_account() {
    // A previous attempt created the Firebase user, then the database write failed.
    let (app, fake) = (live_app(), TikTokFake::new());
    let account = fake.account(ALL_SCOPES).await;
    let uid = derived_uid(&account.open_id);
    let created = firebase_create_user(&uid).await;
    assert!(created.is_success());
    let r = sign_in(&app, "new-user.json", &account, &email(), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["firebase_uid"], uid.as_str());
}

#[tokio::test]
async fn bad_bodies_are_4xx_json() {
    let app = live_app();
    for (file, status, code) in [
        ("missing-open-id.json", 400, "open_id_required"),
        ("not-json.json", 400, "invalid_json"),
        ("wrong-method.json", 405, "method_not_allowed"),
    ] {
        let r = send(
            "oauth-tiktok",
            &app,
            event(&format!("oauth-tiktok/{file}"), &[]),
        )
        .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{file}: {}",
            r.body
        );
    }
    let mut req = event("oauth-tiktok/missing-open-id.json", &[]);
    *req.body_mut() = lambda_http::Body::Text(" ".repeat(70 * 1024));
    let r = send("oauth-tiktok", &app, req).await;
    r.assert_error(413, "payload_too_large");
    let mut req = event("oauth-tiktok/missing-open-id.json", &[]);
    *req.body_mut() =
        lambda_http::Body::Text(r#"{"provider_account_id": 5, "access_token": "a"}"#.into());
    let r = send("oauth-tiktok", &app, req).await;
    r.assert_error(400, "invalid_request");
}

//! store-token, tiktok-profile and store-tiktok-profile against the local stack.

use integration_tests::*;
use serde_json::{json, Value};

/// store-token with `events/store-token/{file}` for this user and account, `extra`
/// replaced as given.
async fn store(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    file: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let req = request(&format!("store-token/{file}"), user, account, extra);
    send("store-token", app, req).await
}

async fn profile(app: &shared::LiveApp, user: &FirebaseUser, file: &str, open_id: &str) -> Reply {
    let req = event(
        &format!("tiktok-profile/{file}"),
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token),
            ("REPLACE_WITH_OPEN_ID", open_id),
        ],
    );
    send("tiktok-profile", app, req).await
}

fn no_token_fields(body: &Value, account: &TikTokAccount) {
    let text = body.to_string();
    assert!(
        !text.contains("access_token") && !text.contains("refresh_token"),
        "{text}"
    );
    assert!(!text.contains(&account.access_token) && !text.contains(&account.refresh_token));
}

#[tokio::test]
async fn store_token_creates_then_updates_with_encrypted_tokens() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;

    let r = store(&app, &user, &account, "ok.json", &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    no_token_fields(&r.body, &account);
    assert_eq!(r.body["provider"], "tiktok");
    assert_eq!(r.body["provider_account_id"], account.open_id.as_str());
    assert_eq!(r.body["is_primary"], true);
    assert_eq!(r.body["account_label"], "Main account");
    for field in ["id", "expires_at", "created_at", "updated_at"] {
        assert!(!r.body[field].is_null(), "{field}");
    }
    assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        1,
        "token proved with TikTok"
    );

    let rows = db.connections_of_uid(&user.uid).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["access_token"]
        .as_str()
        .unwrap()
        .starts_with("gAAAAA"));
    assert_eq!(decrypted(&rows[0], "access_token"), account.access_token);
    assert_eq!(decrypted(&rows[0], "refresh_token"), account.refresh_token);
    assert_eq!(
        rows[0]["metadata"]["niche"], "cooking",
        "profile_metadata given as a JSON string"
    );

    let r = store(
        &app,
        &user,
        &account,
        "ok.json",
        &[("Main account", "Renamed")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["account_label"], "Renamed");
    assert_eq!(db.connections_of_uid(&user.uid).await.len(), 1);
}

#[tokio::test]
async fn store_token_refuses_bad_input_and_changes_nothing() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    for (file, status, code) in [
        ("unsupported-provider.json", 400, "unsupported_provider"),
        ("bad-expires-at.json", 400, "invalid_request"),
        ("not-json.json", 400, "invalid_json"),
        ("no-auth.json", 401, "unauthorized"),
        ("wrong-method.json", 405, "method_not_allowed"),
    ] {
        let r = store(&app, &user, &account, file, &[]).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{file}: {}",
            r.body
        );
    }
    // A token TikTok does not accept, and one of another account.
    let r = store(
        &app,
        &user,
        &account,
        "ok.json",
        &[(account.access_token.as_str(), "act.forged")],
    )
    .await;
    r.assert_error(400, "tiktok_token_invalid");
    let other = fake.account(ALL_SCOPES).await;
    let r = store(
        &app,
        &user,
        &account,
        "ok.json",
        &[(account.access_token.as_str(), other.access_token.as_str())],
    )
    .await;
    r.assert_error(400, "tiktok_account_mismatch");
    assert!(db.connections_of_uid(&user.uid).await.is_empty());
}

#[tokio::test]
async fn a_tiktok_account_of_another_user_is_never_moved() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [alice, bob] = given::users().await;
    let account = fake.account(ALL_SCOPES).await;
    assert_eq!(
        store(&app, &alice, &account, "ok.json", &[]).await.status,
        201
    );
    let r = store(&app, &bob, &account, "ok.json", &[]).await;
    r.assert_error(409, "tiktok_account_in_use");
    assert_eq!(db.connections_of_uid(&alice.uid).await.len(), 1);
    assert!(db.connections_of_uid(&bob.uid).await.is_empty());
}

#[tokio::test]
async fn a_second_primary_account_leaves_exactly_one_primary() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let [first, second] = fake.accounts(ALL_SCOPES).await;
    assert_eq!(store(&app, &user, &first, "ok.json", &[]).await.status, 201);
    let r = store(&app, &user, &second, "ok.json", &[]).await;
    assert_eq!(r.body["is_primary"], true, "{}", r.body);
    let user_id = db.user_id(&user.uid).await;
    let rows = db.connections_of(user_id).await;
    let primaries: Vec<_> = rows.iter().filter(|r| r["is_primary"] == true).collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["provider_account_id"], second.open_id.as_str());
    // And the database itself refuses two.
    let err = try_psql(
        None,
        &format!("update social_connections set is_primary = true where user_id = {user_id}"),
    );
    assert!(
        err.as_ref().is_err_and(|e| e.contains("duplicate key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn profile_is_fetched_cached_and_served_from_cache() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let proofs = fake.count(&account.open_id, "user_info").await;

    let r = profile(&app, &user, "ok.json", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["cached"], false);
    assert_eq!(r.body["source"], "tiktok");
    assert_eq!(r.body["follower_count"], 1200);
    assert_eq!(
        r.body["username"]
            .as_str()
            .map(|s| s.starts_with("creator_")),
        Some(true)
    );
    for field in [
        "open_id",
        "display_name",
        "username",
        "avatar_url",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
        "bio_description",
        "is_verified",
        "fetched_at",
    ] {
        assert!(r.body.get(field).is_some(), "{field} in {}", r.body);
    }
    assert_eq!(fake.count(&account.open_id, "user_info").await, proofs + 1);

    let r = profile(&app, &user, "ok.json", "").await;
    assert_eq!(r.body["cached"], true, "{}", r.body);
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        proofs + 1,
        "no TikTok call for a cached profile"
    );

    let r = profile(&app, &user, "force.json", "").await;
    assert_eq!(r.body["cached"], false);
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        proofs + 2,
        "force=true: one user-info call"
    );
    let _ = db;
}

#[tokio::test]
async fn profile_fields_follow_the_granted_scopes() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account("user.info.basic").await;
    given::connection(&user, &account)
        .through_store_token(&app)
        .await;
    // store-token learned no scope: ask for all, fall back to basic on scope_not_authorized.
    let r = profile(&app, &user, "ok.json", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["display_name"].is_string());
    assert!(r.body["follower_count"].is_null());
    assert!(r.body["username"].is_null());
}

#[tokio::test]
async fn profile_account_choice_and_not_connected() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let r = profile(&app, &user, "ok.json", "").await;
    r.assert_error(404, "tiktok_not_connected");

    let [primary, other] = fake.accounts(ALL_SCOPES).await;
    given::connection(&user, &primary)
        .through_store_token(&app)
        .await;
    given::connection(&user, &other)
        .not_primary()
        .through_store_token(&app)
        .await;
    let r = profile(&app, &user, "account-id.json", &other.open_id).await;
    assert_eq!(r.body["open_id"], other.open_id.as_str(), "{}", r.body);
    let r = profile(&app, &user, "ok.json", "").await;
    assert_eq!(r.body["open_id"], primary.open_id.as_str(), "{}", r.body);
    let r = profile(&app, &user, "account-id.json", "-unknown").await;
    r.assert_error(404, "tiktok_not_connected");
    let _ = db;
}

#[tokio::test]
async fn expired_token_refreshes_once_and_refused_refresh_is_409() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    given::access_expired(id, 60);

    let r = profile(&app, &user, "force.json", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "token").await, 1);
    let row = db.connection(id).await;
    let refresh = decrypted(&row, "refresh_token");
    assert!(
        fake.refresh_token_valid(&account.open_id, &refresh).await,
        "rotated refresh token stored"
    );

    given::access_expired(id, 60);
    fake.invalidate_refresh(&account.open_id).await;
    let r = profile(&app, &user, "force.json", "").await;
    r.assert_error(409, "tiktok_reauth_required");
}

#[tokio::test]
async fn a_stored_client_profile_is_served_without_tiktok() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let before = fake.count(&account.open_id, "user_info").await;

    let req = request("store-tiktok-profile/ok.json", &user, &account, &[]);
    let r = send("store-tiktok-profile", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["profile"]["source"], "client");

    let r = profile(&app, &user, "ok.json", "").await;
    assert_eq!(r.body["cached"], true, "{}", r.body);
    assert_eq!(r.body["source"], "client");
    assert_eq!(r.body["display_name"], "Cooking with Ana");
    assert_eq!(r.body["follower_count"], 15200);
    assert_eq!(
        fake.count(&account.open_id, "user_info").await,
        before,
        "zero TikTok calls"
    );

    // Base64 bodies are read the same way.
    let req = request("store-tiktok-profile/base64.json", &user, &account, &[]);
    assert_eq!(send("store-tiktok-profile", &app, req).await.status, 200);
}

#[tokio::test]
async fn store_tiktok_profile_refuses_others_accounts_and_bad_counts() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [alice, bob] = given::users().await;
    let account = fake.account(ALL_SCOPES).await;
    given::connection(&alice, &account)
        .through_store_token(&app)
        .await;
    let before = db.connections_of_uid(&alice.uid).await;

    let req = request("store-tiktok-profile/ok.json", &bob, &account, &[]);
    let r = send("store-tiktok-profile", &app, req).await;
    r.assert_error(404, "tiktok_not_connected");

    let req = request(
        "store-tiktok-profile/negative-count.json",
        &alice,
        &account,
        &[],
    );
    let r = send("store-tiktok-profile", &app, req).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(
        db.connections_of_uid(&alice.uid).await,
        before,
        "nothing changed"
    );

    for (file, status) in [("no-auth.json", 401), ("wrong-method.json", 405)] {
        let req = event(
            &format!("store-tiktok-profile/{file}"),
            &[("REPLACE_WITH_OPEN_ID", &account.open_id)],
        );
        assert_eq!(
            send("store-tiktok-profile", &app, req).await.status,
            status,
            "{file}"
        );
    }
    let req = with_authorization(event("tiktok-profile/ok.json", &[]), Some("Bearer garbage"));
    assert_eq!(send("tiktok-profile", &app, req).await.status, 401);
    let _ = json!({});
}

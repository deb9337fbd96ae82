//! list-connections, update-connection and disconnect-tiktok against the local stack.

use integration_tests::*;
use serde_json::{json, Value};

async fn list(app: &shared::LiveApp, user: &FirebaseUser) -> Reply {
    let req = event(
        "list-connections/ok.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
    );
    send("list-connections", app, req).await
}

async fn update(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    provider: &str,
    account: &str,
    body: Value,
) -> Reply {
    let req = event(
        "update-connection/ok.json",
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token),
            ("REPLACE_WITH_PROVIDER", provider),
            ("REPLACE_WITH_ACCOUNT_ID", account),
        ],
    );
    send("update-connection", app, with_json_body(req, &body)).await
}

async fn disconnect(app: &shared::LiveApp, user: &FirebaseUser, open_id: &str) -> Reply {
    let req = event(
        "disconnect-tiktok/ok.json",
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token),
            ("REPLACE_WITH_OPEN_ID", open_id),
        ],
    );
    send("disconnect-tiktok", app, req).await
}

#[tokio::test]
async fn list_shows_every_provider_in_order_with_real_statuses_and_no_tokens() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [user, other] = given::users().await;
    let [a, b, c] = fake.accounts(ALL_SCOPES).await;
    let id_a = given::connection(&user, &a).through_store_token(&app).await;
    let id_b = given::connection(&user, &b)
        .not_primary()
        .through_store_token(&app)
        .await;
    // A YouTube connection (not proved with TikTok).
    let yt = with_json_body(
        event(
            "store-token/ok.json",
            &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
        ),
        &json!({"provider": "youtube", "provider_account_id": "chan-1", "access_token": "ya29.x", "expires_at": from_now(3600)}),
    );
    assert_eq!(send("store-token", &app, yt).await.status, 201);
    given::connection(&other, &c)
        .through_store_token(&app)
        .await;

    // Real row states: b's access token expired (refresh token valid) -> expired.
    given::access_expired(id_b, 3600);
    let r = list(&app, &user).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["connections"].as_array().unwrap();
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|c| {
            (
                c["provider"].as_str().unwrap(),
                c["provider_account_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("tiktok", a.open_id.as_str()),
            ("tiktok", b.open_id.as_str()),
            ("youtube", "chan-1")
        ]
    );
    assert_eq!(rows[0]["status"], "active");
    assert_eq!(rows[1]["status"], "expired");
    for field in [
        "id",
        "provider",
        "provider_account_id",
        "account_label",
        "account_type",
        "is_primary",
        "expires_at",
        "refresh_expires_at",
        "scope",
        "status",
        "display_name",
        "avatar_url",
        "created_at",
        "updated_at",
    ] {
        assert!(rows[0].get(field).is_some(), "{field}");
    }
    assert!(rows[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    let text = r.body.to_string();
    assert!(
        !text.contains("access_token")
            && !text.contains("refresh_token")
            && !text.contains("gAAAAA"),
        "{text}"
    );
    assert!(
        !text.contains(&c.open_id),
        "another user's connection never appears"
    );

    // TikTok refuses the refresh token -> reauth_required, recorded by the refresh path.
    fake.invalidate_refresh(&b.open_id).await;
    let profile = event(
        "tiktok-profile/account-id.json",
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token),
            ("REPLACE_WITH_OPEN_ID", &b.open_id),
        ],
    );
    let p = send("tiktok-profile", &app, profile).await;
    assert_eq!(p.body["code"], "tiktok_reauth_required", "{}", p.body);
    // And an expired refresh token -> reauth_required too.
    given::refresh_expired(id_a, 60);
    let rows = list(&app, &user).await.body["connections"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows[0]["status"], "reauth_required");
    assert_eq!(rows[1]["status"], "reauth_required");
    let _ = db;
}

#[tokio::test]
async fn update_relabels_and_switches_the_primary() {
    let (app, db) = (live_app(), Db::new());
    let (user, a, b) = given::user_with_two_accounts(&app).await;

    let r = update(
        &app,
        &user,
        "tiktok",
        &b.open_id,
        json!({"account_label": "Second"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["account_label"], "Second");
    assert_eq!(r.body["is_primary"], false);
    assert_eq!(r.body["status"], "active");

    let r = update(
        &app,
        &user,
        "tiktok",
        &b.open_id,
        json!({"is_primary": true}),
    )
    .await;
    assert_eq!(r.body["is_primary"], true, "{}", r.body);
    let rows = db.connections_of_uid(&user.uid).await;
    let primaries = primary_accounts(&rows);
    assert_eq!(primaries, vec![json!(b.open_id)]);

    let r = update(
        &app,
        &user,
        "tiktok",
        &b.open_id,
        json!({"is_primary": false}),
    )
    .await;
    r.assert_error(400, "invalid_request");
    let r = update(
        &app,
        &user,
        "myspace",
        &b.open_id,
        json!({"account_label": "x"}),
    )
    .await;
    r.assert_error(400, "unsupported_provider");

    // Another user's account: 404, unchanged.
    let other = given::user().await;
    let r = update(
        &app,
        &other,
        "tiktok",
        &a.open_id,
        json!({"account_label": "Mine now", "is_primary": true}),
    )
    .await;
    r.assert_error(404, "tiktok_not_connected");
    let rows = db.connections_of_uid(&user.uid).await;
    assert!(rows.iter().all(|r| r["account_label"] != "Mine now"));
}

#[tokio::test]
async fn disconnect_revokes_then_deletes_and_hands_over_the_primary() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, a, b) = given::user_with_two_accounts(&app).await;

    let r = disconnect(&app, &user, &a.open_id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"success": true, "revoked": true}));
    let revokes: Vec<Value> = fake
        .calls(&a.open_id)
        .await
        .into_iter()
        .filter(|c| c["endpoint"] == "revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "exactly one revoke");
    assert_eq!(
        revokes[0]["token"],
        a.access_token.as_str(),
        "with the decrypted token"
    );
    let rows = db.connections_of_uid(&user.uid).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["provider_account_id"], b.open_id.as_str());
    assert_eq!(
        rows[0]["is_primary"], true,
        "the other account became primary"
    );
}

#[tokio::test]
async fn a_dead_access_token_with_a_live_refresh_token_is_refreshed_then_revoked() {
    // The stored access token expired early at TikTok; the refresh token still grants
    // access, so the disconnect must end that grant too.
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    fake.expire_access(&account.open_id).await;
    let r = disconnect(&app, &user, &account.open_id).await;
    r.assert_body(json!({"success": true, "revoked": true}));
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "refreshed once"
    );
    assert_eq!(
        fake.count(&account.open_id, "revoke").await,
        2,
        "then revoked the fresh token"
    );
    assert!(db.connections_of_uid(&user.uid).await.is_empty());
}

#[tokio::test]
async fn an_already_revoked_token_still_disconnects() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    // The user removed the app at TikTok: every token is dead there.
    fake.deauthorize(&account.open_id).await;
    let r = disconnect(&app, &user, &account.open_id).await;
    r.assert_body(json!({"success": true, "revoked": false}));
    assert!(db.connections_of_uid(&user.uid).await.is_empty());
}

#[tokio::test]
async fn tiktok_down_keeps_the_row_and_others_accounts_are_404() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [user, other] = given::users().await;
    let a = fake.account(ALL_SCOPES).await;
    given::connection(&user, &a).through_store_token(&app).await;
    fake.script(
        &a.open_id,
        "revoke",
        json!([{"status": 500, "body": {"error": "server_error"}}]),
    )
    .await;
    let r = disconnect(&app, &user, &a.open_id).await;
    r.assert_error(502, "tiktok_unavailable");
    assert_eq!(
        db.connections_of_uid(&user.uid).await.len(),
        1,
        "row kept for a retry"
    );

    let r = disconnect(&app, &other, &a.open_id).await;
    r.assert_error(404, "tiktok_not_connected");
    let revokes = fake
        .calls(&a.open_id)
        .await
        .into_iter()
        .filter(|c| c["endpoint"] == "revoke")
        .count();
    assert_eq!(revokes, 1, "nothing revoked for the other user");

    // Retry after recovery.
    assert_eq!(
        disconnect(&app, &user, &a.open_id).await.body["success"],
        true
    );
}

async fn oauth(
    app: &shared::LiveApp,
    account: &TikTokAccount,
    email: Option<&str>,
    session: Option<&str>,
) -> Reply {
    send("oauth-tiktok", app, oauth_request(account, email, session)).await
}

#[tokio::test]
async fn a_disconnected_account_reconnects_the_same_tiktok_user_only_when_linked_again() {
    // Since sign-in methods (the security review): a disconnected account never signs
    // back in by itself; the user links it again while signed in (with another account).
    let (app, fake) = (live_app(), TikTokFake::new());
    let a = fake.account(ALL_SCOPES).await;
    let (user, first) = given::signed_in_through_oauth(&app, &a).await;
    let b = fake.account(ALL_SCOPES).await;
    assert_eq!(
        oauth(&app, &b, None, Some(&user.id_token)).await.status,
        200
    );
    assert_eq!(
        disconnect(&app, &user, &a.open_id).await.body["revoked"],
        true
    );

    // The user authorises the app at TikTok again: a new grant for the same account.
    let renewed = fake.reauthorize(&a).await;
    oauth(&app, &renewed, None, None)
        .await
        .assert_error(409, "tiktok_account_disconnected");
    let linked = oauth(&app, &renewed, None, Some(&user.id_token)).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    let again = oauth(&app, &renewed, None, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["firebase_uid"], user.uid.as_str());
    assert_eq!(again.body["user_id"], first.body["user_id"]);
}

#[tokio::test]
async fn a_disconnected_linked_account_does_not_open_the_user_it_left() {
    // A Google/email user linked a TikTok account, then disconnected it to cut access:
    // whoever controls that TikTok account must not get into this user.
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    let a = fake.account(ALL_SCOPES).await;
    given::linked_through_oauth(&app, &user, &a).await;
    assert_eq!(disconnect(&app, &user, &a.open_id).await.status, 200);
    let renewed = fake.reauthorize(&a).await;
    let r = oauth(&app, &renewed, None, None).await;
    r.assert_error(400, "email_required");
    let r = oauth(&app, &renewed, Some(&user.email), None).await;
    r.assert_error(409, "account_exists");
}

#[tokio::test]
async fn all_three_need_a_valid_firebase_token() {
    let app = live_app();
    for header in [None, Some("Bearer garbage")] {
        let r = send(
            "list-connections",
            &app,
            with_authorization(event("list-connections/ok.json", &[]), header),
        )
        .await;
        assert_eq!(r.status, 401);
        let req = event(
            "update-connection/ok.json",
            &[
                ("REPLACE_WITH_PROVIDER", "tiktok"),
                ("REPLACE_WITH_ACCOUNT_ID", "x"),
            ],
        );
        let r = send("update-connection", &app, with_authorization(req, header)).await;
        assert_eq!(r.status, 401);
        let req = event(
            "disconnect-tiktok/ok.json",
            &[("REPLACE_WITH_OPEN_ID", "x")],
        );
        let r = send("disconnect-tiktok", &app, with_authorization(req, header)).await;
        assert_eq!(
            (
                r.status,
                r.headers
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap())
            ),
            (401, Some("Bearer"))
        );
    }
}

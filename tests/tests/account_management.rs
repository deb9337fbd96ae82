//! list-connections, update-connection and disconnect-tiktok against the local stack.

use integration_tests::*;
use serde_json::{json, Value};

const ALL: &str = "user.info.basic,user.info.profile,user.info.stats";

fn at(secs: i64) -> String {
    shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}

/// Connects a TikTok account through store-token, as the frontend would.
async fn connect(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    primary: bool,
) -> i64 {
    let body = json!({
        "provider": "tiktok", "provider_account_id": account.open_id,
        "access_token": account.access_token, "refresh_token": account.refresh_token,
        "expires_at": at(7200), "is_primary": primary, "scope": ALL,
    });
    let req = with_body(
        event(
            "store-token/ok.json",
            &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
        ),
        &body,
    );
    let r = reply(dispatch("store-token", app, req).await);
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn with_body(mut req: lambda_http::Request, body: &Value) -> lambda_http::Request {
    *req.body_mut() = lambda_http::Body::Text(body.to_string());
    req
}

async fn list(app: &shared::LiveApp, user: &FirebaseUser) -> Reply {
    reply(
        dispatch(
            "list-connections",
            app,
            event(
                "list-connections/ok.json",
                &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
            ),
        )
        .await,
    )
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
    reply(dispatch("update-connection", app, with_body(req, &body)).await)
}

async fn disconnect(app: &shared::LiveApp, user: &FirebaseUser, open_id: &str) -> Reply {
    let req = event(
        "disconnect-tiktok/ok.json",
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token),
            ("REPLACE_WITH_OPEN_ID", open_id),
        ],
    );
    reply(dispatch("disconnect-tiktok", app, req).await)
}

#[tokio::test]
async fn list_shows_every_provider_in_order_with_real_statuses_and_no_tokens() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, other) = (firebase_user().await, firebase_user().await);
    let (a, b, c) = (
        fake.account(ALL).await,
        fake.account(ALL).await,
        fake.account(ALL).await,
    );
    let id_a = connect(&app, &user, &a, true).await;
    let id_b = connect(&app, &user, &b, false).await;
    // A YouTube connection (not proved with TikTok).
    let yt = with_body(
        event(
            "store-token/ok.json",
            &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
        ),
        &json!({"provider": "youtube", "provider_account_id": "chan-1", "access_token": "ya29.x", "expires_at": at(3600)}),
    );
    assert_eq!(reply(dispatch("store-token", &app, yt).await).status, 201);
    connect(&app, &other, &c, true).await;

    // Real row states: b's access token expired (refresh token valid) -> expired.
    psql(&format!(
        "update social_connections set expires_at = now() - interval '1 hour' where id = {id_b}"
    ));
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
    let p = reply(dispatch("tiktok-profile", &app, profile).await);
    assert_eq!(p.body["code"], "tiktok_reauth_required", "{}", p.body);
    // And an expired refresh token -> reauth_required too.
    psql(&format!("update social_connections set refresh_expires_at = now() - interval '1 minute' where id = {id_a}"));
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
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let (a, b) = (fake.account(ALL).await, fake.account(ALL).await);
    connect(&app, &user, &a, true).await;
    connect(&app, &user, &b, false).await;

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
    let rows = db.connections_of(db.user_id(&user.uid).await).await;
    let primaries: Vec<_> = rows
        .iter()
        .filter(|r| r["is_primary"] == true)
        .map(|r| r["provider_account_id"].clone())
        .collect();
    assert_eq!(primaries, vec![json!(b.open_id)]);

    let r = update(
        &app,
        &user,
        "tiktok",
        &b.open_id,
        json!({"is_primary": false}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request")),
        "{}",
        r.body
    );
    let r = update(
        &app,
        &user,
        "myspace",
        &b.open_id,
        json!({"account_label": "x"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("unsupported_provider"))
    );

    // Another user's account: 404, unchanged.
    let other = firebase_user().await;
    let r = update(
        &app,
        &other,
        "tiktok",
        &a.open_id,
        json!({"account_label": "Mine now", "is_primary": true}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("tiktok_not_connected")),
        "{}",
        r.body
    );
    let rows = db.connections_of(db.user_id(&user.uid).await).await;
    assert!(rows.iter().all(|r| r["account_label"] != "Mine now"));
}

#[tokio::test]
async fn disconnect_revokes_then_deletes_and_hands_over_the_primary() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let (a, b) = (fake.account(ALL).await, fake.account(ALL).await);
    connect(&app, &user, &a, true).await;
    connect(&app, &user, &b, false).await;

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
    let rows = db.connections_of(db.user_id(&user.uid).await).await;
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
    let user = firebase_user().await;
    let a = fake.account(ALL).await;
    connect(&app, &user, &a, true).await;
    fake.expire_access(&a.open_id).await;
    let r = disconnect(&app, &user, &a.open_id).await;
    assert_eq!(
        r.body,
        json!({"success": true, "revoked": true}),
        "{}",
        r.body
    );
    assert_eq!(fake.count(&a.open_id, "token").await, 1, "refreshed once");
    assert_eq!(
        fake.count(&a.open_id, "revoke").await,
        2,
        "then revoked the fresh token"
    );
    assert!(db
        .connections_of(db.user_id(&user.uid).await)
        .await
        .is_empty());
}

#[tokio::test]
async fn an_already_revoked_token_still_disconnects() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = firebase_user().await;
    let a = fake.account(ALL).await;
    connect(&app, &user, &a, true).await;
    // The user removed the app at TikTok: every token is dead there.
    fake.deauthorize(&a.open_id).await;
    let r = disconnect(&app, &user, &a.open_id).await;
    assert_eq!(
        r.body,
        json!({"success": true, "revoked": false}),
        "{}",
        r.body
    );
    assert!(db
        .connections_of(db.user_id(&user.uid).await)
        .await
        .is_empty());
}

#[tokio::test]
async fn tiktok_down_keeps_the_row_and_others_accounts_are_404() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let (user, other) = (firebase_user().await, firebase_user().await);
    let a = fake.account(ALL).await;
    connect(&app, &user, &a, true).await;
    fake.script(
        &a.open_id,
        "revoke",
        json!([{"status": 500, "body": {"error": "server_error"}}]),
    )
    .await;
    let r = disconnect(&app, &user, &a.open_id).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (502, Some("tiktok_unavailable")),
        "{}",
        r.body
    );
    assert_eq!(
        db.connections_of(db.user_id(&user.uid).await).await.len(),
        1,
        "row kept for a retry"
    );

    let r = disconnect(&app, &other, &a.open_id).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("tiktok_not_connected"))
    );
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
    let mut body = json!({"provider": "tiktok", "provider_account_id": account.open_id,
                          "access_token": account.access_token, "refresh_token": account.refresh_token,
                          "expires_in": 7200});
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    let req = with_body(event("oauth-tiktok/no-email.json", &[]), &body);
    let req = with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref());
    reply(dispatch("oauth-tiktok", app, req).await)
}

#[tokio::test]
async fn signing_in_again_after_a_disconnect_reconnects_the_same_tiktok_user() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let a = fake.account(ALL).await;
    let email = format!("{}@example.com", unique("reconnect"));
    let first = oauth(&app, &a, Some(&email), None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let id_token = sign_in_with_custom_token(first.body["firebase_token"].as_str().unwrap())
        .await
        .unwrap();
    let user = FirebaseUser {
        uid: first.body["firebase_uid"].as_str().unwrap().to_owned(),
        id_token,
        email,
    };
    assert_eq!(
        disconnect(&app, &user, &a.open_id).await.body["revoked"],
        true
    );

    // The user authorises the app at TikTok again: a new grant for the same account.
    let renewed = fake.reauthorize(&a).await;
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
    let user = firebase_user().await;
    let a = fake.account(ALL).await;
    assert_eq!(
        oauth(&app, &a, None, Some(&user.id_token)).await.status,
        200
    );
    assert_eq!(disconnect(&app, &user, &a.open_id).await.status, 200);
    let renewed = fake.reauthorize(&a).await;
    let r = oauth(&app, &renewed, None, None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("email_required")),
        "{}",
        r.body
    );
    let r = oauth(&app, &renewed, Some(&user.email), None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("account_exists")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn all_three_need_a_valid_firebase_token() {
    let app = live_app();
    for header in [None, Some("Bearer garbage")] {
        let r = reply(
            dispatch(
                "list-connections",
                &app,
                with_authorization(event("list-connections/ok.json", &[]), header),
            )
            .await,
        );
        assert_eq!(r.status, 401);
        let req = event(
            "update-connection/ok.json",
            &[
                ("REPLACE_WITH_PROVIDER", "tiktok"),
                ("REPLACE_WITH_ACCOUNT_ID", "x"),
            ],
        );
        let r = reply(dispatch("update-connection", &app, with_authorization(req, header)).await);
        assert_eq!(r.status, 401);
        let req = event(
            "disconnect-tiktok/ok.json",
            &[("REPLACE_WITH_OPEN_ID", "x")],
        );
        let r = reply(dispatch("disconnect-tiktok", &app, with_authorization(req, header)).await);
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

//! What the real TikTok does where our first picture of it was wrong (recorded answers
//! and other integrators' findings), end to end against the fake, which now answers as
//! TikTok does: fields outside the grant are 400 `scope_permission_missed`, OAuth errors
//! may come with HTTP 200, tokens hold `!` and dots, open_ids start with `-` or `_`.
//! (PKCE encodings: authorization_flow.rs; ids and post ids: videos.rs, publishing.rs;
//! 429 without Retry-After: faults.rs; webhook retries: connection_health.rs.)

use integration_tests::*;
use serde_json::json;

#[tokio::test]
async fn fields_outside_the_grant_fall_back_to_basic_and_a_missing_scope_is_409() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    // Granted basic only; store-token does not say which scopes (unknown), so the
    // profile asks for every field and TikTok answers 400 scope_permission_missed.
    let account = fake.account(BASIC_SCOPE).await;
    given::connection(&user, &account)
        .through_store_token(&app)
        .await;
    let stored = fake.count(&account.open_id, "user_info").await;
    let req = with_query(
        good_request("tiktok-profile", &user, &account),
        &[("force", "true")],
    );
    let r = send("tiktok-profile", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["open_id"], account.open_id.as_str(), "{}", r.body);
    assert!(r.body["display_name"].is_string(), "{}", r.body);
    let asked: Vec<_> = fake
        .calls(&account.open_id)
        .await
        .into_iter()
        .filter(|c| c["endpoint"] == "user_info")
        .skip(stored)
        .map(|c| c["fields"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(asked.len(), 2, "every field, then basic: {asked:?}");
    assert!(asked[0].contains("follower_count"), "{asked:?}");
    assert_eq!(asked[1], "open_id,union_id,avatar_url,display_name");

    // Videos need video.list, which TikTok refuses (scope_not_authorized): 409.
    let r = send(
        "tiktok-videos",
        &app,
        good_request("tiktok-videos", &user, &account),
    )
    .await;
    r.assert_error(409, "tiktok_scope_missing");
}

#[tokio::test]
async fn oauth_errors_at_http_200_are_errors_never_tokens() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    // An account whose OAuth errors TikTok answers with HTTP 200.
    let account = fake
        .account_with_settings(ALL_SCOPES, json!({"oauth_error_status": 200}))
        .await;
    // TikTok's token format: act.<...>!NNNN.va, kept whole.
    for token in [&account.access_token, &account.refresh_token] {
        assert!(token.contains('!') && token.ends_with(".va"), "{token}");
    }
    let id = given::connection(&user, &account)
        .through_store_token(&app)
        .await;
    let row = db.connection(id).await;
    assert_eq!(decrypted(&row, "access_token"), account.access_token);
    assert_eq!(decrypted(&row, "refresh_token"), account.refresh_token);

    // The user removed the app: the access token is refused, the refresh answers
    // invalid_grant with HTTP 200. A reauthorization, and nothing stored as a token.
    fake.deauthorize(&account.open_id).await;
    let r = send_good("tiktok-test", &app, &user, &account).await;
    assert_eq!(
        (r.status, &r.body["connected"], r.body["code"].as_str()),
        (200, &json!(false), Some("tiktok_reauth_required")),
        "{}",
        r.body
    );
    let after = db.connection(id).await;
    assert!(after["reauth_required_at"].is_string(), "{after}");
    assert_eq!(decrypted(&after, "refresh_token"), account.refresh_token);
    let refreshes = fake.count(&account.open_id, "token").await;
    assert_eq!(refreshes, 1, "one refresh was tried");
}

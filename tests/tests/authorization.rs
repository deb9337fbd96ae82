//! Authorization: every function refuses every kind of bad Firebase ID token with 401
//! (production verification: RS256 against a local certificate server), and no user
//! reads, changes or selects another user's connection through any parameter.

use integration_tests::*;
use serde_json::json;

#[tokio::test]
async fn every_function_refuses_every_bad_token_with_401() {
    let (key, cert) = rsa_key_and_certificate();
    let (stranger_key, _) = rsa_key_and_certificate();
    let certs = certificate_server(json!({"kid-1": cert}), "max-age=3600").await;
    let app = production_app(&certs.url);
    let project = stack_var("FIREBASE_PROJECT_ID");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |aud: &str, iss: &str, exp: i64| json!({"aud": aud, "iss": iss, "sub": unique("uid"), "iat": now - 60, "exp": exp, "auth_time": now - 60});
    let good_iss = format!("https://securetoken.google.com/{project}");
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("Bearer garbage".into())),
        (
            "not a bearer",
            Some(format!(
                "Token {}",
                sign_rs256(
                    &key,
                    Some("kid-1"),
                    &claims(&project, &good_iss, now + 3600)
                )
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign_rs256(&key, Some("kid-1"), &claims(&project, &good_iss, now - 1))
            )),
        ),
        (
            "another project",
            Some(format!(
                "Bearer {}",
                sign_rs256(
                    &key,
                    Some("kid-1"),
                    &claims(
                        "someone-else",
                        "https://securetoken.google.com/someone-else",
                        now + 3600
                    )
                )
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                sign_rs256(
                    &key,
                    Some("kid-1"),
                    &claims(&project, "https://accounts.google.com", now + 3600)
                )
            )),
        ),
        (
            "alg none outside emulator mode",
            Some(format!(
                "Bearer {}",
                unsigned_token(claims(&project, &good_iss, now + 3600))
            )),
        ),
        (
            "unknown signing key",
            Some(format!(
                "Bearer {}",
                sign_rs256(
                    &stranger_key,
                    Some("kid-1"),
                    &claims(&project, &good_iss, now + 3600)
                )
            )),
        ),
        (
            "unknown kid",
            Some(format!(
                "Bearer {}",
                sign_rs256(
                    &key,
                    Some("kid-9"),
                    &claims(&project, &good_iss, now + 3600)
                )
            )),
        ),
    ];
    let mut cases = 0;
    for function in FUNCTIONS.into_iter().filter(|f| firebase_authenticated(f)) {
        for (name, header) in &tokens {
            if SESSION_OPTIONAL.contains(&function) && header.is_none() {
                continue; // sign-in without a session is allowed
            }
            let r = send(
                function,
                &app,
                with_authorization(request_without_user(function), header.as_deref()),
            )
            .await;
            assert_eq!(r.status, 401, "{function} / {name}: {}", r.body);
            assert_eq!(r.body["code"], "unauthorized", "{function} / {name}");
            assert_eq!(
                r.headers["www-authenticate"], "Bearer",
                "{function} / {name}"
            );
            cases += 1;
        }
        // A well-signed token gets past authentication (whatever the endpoint then says).
        let good = format!(
            "Bearer {}",
            sign_rs256(
                &key,
                Some("kid-1"),
                &claims(&project, &good_iss, now + 3600)
            )
        );
        let r = send(
            function,
            &app,
            with_authorization(request_without_user(function), Some(&good)),
        )
        .await;
        assert_ne!(
            r.body["code"], "unauthorized",
            "{function} with a good token: {}",
            r.body
        );
    }
    assert_eq!(certs.hits(), 1, "Google's keys fetched once for all of it");
    println!("authorization cases: {cases}");
}

#[tokio::test]
async fn no_user_reaches_another_users_connection() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let [alice, mallory] = given::users().await;
    let account = fake.account(ALL_SCOPES).await;
    let expires = from_now(7200);
    given::connection(&alice, &account)
        .through_store_token(&app)
        .await;
    let alice_rows = db.connections_of_uid(&alice.uid).await;
    let calls_before = fake.calls(&account.open_id).await.len();

    let m = [
        ("REPLACE_WITH_FIREBASE_ID_TOKEN", mallory.id_token.as_str()),
        ("REPLACE_WITH_OPEN_ID", account.open_id.as_str()),
        ("REPLACE_WITH_ACCOUNT_ID", account.open_id.as_str()),
        ("REPLACE_WITH_PROVIDER", "tiktok"),
        ("REPLACE_WITH_ACCESS_TOKEN", "act.mallory"),
        ("REPLACE_WITH_REFRESH_TOKEN", "rft.mallory"),
        ("REPLACE_WITH_EXPIRES_AT", expires.as_str()),
    ];
    let attempts = [
        ("tiktok-test", "tiktok-test/account-id.json", 404),
        ("tiktok-profile", "tiktok-profile/account-id.json", 404),
        ("store-tiktok-profile", "store-tiktok-profile/ok.json", 404),
        ("update-connection", "update-connection/ok.json", 404),
        ("disconnect-tiktok", "disconnect-tiktok/ok.json", 404),
        // A page of Alice's videos (`account_id`, `cursor`, `max_count`).
        ("tiktok-videos", "tiktok-videos/page.json", 404),
        // With Mallory's own (invalid) token for Alice's account: refused before anything.
        ("store-token", "store-token/ok.json", 400),
        ("oauth-tiktok", "oauth-tiktok/link.json", 401),
    ];
    for (function, file, status) in attempts {
        let r = send(function, &app, event(file, &m)).await;
        assert_eq!(r.status, status, "{function}: {}", r.body);
        if function == "tiktok-videos" {
            r.assert_error(404, "tiktok_not_connected");
            assert!(r.body.get("videos").is_none(), "{}", r.body);
        }
    }
    // Even holding Alice's real TikTok token, Mallory cannot take the account over.
    let with_real_token = [
        ("REPLACE_WITH_FIREBASE_ID_TOKEN", mallory.id_token.as_str()),
        ("REPLACE_WITH_OPEN_ID", account.open_id.as_str()),
        ("REPLACE_WITH_ACCESS_TOKEN", account.access_token.as_str()),
        ("REPLACE_WITH_REFRESH_TOKEN", account.refresh_token.as_str()),
        ("REPLACE_WITH_EXPIRES_AT", expires.as_str()),
    ];
    for function in ["store-token", "oauth-tiktok"] {
        let file = if function == "oauth-tiktok" {
            "oauth-tiktok/link.json"
        } else {
            "store-token/ok.json"
        };
        let r = send(function, &app, event(file, &with_real_token)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("tiktok_account_in_use")),
            "{function}: {}",
            r.body
        );
    }
    let listed = send(
        "list-connections",
        &app,
        event("list-connections/ok.json", &m),
    )
    .await;
    assert_eq!(
        listed.body["connections"],
        json!([]),
        "Mallory sees nothing of Alice's"
    );

    assert_eq!(
        db.connections_of_uid(&alice.uid).await,
        alice_rows,
        "Alice's rows unchanged"
    );
    let revokes = fake
        .calls(&account.open_id)
        .await
        .iter()
        .skip(calls_before)
        .filter(|c| c["endpoint"] == "revoke")
        .count();
    assert_eq!(revokes, 0, "nothing revoked on Alice's account");
    let video_calls = fake
        .calls(&account.open_id)
        .await
        .iter()
        .skip(calls_before)
        .filter(|c| c["endpoint"] == "video_list" || c["endpoint"] == "video_query")
        .count();
    assert_eq!(video_calls, 0, "none of Alice's videos asked for");
}

/// Alice's videos at the TikTok fake: `count`, an hour apart; their ids.
async fn videos_at_fake(open_id: &str, count: usize) -> Vec<String> {
    let response = http()
        .post(format!("{}/_fake/videos", stack_var("STACK_TIKTOK_URL")))
        .json(&json!({"open_id": open_id, "count": count}))
        .send()
        .await
        .expect("fake");
    assert!(response.status().is_success(), "{}", response.status());
    let answer: serde_json::Value = response.json().await.expect("videos");
    answer["videos"]
        .as_array()
        .expect("videos")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn tiktok_videos_never_selects_another_users_account() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let alice = given::connected_user(&app).await;
    // Mallory has a TikTok account of her own (her primary), with nothing to hide.
    let mallory = given::connected_user(&app).await;
    let ids = videos_at_fake(&alice.account.open_id, 3).await;
    let (alice_id, ids) = (alice.account.open_id.as_str(), ids.join(","));
    let mallory_id = mallory.account.open_id.as_str();
    let calls_before = [
        fake.calls(alice_id).await.len(),
        fake.calls(mallory_id).await.len(),
    ];
    let attempts: [(&str, Vec<(&str, &str)>); 3] = [
        ("a page", vec![("account_id", alice_id)]),
        (
            "a later page",
            vec![
                ("account_id", alice_id),
                ("cursor", "1795608000000"),
                ("max_count", "5"),
            ],
        ),
        ("her ids", vec![("account_id", alice_id), ("ids", &ids)]),
    ];
    for (case, query) in &attempts {
        let req = with_query(
            good_request("tiktok-videos", &mallory.user, &mallory.account),
            query,
        );
        let r = send("tiktok-videos", &app, req).await;
        assert_eq!(r.status, 404, "{case}: {}", r.body);
        r.assert_error(404, "tiktok_not_connected");
        assert!(r.body.get("videos").is_none(), "{case}: {}", r.body);
    }
    // Refused before any TikTok call, on either account.
    for (open_id, before) in [alice_id, mallory_id].into_iter().zip(calls_before) {
        let calls = fake.calls(open_id).await;
        assert_eq!(calls.len(), before, "no TikTok call: {calls:?}");
    }

    // Alice herself gets them (the request is not refused for another reason).
    let req = with_query(
        good_request("tiktok-videos", &alice.user, &alice.account),
        &attempts[0].1,
    );
    let r = send("tiktok-videos", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["videos"].as_array().map(Vec::len),
        Some(3),
        "{}",
        r.body
    );
}

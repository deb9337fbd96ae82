//! Authorization: every function refuses every kind of bad Firebase ID token with 401
//! (production verification: RS256 against a local certificate server), and no user
//! reads, changes or selects another user's connection through any parameter.

use std::collections::HashMap;

use integration_tests::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const ALL: &str = "user.info.basic,user.info.profile,user.info.stats";

fn sign(private_pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// An app verifying ID tokens as in production (no emulator), against `certs_url`.
fn production_app(certs_url: &str) -> shared::LiveApp {
    let mut env: HashMap<String, String> = function_env();
    env.remove("FIREBASE_AUTH_EMULATOR_HOST");
    env.insert("FIREBASE_CERTS_URL".into(), certs_url.to_owned());
    let config = shared::config::Config::from_sources(&env, HashMap::new()).unwrap();
    shared::LiveApp::from_config(&config).unwrap()
}

fn request_for(function: &str) -> lambda_http::Request {
    let file = match function {
        "oauth-tiktok" => "oauth-tiktok/link.json",
        other => {
            return event(
                &format!("{other}/ok.json"),
                &[("REPLACE_WITH_PROVIDER", "tiktok")],
            )
        }
    };
    event(file, &[])
}

#[tokio::test]
async fn every_function_refuses_every_bad_token_with_401() {
    let (key, cert) = rsa_key_and_certificate();
    let (stranger_key, _) = rsa_key_and_certificate();
    let certs = StaticServer::start(
        200,
        vec![("Cache-Control".into(), "max-age=3600".into())],
        json!({"kid-1": cert}).to_string(),
    )
    .await;
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
                sign(&key, "kid-1", &claims(&project, &good_iss, now + 3600))
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign(&key, "kid-1", &claims(&project, &good_iss, now - 1))
            )),
        ),
        (
            "another project",
            Some(format!(
                "Bearer {}",
                sign(
                    &key,
                    "kid-1",
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
                sign(
                    &key,
                    "kid-1",
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
                sign(
                    &stranger_key,
                    "kid-1",
                    &claims(&project, &good_iss, now + 3600)
                )
            )),
        ),
        (
            "unknown kid",
            Some(format!(
                "Bearer {}",
                sign(&key, "kid-9", &claims(&project, &good_iss, now + 3600))
            )),
        ),
    ];
    let mut cases = 0;
    for function in FUNCTIONS {
        for (name, header) in &tokens {
            if function == "oauth-tiktok" && header.is_none() {
                continue; // sign-in without a session is allowed
            }
            let r = reply(
                dispatch(
                    function,
                    &app,
                    with_authorization(request_for(function), header.as_deref()),
                )
                .await,
            );
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
            sign(&key, "kid-1", &claims(&project, &good_iss, now + 3600))
        );
        let r = reply(
            dispatch(
                function,
                &app,
                with_authorization(request_for(function), Some(&good)),
            )
            .await,
        );
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
    let (alice, mallory) = (firebase_user().await, firebase_user().await);
    let account = fake.account(ALL).await;
    let expires =
        shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::hours(2));
    let as_alice = event(
        "store-token/ok.json",
        &[
            ("REPLACE_WITH_FIREBASE_ID_TOKEN", &alice.id_token),
            ("REPLACE_WITH_OPEN_ID", &account.open_id),
            ("REPLACE_WITH_ACCESS_TOKEN", &account.access_token),
            ("REPLACE_WITH_REFRESH_TOKEN", &account.refresh_token),
            ("REPLACE_WITH_EXPIRES_AT", &expires),
        ],
    );
    assert_eq!(
        reply(dispatch("store-token", &app, as_alice).await).status,
        201
    );
    let alice_rows = db.connections_of(db.user_id(&alice.uid).await).await;
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
    let attempts: Vec<(&str, lambda_http::Request, u16)> = vec![
        ("tiktok-test", event("tiktok-test/account-id.json", &m), 404),
        (
            "tiktok-profile",
            event("tiktok-profile/account-id.json", &m),
            404,
        ),
        (
            "store-tiktok-profile",
            event("store-tiktok-profile/ok.json", &m),
            404,
        ),
        (
            "update-connection",
            event("update-connection/ok.json", &m),
            404,
        ),
        (
            "disconnect-tiktok",
            event("disconnect-tiktok/ok.json", &m),
            404,
        ),
        // With Mallory's own (invalid) token for Alice's account: refused before anything.
        ("store-token", event("store-token/ok.json", &m), 400),
        ("oauth-tiktok", event("oauth-tiktok/link.json", &m), 401),
    ];
    for (function, req, status) in attempts {
        let r = reply(dispatch(function, &app, req).await);
        assert_eq!(r.status, status, "{function}: {}", r.body);
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
        let r = reply(dispatch(function, &app, event(file, &with_real_token)).await);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("tiktok_account_in_use")),
            "{function}: {}",
            r.body
        );
    }
    let listed = reply(
        dispatch(
            "list-connections",
            &app,
            event("list-connections/ok.json", &m),
        )
        .await,
    );
    assert_eq!(
        listed.body["connections"],
        json!([]),
        "Mallory sees nothing of Alice's"
    );

    assert_eq!(
        db.connections_of(db.user_id(&alice.uid).await).await,
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
}

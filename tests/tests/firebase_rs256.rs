//! ID-token verification on the production path: RS256 against x509 certificates
//! served by a local certificate server, cached per Cache-Control.

use integration_tests::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use shared::config::FirebaseConfig;
use shared::firebase::{AuthError, FirebaseAuth, IdTokenVerifier};

const PROJECT: &str = "tiktok-connections-prod";

fn claims() -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "aud": PROJECT, "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "sub": "uid-rs256", "iat": now - 30, "exp": now + 3600, "auth_time": now - 30,
        "email": "rs@example.com", "email_verified": true
    })
}

fn verifier(certs_url: String) -> FirebaseAuth {
    let config = FirebaseConfig {
        project_id: PROJECT.into(),
        emulator_host: None,
        certs_url,
        service_account: None,
    };
    FirebaseAuth::new(&config, reqwest::Client::new())
}

#[tokio::test]
async fn rs256_tokens_verify_and_keys_are_fetched_once_per_max_age() {
    let (key, cert) = rsa_key_and_certificate();
    let (other_key, _) = rsa_key_and_certificate();
    let server = certificate_server(json!({ "kid-1": cert }), "public, max-age=600").await;
    let auth = verifier(server.url.clone());

    let caller = auth
        .verify_id_token(&sign_rs256(&key, Some("kid-1"), &claims()))
        .await
        .unwrap();
    assert_eq!(caller.firebase_uid, "uid-rs256");
    assert!(caller.email_verified);
    auth.verify_id_token(&sign_rs256(&key, Some("kid-1"), &claims()))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1, "certificates cached per max-age");

    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("another-project");
    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://securetoken.google.com/another-project");
    let mut expired = claims();
    expired["exp"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() - 1);
    let mut future_iat = claims();
    future_iat["iat"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    let good = sign_rs256(&key, Some("kid-1"), &claims());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = unsigned_token(json!({"sub": "someone-else"}))
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let tampered = parts.join(".");

    let cases = [
        (
            "unknown signing key",
            sign_rs256(&other_key, Some("kid-1"), &claims()),
        ),
        ("unknown kid", sign_rs256(&key, Some("kid-2"), &claims())),
        ("no kid", sign_rs256(&key, None, &claims())),
        ("wrong project", sign_rs256(&key, Some("kid-1"), &wrong_aud)),
        ("wrong issuer", sign_rs256(&key, Some("kid-1"), &wrong_iss)),
        ("expired", sign_rs256(&key, Some("kid-1"), &expired)),
        (
            "issued in the future",
            sign_rs256(&key, Some("kid-1"), &future_iat),
        ),
        ("alg none", unsigned_token(claims())),
        ("tampered claims", tampered),
        ("garbage", "x.y.z".into()),
    ];
    for (name, token) in cases {
        let result = auth.verify_id_token(&token).await;
        assert!(
            matches!(result, Err(AuthError::Invalid(_))),
            "{name}: {result:?}"
        );
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn keys_are_refetched_when_max_age_has_passed() {
    let (key, cert) = rsa_key_and_certificate();
    let server = certificate_server(json!({"k": cert}), "max-age=0").await;
    let auth = verifier(server.url.clone());
    for _ in 0..2 {
        auth.verify_id_token(&sign_rs256(&key, Some("k"), &claims()))
            .await
            .unwrap();
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unreachable_certificates_are_an_identity_outage_not_a_401() {
    let (key, _) = rsa_key_and_certificate();
    let failing = StaticServer::start(500, vec![], "{}".into()).await;
    let result = verifier(failing.url.clone())
        .verify_id_token(&sign_rs256(&key, Some("k"), &claims()))
        .await;
    assert!(
        matches!(result, Err(AuthError::Unavailable(_))),
        "{result:?}"
    );
    let closed = verifier("http://127.0.0.1:9/certs".into());
    let result = closed
        .verify_id_token(&sign_rs256(&key, Some("k"), &claims()))
        .await;
    assert!(
        matches!(result, Err(AuthError::Unavailable(_))),
        "{result:?}"
    );
}

fn service_account(private_pem: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "kid-sa",
        "private_key": private_pem, "client_email": "backend@tiktok-connections-prod.iam.gserviceaccount.com",
        "token_uri": token_uri
    })
    .to_string()
}

fn admin(service_account: String) -> FirebaseAuth {
    let config = FirebaseConfig {
        project_id: PROJECT.into(),
        emulator_host: None,
        certs_url: "http://127.0.0.1:9/certs".into(),
        service_account: Some(secrecy::SecretString::from(service_account)),
    };
    FirebaseAuth::new(&config, reqwest::Client::new())
}

#[tokio::test]
async fn custom_tokens_are_rs256_with_the_admin_sdk_claims() {
    use shared::firebase::IdentityAdmin;
    let (key, cert) = rsa_key_and_certificate();
    let auth = admin(service_account(&key, "http://127.0.0.1:9/token"));
    auth.check_admin().unwrap();
    let token = auth.custom_token("tiktok:abc").unwrap();

    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[shared::firebase::admin::CUSTOM_TOKEN_AUDIENCE]);
    let decoded = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_rsa_pem(cert.as_bytes()).unwrap(),
        &validation,
    )
    .expect("signed by the service account's key");
    let claims = decoded.claims;
    assert_eq!(claims["uid"], "tiktok:abc");
    assert_eq!(
        claims["iss"],
        "backend@tiktok-connections-prod.iam.gserviceaccount.com"
    );
    assert_eq!(claims["sub"], claims["iss"]);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(
        lifetime > 0 && lifetime <= 3600,
        "one hour at most: {lifetime}"
    );
    assert!(
        auth.custom_token(&"u".repeat(129)).is_err(),
        "uid within 128 characters"
    );
}

#[tokio::test]
async fn admin_access_tokens_come_from_the_token_uri_once_until_expiry() {
    let (key, cert) = rsa_key_and_certificate();
    let endpoint = StaticServer::start(
        200,
        vec![],
        json!({"access_token": "ya29.local", "expires_in": 3599, "token_type": "Bearer"})
            .to_string(),
    )
    .await;
    let token_uri = format!("{}/token", endpoint.url);
    let auth = admin(service_account(&key, &token_uri));
    for _ in 0..3 {
        let token = auth.admin_access_token().await.unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&token), "ya29.local");
    }
    assert_eq!(endpoint.hits(), 1, "cached until it expires");

    // The JWT-bearer grant, signed with the service account's key.
    let request = endpoint.requests().remove(0);
    let body = request.split("\r\n\r\n").nth(1).unwrap();
    let form: std::collections::HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
        .collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[&token_uri]);
    let assertion = jsonwebtoken::decode::<Value>(
        &form["assertion"],
        &jsonwebtoken::DecodingKey::from_rsa_pem(cert.as_bytes()).unwrap(),
        &validation,
    )
    .expect("assertion signed by the service account");
    assert_eq!(
        assertion.claims["iss"],
        "backend@tiktok-connections-prod.iam.gserviceaccount.com"
    );
    assert!(assertion.claims["scope"]
        .as_str()
        .unwrap()
        .contains("https://www.googleapis.com/auth/cloud-platform"));
}

#[tokio::test]
async fn a_refusing_token_endpoint_is_an_identity_outage() {
    let (key, _) = rsa_key_and_certificate();
    let endpoint =
        StaticServer::start(400, vec![], json!({"error": "invalid_grant"}).to_string()).await;
    let auth = admin(service_account(&key, &format!("{}/token", endpoint.url)));
    assert!(matches!(
        auth.admin_access_token().await,
        Err(shared::firebase::AdminError::Unavailable(_))
    ));
}

/// A valid RS256 token with any one character changed never verifies; arbitrary
/// strings never verify either (1,000 generated cases each).
#[test]
fn mutated_and_arbitrary_tokens_never_verify() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (key, cert) = rsa_key_and_certificate();
    let server = runtime.block_on(certificate_server(json!({ "kid-1": cert }), "max-age=3600"));
    let auth = verifier(server.url.clone());
    let token = sign_rs256(&key, Some("kid-1"), &claims());
    assert!(runtime.block_on(auth.verify_id_token(&token)).is_ok());

    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let alphabet = "[A-Za-z0-9_.=-]";
    runner
        .run(
            &(any::<prop::sample::Index>(), alphabet),
            |(position, replacement)| {
                let i = position.index(token.len());
                let mut bytes = token.clone().into_bytes();
                bytes[i] = replacement.as_bytes()[0];
                let mutated = String::from_utf8(bytes).unwrap();
                let verified = runtime.block_on(auth.verify_id_token(&mutated));
                // Base64url's last character may carry unused bits: a change there can
                // leave the decoded bytes as they were; any real change must fail.
                let same_bytes = mutated
                    .split('.')
                    .zip(token.split('.'))
                    .all(|(a, b)| decode(a) == decode(b));
                prop_assert!(
                    verified.is_err() || same_bytes,
                    "mutated token verified at {i}"
                );
                Ok(())
            },
        )
        .unwrap();
    runner
        .run(&".{0,300}", |text| {
            prop_assert!(runtime.block_on(auth.verify_id_token(&text)).is_err());
            Ok(())
        })
        .unwrap();
}

fn decode(segment: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    URL_SAFE_NO_PAD.decode(segment).ok()
}

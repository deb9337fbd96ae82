//! ID-token verification on the production path: RS256 against x509 certificates
//! served by a local certificate server, cached per Cache-Control.

use integration_tests::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
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

fn sign(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
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
    let certs = json!({ "kid-1": cert }).to_string();
    let server = StaticServer::start(
        200,
        vec![("Cache-Control".into(), "public, max-age=600".into())],
        certs,
    )
    .await;
    let auth = verifier(server.url.clone());

    let caller = auth
        .verify_id_token(&sign(&key, Some("kid-1"), &claims()))
        .await
        .unwrap();
    assert_eq!(caller.firebase_uid, "uid-rs256");
    assert!(caller.email_verified);
    auth.verify_id_token(&sign(&key, Some("kid-1"), &claims()))
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
    let good = sign(&key, Some("kid-1"), &claims());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = integration_tests::unsigned_token(json!({"sub": "someone-else"}))
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let tampered = parts.join(".");

    let cases = [
        (
            "unknown signing key",
            sign(&other_key, Some("kid-1"), &claims()),
        ),
        ("unknown kid", sign(&key, Some("kid-2"), &claims())),
        ("no kid", sign(&key, None, &claims())),
        ("wrong project", sign(&key, Some("kid-1"), &wrong_aud)),
        ("wrong issuer", sign(&key, Some("kid-1"), &wrong_iss)),
        ("expired", sign(&key, Some("kid-1"), &expired)),
        (
            "issued in the future",
            sign(&key, Some("kid-1"), &future_iat),
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
    let server = StaticServer::start(
        200,
        vec![("Cache-Control".into(), "max-age=0".into())],
        json!({"k": cert}).to_string(),
    )
    .await;
    let auth = verifier(server.url.clone());
    for _ in 0..2 {
        auth.verify_id_token(&sign(&key, Some("k"), &claims()))
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
        .verify_id_token(&sign(&key, Some("k"), &claims()))
        .await;
    assert!(
        matches!(result, Err(AuthError::Unavailable(_))),
        "{result:?}"
    );
    let closed = verifier("http://127.0.0.1:9/certs".into());
    let result = closed
        .verify_id_token(&sign(&key, Some("k"), &claims()))
        .await;
    assert!(
        matches!(result, Err(AuthError::Unavailable(_))),
        "{result:?}"
    );
}

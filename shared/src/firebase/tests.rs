use super::*;

fn auth(emulator: bool) -> FirebaseAuth {
    let config = FirebaseConfig {
        project_id: "demo-app".into(),
        emulator_host: emulator.then(|| "127.0.0.1:9099".to_owned()),
        certs_url: "http://127.0.0.1:9/certs".into(),
        service_account: None,
    };
    FirebaseAuth::new(&config, reqwest::Client::new())
}

fn unsigned(claims: serde_json::Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn good_claims() -> serde_json::Value {
    let now = now_unix();
    serde_json::json!({
        "aud": "demo-app", "iss": "https://securetoken.google.com/demo-app",
        "sub": "uid-1", "iat": now - 10, "exp": now + 3600, "auth_time": now - 10,
        "email": "a@example.com", "email_verified": true
    })
}

#[tokio::test]
async fn emulator_accepts_unsigned_tokens_with_good_claims() {
    let caller = auth(true)
        .verify_id_token(&unsigned(good_claims()))
        .await
        .unwrap();
    assert_eq!(caller.firebase_uid, "uid-1");
    assert_eq!(caller.email.as_deref(), Some("a@example.com"));
    assert!(caller.email_verified);
}

#[tokio::test]
async fn emulator_keeps_every_claim_check() {
    let now = now_unix();
    let long_sub = "x".repeat(129);
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("aud", serde_json::json!("demo-other")),
        ("aud", serde_json::json!(["demo-app"])),
        (
            "iss",
            serde_json::json!("https://securetoken.google.com/demo-other"),
        ),
        ("sub", serde_json::json!("")),
        ("sub", serde_json::json!(long_sub)),
        ("exp", serde_json::json!(now - 1)),
        ("iat", serde_json::json!(now + 3600)),
    ];
    for (field, value) in cases {
        let mut claims = good_claims();
        claims[field] = value;
        assert!(
            auth(true).verify_id_token(&unsigned(claims)).await.is_err(),
            "{field}"
        );
    }
    for field in ["aud", "iss", "sub", "exp", "iat"] {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(field);
        assert!(
            auth(true).verify_id_token(&unsigned(claims)).await.is_err(),
            "missing {field}"
        );
    }
}

#[tokio::test]
async fn emulator_refuses_signed_looking_and_garbage_tokens() {
    let signed_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
    let payload = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    let auth = auth(true);
    for token in [
        format!("{signed_header}.{payload}.c2ln"),
        "garbage".into(),
        "a.b.c.d".into(),
        String::new(),
    ] {
        assert!(auth.verify_id_token(&token).await.is_err(), "{token}");
    }
}

#[tokio::test]
async fn production_mode_refuses_unsigned_tokens_without_fetching_keys() {
    let err = auth(false)
        .verify_id_token(&unsigned(good_claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err:?}");
}

#[test]
fn max_age_is_read_from_cache_control() {
    assert_eq!(
        parse_max_age("public, max-age=19302, must-revalidate, no-transform"),
        Some(Duration::from_secs(19302))
    );
    assert_eq!(parse_max_age("no-cache"), None);
    assert_eq!(parse_max_age("max-age=abc"), None);
}

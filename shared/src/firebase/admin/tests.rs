use super::*;

fn emulator() -> Admin {
    let config = FirebaseConfig {
        project_id: "demo-app".into(),
        emulator_host: Some("127.0.0.1:9099".into()),
        certs_url: "http://127.0.0.1:9/certs".into(),
        service_account: None,
    };
    Admin::new(&config, reqwest::Client::new())
}

#[test]
fn emulator_custom_tokens_are_unsigned_with_the_sdk_claims() {
    let token = emulator().custom_token("tiktok:abc").unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["uid"], "tiktok:abc");
    assert_eq!(claims["aud"], CUSTOM_TOKEN_AUDIENCE);
    assert_eq!(claims["iss"], EMULATOR_SERVICE_ACCOUNT);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

#[test]
fn uids_are_bounded() {
    assert_eq!(emulator().custom_token(""), Err(AdminError::InvalidUid));
    assert_eq!(
        emulator().custom_token(&"u".repeat(129)),
        Err(AdminError::InvalidUid)
    );
    assert!(emulator().custom_token(&"u".repeat(128)).is_ok());
}

#[test]
fn production_without_a_service_account_is_a_config_error() {
    let config = FirebaseConfig {
        project_id: "app".into(),
        emulator_host: None,
        certs_url: "http://127.0.0.1:9/certs".into(),
        service_account: Some(SecretString::from("{\"client_email\":\"x\"}")),
    };
    let admin = Admin::new(&config, reqwest::Client::new());
    assert!(matches!(admin.check(), Err(AdminError::Config(_))));
    assert!(matches!(
        admin.custom_token("u"),
        Err(AdminError::Config(_))
    ));
}

#[test]
fn identity_toolkit_error_codes() {
    assert_eq!(
        error_code(br#"{"error":{"code":400,"message":"DUPLICATE_LOCAL_ID"}}"#),
        "DUPLICATE_LOCAL_ID"
    );
    assert_eq!(
        error_code(br#"{"error":{"code":400,"message":"EMAIL_EXISTS : in use"}}"#),
        "EMAIL_EXISTS"
    );
    assert_eq!(error_code(b"nope"), "");
}

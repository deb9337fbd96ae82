use super::*;
use crate::pkce::ChallengeEncoding;

fn base() -> HashMap<String, String> {
    [
        ("SUPABASE_URL", "https://abc.supabase.co/"),
        ("SUPABASE_SERVICE_KEY", "service-key"),
        (
            "ENCRYPTION_KEY",
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
        ),
        ("TIKTOK_CLIENT_KEY", "ck"),
        ("TIKTOK_CLIENT_SECRET", "cs"),
        ("FIREBASE_PROJECT_ID", "demo-app"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn upstreams_are_https_except_on_loopback() {
    for ok in [
        "https://api.example.com",
        "http://127.0.0.1:3000",
        "http://localhost:54321/rest/v1",
        "http://[::1]:8080",
    ] {
        assert!(http_url("X", ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://api.example.com",
        "http://10.0.0.1:3000",
        "http://127.0.0.1.evil.com",
        "http://localhost:1@evil.example/token",
        "https://user@api.example.com",
        "ftp://x",
        "http://",
    ] {
        assert!(http_url("X", bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_and_derived_urls() {
    let config = Config::from_sources(&base(), HashMap::new()).unwrap();
    assert_eq!(config.supabase_rest_url, "https://abc.supabase.co/rest/v1");
    assert_eq!(config.tiktok.api_base_url, "https://open.tiktokapis.com");
    assert_eq!(config.profile_cache_ttl, Duration::from_secs(3600));
    assert!(config.firebase.emulator_host.is_none());
}

#[test]
fn rest_url_overrides_supabase_url() {
    let mut env = base();
    env.remove("SUPABASE_URL");
    env.insert("SUPABASE_REST_URL".into(), "http://127.0.0.1:3000/".into());
    let config = Config::from_sources(&env, HashMap::new()).unwrap();
    assert_eq!(config.supabase_rest_url, "http://127.0.0.1:3000");
}

#[test]
fn every_required_setting_is_named_when_missing() {
    for name in [
        "SUPABASE_URL",
        "SUPABASE_SERVICE_KEY",
        "ENCRYPTION_KEY",
        "TIKTOK_CLIENT_KEY",
        "TIKTOK_CLIENT_SECRET",
        "FIREBASE_PROJECT_ID",
    ] {
        let mut env = base();
        env.remove(name);
        let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn malformed_settings_are_named() {
    for (name, value) in [
        ("ENCRYPTION_KEY", "not-a-key"),
        ("SUPABASE_URL", "ftp://x"),
        ("PROFILE_CACHE_TTL_SECONDS", "-5"),
        ("TIKTOK_API_BASE_URL", "open.tiktokapis.com"),
        ("SUPABASE_SERVICE_KEY", "two words"),
        ("KEEPALIVE_INTERVAL_HOURS", "0"),
        ("SWEEP_WORKERS", "65"),
        ("DISPATCH_WORKERS", "0"),
        // A budget of one request a minute would never refill.
        ("ANALYTICS_RPM", "1"),
        ("ANALYTICS_RPM", "601"),
        ("ANALYTICS_CADENCE", "24h:1h,1h:1h"),
        ("REQUEST_DEADLINE_SECONDS", "25"),
        ("TIKTOK_SCOPES", "user.info.basic,user.email"),
        ("TIKTOK_PKCE_CHALLENGE_ENCODING", "plain"),
        ("TOKEN_SIGN_IN_ENABLED", "maybe"),
    ] {
        let mut env = base();
        env.insert(name.into(), value.into());
        let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
        assert!(
            // The value is never echoed (it may be a secret); numbers may match a bound.
            !err.to_string().contains(value)
                || name == "TIKTOK_API_BASE_URL"
                || value.parse::<i64>().is_ok(),
            "{err}"
        );
    }
}

#[test]
fn the_sweep_and_the_authorization_flow_have_defaults() {
    let config = Config::from_sources(&base(), HashMap::new()).unwrap();
    assert_eq!(config.keepalive_interval, Duration::from_secs(24 * 3600));
    assert_eq!(config.sweep_workers, 16);
    assert_eq!(config.dispatch_workers, 16);
    assert!(
        config.token_sign_in_enabled,
        "on by default: the frontend uses it"
    );
    let mut off = base();
    off.insert("TOKEN_SIGN_IN_ENABLED".into(), "FALSE".into());
    assert!(
        !Config::from_sources(&off, HashMap::new())
            .unwrap()
            .token_sign_in_enabled
    );
    let auth = &config.authorization;
    assert_eq!(
        auth.scopes.join(","),
        "user.info.basic,user.info.profile,user.info.stats,video.list"
    );
    assert_eq!(auth.auth_base_url, "https://www.tiktok.com");
    // TikTok compares a lowercase hex challenge, not RFC 7636's base64url.
    assert_eq!(auth.challenge_encoding, ChallengeEncoding::Hex);
}

#[test]
fn the_authorization_functions_need_redirect_uris() {
    for needs in [Needs::AUTHORIZE, Needs::CALLBACK] {
        let err = Config::from_sources_for(needs, &base(), HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("TIKTOK_REDIRECT_URIS"), "{err}");
    }
    // Other functions start without them.
    assert!(Config::from_sources_for(Needs::BOTH, &base(), HashMap::new()).is_ok());
    let mut env = base();
    env.insert(
        "TIKTOK_REDIRECT_URIS".into(),
        "https://app.example.com/connect/tiktok, https://staging.example.com/connect/tiktok".into(),
    );
    // base64url stays selectable, for the day TikTok follows the RFC.
    env.insert("TIKTOK_PKCE_CHALLENGE_ENCODING".into(), "base64url".into());
    let config = Config::from_sources_for(Needs::AUTHORIZE, &env, HashMap::new()).unwrap();
    assert_eq!(config.authorization.redirect_uris.len(), 2);
    assert_eq!(
        config.authorization.challenge_encoding,
        ChallengeEncoding::Base64Url
    );
    for bad in [
        "http://app.example.com/connect",
        "https://app.example.com/connect?next=/",
        "https://app.example.com/connect#x",
    ] {
        env.insert("TIKTOK_REDIRECT_URIS".into(), bad.into());
        let err = Config::from_sources_for(Needs::AUTHORIZE, &env, HashMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("TIKTOK_REDIRECT_URIS"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn emulator_mode_needs_a_demo_project() {
    let mut env = base();
    env.insert(
        "FIREBASE_AUTH_EMULATOR_HOST".into(),
        "127.0.0.1:9099".into(),
    );
    assert!(Config::from_sources(&env, HashMap::new()).is_ok());
    env.insert("FIREBASE_PROJECT_ID".into(), "my-real-project".into());
    let err = Config::from_sources(&env, HashMap::new()).unwrap_err();
    assert!(
        err.to_string().contains("FIREBASE_AUTH_EMULATOR_HOST"),
        "{err}"
    );
}

#[test]
fn the_secret_wins_over_the_environment() {
    let mut env = base();
    env.remove("TIKTOK_CLIENT_SECRET");
    let secret = parse_secret(
        r#"{"TIKTOK_CLIENT_SECRET":"from-secret","SUPABASE_SERVICE_KEY":"sk2","OTHER":"x"}"#,
    )
    .unwrap();
    assert!(!secret.contains_key("OTHER"));
    let config = Config::from_sources(&env, secret).unwrap();
    let client_secret = config.tiktok.client_secret.as_ref().unwrap();
    assert_eq!(client_secret.expose_secret(), "from-secret");
    assert_eq!(config.service_key(), "sk2");
}

#[test]
fn a_function_reads_only_the_secrets_it_needs() {
    let mut env = base();
    env.insert("FIREBASE_SERVICE_ACCOUNT".into(), "{}".into());
    let plain = Config::from_sources_for(Needs::NOTHING_SECRET, &env, HashMap::new()).unwrap();
    assert!(plain.tiktok.client_secret.is_none());
    assert!(plain.firebase.service_account.is_none());
    env.remove("TIKTOK_CLIENT_SECRET");
    assert!(Config::from_sources_for(Needs::FIREBASE_ADMIN, &env, HashMap::new()).is_ok());
    let err =
        Config::from_sources_for(Needs::TIKTOK_CLIENT_SECRET, &env, HashMap::new()).unwrap_err();
    assert!(err.to_string().contains("TIKTOK_CLIENT_SECRET"));
    let refresh =
        Config::from_sources_for(Needs::TIKTOK_CLIENT_SECRET, &base(), HashMap::new()).unwrap();
    assert!(refresh.firebase.service_account.is_none());
}

#[test]
fn secret_must_be_an_object_of_strings() {
    assert!(parse_secret("[]").is_err());
    assert!(parse_secret("nope").is_err());
    assert!(parse_secret(r#"{"ENCRYPTION_KEY": 5}"#).is_err());
    let sa = parse_secret(r#"{"FIREBASE_SERVICE_ACCOUNT": {"type":"service_account"}}"#).unwrap();
    assert_eq!(
        sa["FIREBASE_SERVICE_ACCOUNT"],
        r#"{"type":"service_account"}"#
    );
}

#[test]
fn debug_output_redacts_secrets() {
    let config = Config::from_sources(&base(), HashMap::new()).unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("service-key"));
    assert!(!printed.contains("cw_0x689RpI"));
    assert!(!printed.contains("\"cs\""));
}

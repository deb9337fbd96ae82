//! Property tests: thousands of generated inputs for every parser that meets
//! untrusted data. None may panic; none may accept what it should refuse.

use proptest::prelude::*;
use serde_json::Value;
use shared::crypto::TokenCipher;
use shared::http::parse_json_object;

const CASES: u32 = 3000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON values, objects biased towards the endpoints' field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            Just("provider".to_owned()),
            Just("provider_account_id".to_owned()),
            Just("access_token".to_owned()),
            Just("refresh_token".to_owned()),
            Just("expires_in".to_owned()),
            Just("expires_at".to_owned()),
            Just("email".to_owned()),
            Just("metadata".to_owned()),
            Just("profile_metadata".to_owned()),
            Just("profile".to_owned()),
            Just("open_id".to_owned()),
            Just("follower_count".to_owned()),
            Just("is_primary".to_owned()),
            "[a-z_]{1,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let result = parse_json_object::<Value>(&bytes);
        if let Err(err) = result {
            prop_assert!(err.status_code().is_client_error());
        }
    }

    #[test]
    fn store_token_bodies_validate_or_refuse_with_4xx(value in json_value()) {
        let text = value.to_string();
        match parse_json_object::<shared::endpoints::store_token::StoreTokenBody>(text.as_bytes()) {
            Ok(body) => {
                if let Err(err) = body.validate() {
                    prop_assert!(err.status_code().is_client_error());
                }
            }
            Err(err) => prop_assert!(err.status_code().is_client_error()),
        }
    }

    #[test]
    fn oauth_bodies_validate_or_refuse_with_4xx(value in json_value()) {
        let text = value.to_string();
        match parse_json_object::<shared::endpoints::oauth_tiktok::OAuthBody>(text.as_bytes()) {
            Ok(body) => {
                if let Ok(request) = body.validate() {
                    // Whatever passes is bounded.
                    prop_assert!(request.open_id.len() <= 256 && request.access_token.len() <= 4096);
                    prop_assert!(request.expires_in.is_none_or(|s| s >= 0));
                }
            }
            Err(err) => prop_assert!(err.status_code().is_client_error()),
        }
    }

    #[test]
    fn client_profiles_validate_or_refuse(value in json_value()) {
        let now = time::OffsetDateTime::now_utc();
        if let Ok(profile) = shared::profile::Profile::from_client(&value, now) {
            prop_assert!(profile.open_id.is_some());
            prop_assert_eq!(profile.source.as_deref(), Some("client"));
        }
    }

    #[test]
    fn fernet_decryption_of_arbitrary_strings_fails_cleanly(token in ".{0,200}") {
        let cipher = TokenCipher::from_keys("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        prop_assert!(cipher.decrypt(&token).is_err());
    }

    #[test]
    fn a_mutated_fernet_token_never_decrypts(pos in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_=-]") {
        let cipher = TokenCipher::from_keys("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let token = cipher.encrypt("act.secret");
        let i = pos.index(token.len());
        let mut bytes = token.clone().into_bytes();
        bytes[i] = replacement.as_bytes()[0];
        let mutated = String::from_utf8(bytes).unwrap();
        // Base64 padding bits can change without changing the bytes; anything else fails.
        if let Ok(plain) = cipher.decrypt(&mutated) {
            prop_assert_eq!(plain, "act.secret");
        }
    }

    #[test]
    fn tiktok_answers_never_panic(status in 100u16..600, retry in proptest::option::of(any::<u64>()), body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = shared::tiktok::parse_user_info(status, retry, &body);
        let _ = shared::tiktok::parse_token_grant(status, retry, &body);
        let _ = shared::tiktok::parse_revoke(status, retry, &body);
    }

    #[test]
    fn tiktok_json_answers_never_panic(status in 100u16..600, value in json_value()) {
        let body = value.to_string();
        let _ = shared::tiktok::parse_user_info(status, None, body.as_bytes());
        if let Ok(grant) = shared::tiktok::parse_token_grant(status, None, body.as_bytes()) {
            prop_assert!((200..300).contains(&status));
            prop_assert!(!grant.access_token.is_empty() && !grant.refresh_token.is_empty());
        }
    }

    #[test]
    fn postgrest_errors_never_panic(status in 100u16..600, value in json_value(), raw in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = shared::store::StoreError::from_response(status, value.to_string().as_bytes());
        let err = shared::store::StoreError::from_response(status, &raw);
        if status >= 500 {
            let unavailable = matches!(err, shared::store::StoreError::Unavailable(_));
            prop_assert!(unavailable, "a 5xx must read as an outage: {:?}", err);
        }
    }

    #[test]
    fn postgrest_rows_never_panic(value in json_value()) {
        let _ = serde_json::from_value::<shared::store::Connection>(value.clone());
        let _ = serde_json::from_value::<shared::store::CallerConnection>(value.clone());
        let _ = serde_json::from_value::<shared::store::SwapOutcome>(value.clone());
        let _ = serde_json::from_value::<shared::store::OAuthOutcome>(value.clone());
        let _ = serde_json::from_value::<Vec<shared::store::ConnectionSummary>>(value);
    }

    #[test]
    fn timestamps_never_panic(text in ".{0,40}", year in -9999i32..=9999, offset in -25i32..=25) {
        let _ = shared::timestamp::parse(&text);
        let _ = shared::timestamp::parse_rfc3339(&text);
        let candidate = format!("{year:04}-12-31T23:59:59{:+03}:00", offset);
        if let Some(t) = shared::timestamp::parse(&candidate) {
            let _ = shared::timestamp::format(t);
        }
    }
}

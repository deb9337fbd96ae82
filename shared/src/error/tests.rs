use super::*;

#[test]
fn every_error_maps_to_the_contract_table() {
    let cases = [
        (ApiError::InvalidJson("x".into()), 400, "invalid_json"),
        (ApiError::invalid_request("x"), 400, "invalid_request"),
        (ApiError::Unauthorized, 401, "unauthorized"),
        (ApiError::TikTokNotConnected, 404, "tiktok_not_connected"),
        (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
        (
            ApiError::TikTokReauthRequired,
            409,
            "tiktok_reauth_required",
        ),
        (ApiError::PayloadTooLarge, 413, "payload_too_large"),
        (
            ApiError::TikTokRateLimited { retry_after: None },
            429,
            "tiktok_rate_limited",
        ),
        (ApiError::TikTokUnavailable, 502, "tiktok_unavailable"),
        (ApiError::DatabaseUnavailable, 503, "database_unavailable"),
        (ApiError::IdentityUnavailable, 503, "identity_unavailable"),
    ];
    for (err, status, code) in cases {
        assert_eq!(err.status_code().as_u16(), status, "{err:?}");
        assert_eq!(err.code(), code);
    }
}

#[test]
fn every_code_is_listed_once() {
    let mut all = code::ALL.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), code::ALL.len());
}

#[test]
fn causes_convert_to_the_contract() {
    let in_use = StoreError::Conflict {
        code: "PT409".into(),
        message: code::TIKTOK_ACCOUNT_IN_USE.into(),
    };
    assert_eq!(ApiError::from(in_use).code(), code::TIKTOK_ACCOUNT_IN_USE);
    let exists = StoreError::Conflict {
        code: "PT409".into(),
        message: code::ACCOUNT_EXISTS.into(),
    };
    assert_eq!(ApiError::from(exists).code(), code::ACCOUNT_EXISTS);
    let unique = StoreError::Conflict {
        code: "23505".into(),
        message: "duplicate".into(),
    };
    assert_eq!(ApiError::from(unique), ApiError::Internal);
    assert_eq!(
        ApiError::from(StoreError::Unavailable("down".into())),
        ApiError::DatabaseUnavailable
    );
    assert_eq!(
        ApiError::from(TikTokError::RefreshRejected),
        ApiError::TikTokReauthRequired
    );
    assert_eq!(
        ApiError::from(TikTokError::ScopeNotAuthorized),
        ApiError::TikTokUnavailable
    );
    assert_eq!(
        ApiError::from(AuthError::Invalid("x")),
        ApiError::Unauthorized
    );
    assert_eq!(
        ApiError::from(AdminError::Config("x".into())),
        ApiError::Internal
    );
    assert_eq!(
        ApiError::from(AccessError::Undecryptable),
        ApiError::Internal
    );
}

#[test]
fn unauthorized_and_unavailable_carry_their_headers() {
    assert_eq!(
        ApiError::Unauthorized.headers(),
        vec![("www-authenticate", "Bearer".to_owned())]
    );
    assert_eq!(
        ApiError::DatabaseUnavailable.headers(),
        vec![("retry-after", "1".to_owned())]
    );
    assert_eq!(
        ApiError::TikTokRateLimited {
            retry_after: Some(30)
        }
        .headers(),
        vec![("retry-after", "30".to_owned())]
    );
    // TikTok documents no Retry-After: every 429 still carries one.
    assert_eq!(
        ApiError::TikTokRateLimited { retry_after: None }.headers(),
        vec![("retry-after", "60".to_owned())]
    );
    let daily = ApiError::Limited {
        code: code::TIKTOK_POST_LIMIT,
        detail: "cap".into(),
        retry_after: DAILY_CAP_RETRY_SECS,
    };
    assert_eq!(daily.headers(), vec![("retry-after", "3600".to_owned())]);
}

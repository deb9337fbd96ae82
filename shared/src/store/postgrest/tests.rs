use super::*;

#[test]
fn postgrest_errors_map_to_typed_errors() {
    let unique =
        br#"{"code":"23505","details":"Key exists","hint":null,"message":"duplicate key value"}"#;
    assert!(
        matches!(StoreError::from_response(409, unique), StoreError::Conflict { code, .. } if code == "23505")
    );
    let raised = br#"{"code":"PT409","message":"in use"}"#;
    assert!(matches!(
        StoreError::from_response(409, raised),
        StoreError::Conflict { .. }
    ));
    let single = br#"{"code":"PGRST116","message":"0 rows"}"#;
    assert_eq!(StoreError::from_response(406, single), StoreError::NotFound);
    let down = br#"{"code":"PGRST001","message":"no connection"}"#;
    assert!(matches!(
        StoreError::from_response(503, down),
        StoreError::Unavailable(_)
    ));
    assert!(matches!(
        StoreError::from_response(502, b"<html>bad gateway"),
        StoreError::Unavailable(_)
    ));
    let not_null = br#"{"code":"23502","message":"null value"}"#;
    assert!(matches!(
        StoreError::from_response(400, not_null),
        StoreError::Rejected { status: 400, .. }
    ));
}

#[test]
fn absent_arguments_are_omitted_not_null() {
    let caller = Caller {
        firebase_uid: "u1".into(),
        ..Default::default()
    };
    let json = serde_json::to_value(&caller).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"p_firebase_uid": "u1", "p_email_verified": false})
    );
}

#[test]
fn rows_read_legacy_timestamps_and_nulls() {
    let row = serde_json::json!({
        "id": 1, "user_id": 2, "provider": "tiktok", "provider_account_id": "o",
        "access_token": "gAAAA", "refresh_token": null, "expires_at": "2026-01-01T00:00:00",
        "is_primary": null, "metadata": null
    });
    let conn: Connection = serde_json::from_value(row).unwrap();
    assert_eq!(conn.expires_at.unwrap().unix_timestamp(), 1_767_225_600);
    assert!(conn.refresh_token.is_none());
    assert!(!format!("{conn:?}").contains("gAAAA"));
}

//! The runbook's Fernet key rotation (docs/runbook.md), step by step against the stack:
//! the new key put first with the old one kept, the keep-alive sweep rewriting every live
//! row with the new key, then the old key removed, with no request failing on the way.

use integration_tests::*;
use shared::crypto::TokenCipher;

/// A new Fernet key, as the runbook makes one.
fn new_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

async fn connected(app: &shared::LiveApp, token: &str) -> bool {
    let req = event(
        "tiktok-test/ok.json",
        &[("REPLACE_WITH_FIREBASE_ID_TOKEN", token)],
    );
    let r = send("tiktok-test", app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["connected"] == true
}

#[tokio::test]
async fn the_fernet_key_is_rotated_without_downtime() {
    let db = Db::new();
    let old = stack_var("ENCRYPTION_KEY");
    let new = new_key();
    record_secret(&new);
    let only_new = TokenCipher::from_keys(&new).unwrap();
    let only_old = TokenCipher::from_keys(&old).unwrap();
    // A connection written with the old key (access token valid for two hours).
    let (user, _, row) = given::user_with_row(&db, BASIC_SCOPE, 7200).await;
    let id = row["id"].as_i64().unwrap();

    // Step 2: the new key first, the old kept: old rows read, new writes use the new key.
    let both = app_with(&[("ENCRYPTION_KEY", &format!("{new},{old}"))]);
    assert!(connected(&both, &user.id_token).await, "an old row reads");

    // Step 3: the sweep refreshes it (due: not refreshed for a day) and stores the rotated
    // tokens with the new key.
    psql(&format!(
        "update social_connections set refreshed_at = now() - interval '2 days' where id = {id}"
    ));
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    shared::sweep::run(&both, until).await.unwrap();
    let stored = db.connection(id).await;
    let refresh = stored["refresh_token"].as_str().unwrap();
    assert!(
        only_new.decrypt(refresh).is_ok(),
        "rewritten with the new key"
    );
    assert!(only_old.decrypt(refresh).is_err());
    assert!(only_new
        .decrypt(stored["access_token"].as_str().unwrap())
        .is_ok());

    // Step 4: the old key removed; the row still reads.
    let new_only = app_with(&[("ENCRYPTION_KEY", &new)]);
    assert!(connected(&new_only, &user.id_token).await);
}

use super::*;

fn caller(uid: &str) -> Caller {
    Caller {
        firebase_uid: uid.into(),
        ..Caller::default()
    }
}

fn tiktok(open_id: &str, token: &str) -> NewConnection {
    NewConnection {
        provider: "tiktok".into(),
        provider_account_id: open_id.into(),
        tokens: NewTokens {
            access_token: token.into(),
            refresh_token: Some(format!("r-{token}")),
            ..NewTokens::default()
        },
        ..NewConnection::default()
    }
}

#[tokio::test]
async fn a_tiktok_account_has_one_owner_and_the_first_is_primary() {
    let store = MemoryStore::default();
    let a = store
        .store_connection(&caller("a"), &tiktok("o1", "t1"))
        .await
        .unwrap();
    assert!(a.created && a.connection.is_primary == Some(true));
    let second = store
        .store_connection(&caller("a"), &tiktok("o2", "t2"))
        .await
        .unwrap();
    assert_eq!(second.connection.is_primary, Some(false));
    let err = store
        .store_connection(&caller("b"), &tiktok("o1", "t3"))
        .await
        .unwrap_err();
    assert_eq!(err, in_use("tiktok_account_in_use"));
    let again = store
        .store_connection(&caller("a"), &tiktok("o1", "t4"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.connection.access_token.as_deref(), Some("t4"));
}

#[tokio::test]
async fn one_primary_moves_and_is_handed_on_at_delete() {
    let store = MemoryStore::default();
    let me = caller("a");
    let first = store
        .store_connection(&me, &tiktok("o1", "t1"))
        .await
        .unwrap();
    store
        .store_connection(&me, &tiktok("o2", "t2"))
        .await
        .unwrap();
    let update = ConnectionUpdate {
        provider: "tiktok".into(),
        account_id: "o2".into(),
        make_primary: true,
        ..ConnectionUpdate::default()
    };
    let view = store
        .update_connection(&me, &update)
        .await
        .unwrap()
        .unwrap();
    assert!(view.is_primary);
    let listed = store.list_connections(&me).await.unwrap();
    assert_eq!(listed.iter().filter(|c| c.is_primary).count(), 1);
    let chosen = store.tiktok_connection(&me, None).await.unwrap();
    let primary = chosen.connection.unwrap();
    assert_eq!(primary.provider_account_id, "o2");
    assert!(store
        .delete_connection(primary.id, chosen.user_id, OtherSignIn::Unknown)
        .await
        .unwrap());
    assert_eq!(
        store.row(first.connection.id).unwrap().is_primary,
        Some(true)
    );
    assert!(!store
        .delete_connection(primary.id, chosen.user_id, OtherSignIn::Unknown)
        .await
        .unwrap());
}

#[tokio::test]
async fn swaps_compare_the_stored_refresh_token() {
    let store = MemoryStore::default();
    let id = store
        .store_connection(&caller("a"), &tiktok("o1", "t1"))
        .await
        .unwrap()
        .connection
        .id;
    let update = TokenUpdate {
        access_token: "t2".into(),
        refresh_token: Some("r2".into()),
        expires_at: None,
        refresh_expires_at: None,
        scope: None,
    };
    assert!(
        !store
            .swap_tokens(id, "stale", &update)
            .await
            .unwrap()
            .swapped
    );
    store.mark_reauth_required(id, "r-t1").await.unwrap();
    assert!(store.is_marked_reauth(id));
    assert!(
        store
            .swap_tokens(id, "r-t1", &update)
            .await
            .unwrap()
            .swapped
    );
    assert!(!store.is_marked_reauth(id), "new tokens clear the mark");
    store.fail_next(1);
    assert!(matches!(
        store.connection_by_id(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.connection_by_id(id).await.unwrap().is_some());
}

#[tokio::test]
async fn sign_in_chooses_the_owner_or_asks_for_a_new_user() {
    let store = MemoryStore::default();
    let mut args = OAuthConnect {
        open_id: "o1".into(),
        tokens: NewTokens {
            access_token: "t".into(),
            ..NewTokens::default()
        },
        derived_uid: "tiktok:1".into(),
        new_email: Some("a@example.com".into()),
        ..OAuthConnect::default()
    };
    let first = store.oauth_connect(&args).await.unwrap();
    assert!(first.needs_new_user && !first.email_in_use);
    args.create = true;
    let created = store.oauth_connect(&args).await.unwrap();
    assert!(created.created_user);
    args.create = false;
    let again = store.oauth_connect(&args).await.unwrap();
    assert_eq!(again.user.unwrap().firebase_uid, "tiktok:1");
    args.session_uid = Some("someone-else".into());
    assert_eq!(
        store.oauth_connect(&args).await.unwrap_err(),
        in_use("tiktok_account_in_use")
    );
    let other = OAuthConnect {
        open_id: "o2".into(),
        derived_uid: "tiktok:2".into(),
        new_email: Some("A@example.com".into()),
        create: true,
        ..OAuthConnect::default()
    };
    assert_eq!(
        store.oauth_connect(&other).await.unwrap_err(),
        in_use("account_exists")
    );
}

//! The PostgREST adapter: the service key as `apikey` and bearer, PostgREST error
//! bodies mapped to typed errors, multi-row work as `rpc` calls to SQL functions
//! (`supabase/migrations/`), so each is atomic and one round trip. The `postgrest`
//! crate builds each request; the shared outbound client sends it.

use std::time::Duration;

use ::postgrest::Postgrest;
use serde::Serialize;

use super::*;
use crate::outbound;

/// The PostgREST adapter.
pub struct PostgrestStore {
    pg: Postgrest,
    http: reqwest::Client,
    timeout: Duration,
}

impl PostgrestStore {
    /// `rest_url` is the PostgREST root without a trailing slash (see `Config`); the
    /// key must be a valid header value (checked by `Config`).
    pub fn new(
        rest_url: &str,
        service_key: &str,
        http: reqwest::Client,
        timeout: Duration,
    ) -> PostgrestStore {
        let mut pg =
            Postgrest::new(rest_url.trim_end_matches('/')).insert_header("apikey", service_key);
        // Supabase's new `sb_secret_` keys go in `apikey` only; JWT keys also as bearer.
        if !service_key.starts_with("sb_secret_") {
            pg = pg.insert_header("Authorization", format!("Bearer {service_key}"));
        }
        PostgrestStore { pg, http, timeout }
    }

    async fn send(&self, builder: ::postgrest::Builder) -> Result<Vec<u8>, StoreError> {
        let request = builder
            .build()
            .timeout(self.timeout)
            .build()
            .map_err(|_| StoreError::Unavailable("request could not be built".into()))?;
        let answer = outbound::execute(&self.http, request)
            .await
            .map_err(|t| StoreError::Unavailable(t.to_string()))?;
        if answer.is_success() {
            Ok(answer.body)
        } else {
            Err(StoreError::from_response(answer.status, &answer.body))
        }
    }

    async fn call(&self, function: &str, args: &impl Serialize) -> Result<Vec<u8>, StoreError> {
        let args = serde_json::to_string(args).map_err(|e| StoreError::Rejected {
            status: 0,
            code: "encode".into(),
            message: e.to_string(),
        })?;
        self.send(self.pg.rpc(function, args)).await
    }

    async fn rpc<T: serde::de::DeserializeOwned>(
        &self,
        function: &str,
        args: &impl Serialize,
    ) -> Result<T, StoreError> {
        let body = self.call(function, args).await?;
        serde_json::from_slice(&body)
            .map_err(|_| StoreError::Unavailable(format!("unreadable answer from rpc {function}")))
    }

    async fn rpc_void(&self, function: &str, args: &impl Serialize) -> Result<(), StoreError> {
        self.call(function, args).await.map(|_| ())
    }
}

/// An rpc's arguments: the caller's (who they are, so the SQL ensures their user row)
/// and the call's own.
#[derive(Serialize)]
struct ForCaller<'a, T: Serialize> {
    #[serde(flatten)]
    caller: &'a Caller,
    #[serde(flatten)]
    args: T,
}

/// An rpc's arguments about one connection row.
#[derive(Serialize)]
struct ForRow<T: Serialize> {
    #[serde(rename = "p_id")]
    id: i64,
    #[serde(flatten)]
    args: T,
}

#[derive(Serialize)]
struct Precheck<'a> {
    #[serde(rename = "p_open_id")]
    open_id: &'a str,
    #[serde(rename = "p_derived_uid")]
    derived_uid: &'a str,
    #[serde(rename = "p_new_email", skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

#[derive(Serialize)]
struct AccountChoice<'a> {
    #[serde(rename = "p_account_id", skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Swap<'a> {
    #[serde(rename = "p_expected_refresh_token")]
    expected_refresh_token: &'a str,
    #[serde(flatten)]
    update: &'a TokenUpdate,
}

#[derive(Serialize)]
struct RefusedToken<'a> {
    #[serde(rename = "p_refresh_token")]
    refresh_token: &'a str,
}

#[derive(Serialize)]
struct Owner {
    #[serde(rename = "p_user_id")]
    user_id: i64,
    #[serde(rename = "p_other_sign_in")]
    other_sign_in: bool,
}

#[derive(Serialize)]
struct ProfileOf<'a> {
    #[serde(rename = "p_open_id", skip_serializing_if = "Option::is_none")]
    open_id: Option<&'a str>,
    #[serde(rename = "p_profile")]
    profile: &'a serde_json::Value,
}

impl TokenStore for PostgrestStore {
    async fn connection_by_id(&self, id: i64) -> Result<Option<Connection>, StoreError> {
        let query = self.pg.from("social_connections").select("*");
        let body = self.send(query.eq("id", id.to_string())).await?;
        let mut rows: Vec<Connection> = serde_json::from_slice(&body)
            .map_err(|_| StoreError::Unavailable("unreadable social_connections row".into()))?;
        Ok(rows.pop())
    }

    async fn swap_tokens(
        &self,
        id: i64,
        expected_refresh_token: &str,
        update: &TokenUpdate,
    ) -> Result<SwapOutcome, StoreError> {
        let args = Swap {
            expected_refresh_token,
            update,
        };
        self.rpc("swap_connection_tokens", &ForRow { id, args })
            .await
    }

    async fn mark_reauth_required(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let args = RefusedToken { refresh_token };
        self.rpc_void("mark_reauth_required", &ForRow { id, args })
            .await
    }
}

#[derive(Serialize)]
struct StateHash<'a> {
    #[serde(rename = "p_state_hash")]
    state_hash: &'a str,
}

impl OAuthStateStore for PostgrestStore {
    async fn create_oauth_state(
        &self,
        state: &NewOAuthState,
    ) -> Result<CreatedOAuthState, StoreError> {
        self.rpc("create_oauth_state", state).await
    }

    async fn consume_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<OAuthState>, StoreError> {
        self.rpc("consume_oauth_state", &StateHash { state_hash })
            .await
    }
}

#[derive(Serialize)]
struct DueArgs {
    #[serde(rename = "p_stale_before", with = "crate::timestamp::option")]
    stale_before: Option<time::OffsetDateTime>,
    #[serde(rename = "p_limit", skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(rename = "p_lease_seconds", skip_serializing_if = "Option::is_none")]
    lease_seconds: Option<i64>,
}

impl HealthStore for PostgrestStore {
    async fn record_tiktok_webhook(
        &self,
        event: &WebhookEvent,
    ) -> Result<WebhookOutcome, StoreError> {
        self.rpc("record_tiktok_webhook", event).await
    }

    async fn claim_due_connections(
        &self,
        limit: i64,
        stale_before: time::OffsetDateTime,
        lease_seconds: i64,
    ) -> Result<Vec<Connection>, StoreError> {
        let args = DueArgs {
            stale_before: Some(stale_before),
            limit: Some(limit),
            lease_seconds: Some(lease_seconds),
        };
        self.rpc("claim_due_connections", &args).await
    }

    async fn count_due_connections(
        &self,
        stale_before: time::OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let args = DueArgs {
            stale_before: Some(stale_before),
            limit: None,
            lease_seconds: None,
        };
        self.rpc("count_due_connections", &args).await
    }
}

#[derive(Serialize)]
struct Reserve<'a> {
    #[serde(flatten)]
    post: &'a NewPost,
    #[serde(rename = "p_idempotency_key")]
    key: &'a str,
    #[serde(rename = "p_request_hash")]
    request_hash: &'a str,
}

#[derive(Serialize)]
struct PostRef<'a> {
    #[serde(rename = "p_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "p_post_id", skip_serializing_if = "Option::is_none")]
    post_id: Option<&'a str>,
    #[serde(rename = "p_user_id", skip_serializing_if = "Option::is_none")]
    user_id: Option<i64>,
    #[serde(rename = "p_firebase_uid", skip_serializing_if = "Option::is_none")]
    firebase_uid: Option<&'a str>,
}

impl PostStore for PostgrestStore {
    async fn begin_post(
        &self,
        post: &NewPost,
        key: &str,
        request_hash: &str,
    ) -> Result<Begun, StoreError> {
        let args = Reserve {
            post,
            key,
            request_hash,
        };
        self.rpc("begin_tiktok_post", &args).await
    }

    async fn record_post(&self, record: &RecordPost) -> Result<PostRow, StoreError> {
        self.rpc("record_tiktok_post", record).await
    }

    async fn release_post(&self, id: &str, user_id: i64) -> Result<(), StoreError> {
        let args = PostRef {
            id: Some(id),
            post_id: None,
            user_id: Some(user_id),
            firebase_uid: None,
        };
        self.rpc_void("release_tiktok_post", &args).await
    }

    async fn post_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> Result<Option<PostWithConnection>, StoreError> {
        let args = PostRef {
            id: None,
            post_id: Some(id),
            user_id: None,
            firebase_uid: Some(firebase_uid),
        };
        self.rpc("tiktok_post_for", &args).await
    }

    async fn set_post_status(
        &self,
        update: &PostStatusUpdate,
    ) -> Result<Option<PostRow>, StoreError> {
        self.rpc("set_tiktok_post_status", update).await
    }
}

impl ConnectionStore for PostgrestStore {
    async fn tiktok_connection(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> Result<CallerConnection, StoreError> {
        let args = AccountChoice { account_id };
        self.rpc("tiktok_connection_for", &ForCaller { caller, args })
            .await
    }

    async fn store_connection(
        &self,
        caller: &Caller,
        new: &NewConnection,
    ) -> Result<StoredConnection, StoreError> {
        let args = ForCaller { caller, args: new };
        self.rpc("store_connection", &args).await
    }

    async fn sign_in_precheck(
        &self,
        open_id: &str,
        derived_uid: &str,
        email: Option<&str>,
    ) -> Result<OAuthOutcome, StoreError> {
        let args = Precheck {
            open_id,
            derived_uid,
            email,
        };
        self.rpc("tiktok_sign_in_precheck", &args).await
    }

    async fn oauth_connect(&self, args: &OAuthConnect) -> Result<OAuthOutcome, StoreError> {
        self.rpc("tiktok_oauth_connect", args).await
    }

    async fn list_connections(
        &self,
        caller: &Caller,
    ) -> Result<Vec<ConnectionSummary>, StoreError> {
        self.rpc("list_connections", caller).await
    }

    async fn update_connection(
        &self,
        caller: &Caller,
        update: &ConnectionUpdate,
    ) -> Result<Option<ConnectionSummary>, StoreError> {
        let args = ForCaller {
            caller,
            args: update,
        };
        self.rpc("update_connection", &args).await
    }

    async fn delete_connection(
        &self,
        id: i64,
        user_id: i64,
        sign_in: OtherSignIn,
    ) -> Result<bool, StoreError> {
        let args = Owner {
            user_id,
            other_sign_in: sign_in == OtherSignIn::Available,
        };
        self.rpc("delete_connection", &ForRow { id, args }).await
    }

    async fn cache_profile(&self, id: i64, profile: &serde_json::Value) -> Result<(), StoreError> {
        let args = ProfileOf {
            open_id: None,
            profile,
        };
        self.rpc_void("cache_tiktok_profile", &ForRow { id, args })
            .await
    }

    async fn store_client_profile(
        &self,
        caller: &Caller,
        open_id: &str,
        profile: &serde_json::Value,
    ) -> Result<Option<Connection>, StoreError> {
        let args = ProfileOf {
            open_id: Some(open_id),
            profile,
        };
        self.rpc("store_client_profile", &ForCaller { caller, args })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgrest_errors_map_to_typed_errors() {
        let unique = br#"{"code":"23505","details":"Key exists","hint":null,"message":"duplicate key value"}"#;
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
}

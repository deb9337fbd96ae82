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

/// A refresh token named by a call on its row (refused, or the refresh lease's).
#[derive(Serialize)]
struct RowRefreshToken<'a> {
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

    async fn begin_refresh(&self, id: i64, refresh_token: &str) -> Result<bool, StoreError> {
        let args = RowRefreshToken { refresh_token };
        self.rpc("begin_refresh", &ForRow { id, args }).await
    }

    async fn end_refresh(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let args = RowRefreshToken { refresh_token };
        self.rpc_void("end_refresh", &ForRow { id, args }).await
    }

    async fn mark_reauth_required(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let args = RowRefreshToken { refresh_token };
        self.rpc_void("mark_reauth_required", &ForRow { id, args })
            .await
    }
}

#[derive(Serialize)]
struct ConsumeArgs<'a> {
    #[serde(rename = "p_state_hash")]
    state_hash: &'a str,
    #[serde(rename = "p_binding_hash", skip_serializing_if = "Option::is_none")]
    binding_hash: Option<&'a str>,
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
        binding_hash: Option<&str>,
    ) -> Result<Option<OAuthState>, StoreError> {
        let args = ConsumeArgs {
            state_hash,
            binding_hash,
        };
        self.rpc("consume_oauth_state", &args).await
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

mod posts;
#[cfg(test)]
mod tests;

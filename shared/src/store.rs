//! Supabase over PostgREST: the service key as `apikey` and bearer, PostgREST error
//! bodies mapped to typed errors, multi-row work as `rpc` calls to SQL functions
//! (`supabase/migrations/`), so each is atomic and one round trip.

use std::time::Duration;

use postgrest::Postgrest;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::timestamp;

/// What a caller is, as a verified Firebase ID token says. A user row is created from
/// it on first sight.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Caller {
    #[serde(rename = "p_firebase_uid")]
    pub firebase_uid: String,
    #[serde(rename = "p_email", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "p_email_verified")]
    pub email_verified: bool,
    #[serde(rename = "p_full_name", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "p_avatar_url", skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// A `social_connections` row. Tokens are Fernet ciphertexts; `Debug` leaves them out.
#[derive(Clone, Deserialize, PartialEq)]
pub struct Connection {
    pub id: i64,
    pub user_id: i64,
    pub provider: String,
    pub provider_account_id: String,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default, with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub account_label: Option<String>,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default)]
    pub is_primary: Option<bool>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, with = "timestamp::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("provider_account_id", &self.provider_account_id)
            .field("expires_at", &self.expires_at)
            .field("is_primary", &self.is_primary)
            .finish_non_exhaustive()
    }
}

/// New tokens for a connection, already encrypted.
#[derive(Clone, Serialize)]
pub struct TokenUpdate {
    #[serde(rename = "p_access_token")]
    pub access_token: String,
    #[serde(rename = "p_refresh_token")]
    pub refresh_token: String,
    #[serde(rename = "p_expires_at", with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(
        rename = "p_refresh_expires_at",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_expires_at: Option<OffsetDateTime>,
    #[serde(rename = "p_scope", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The result of a compare-and-swap of a connection's tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct SwapOutcome {
    /// `false`: the stored refresh token was no longer the expected one.
    pub swapped: bool,
    /// The row as it now is; `None` if it was deleted meanwhile.
    pub connection: Option<Connection>,
}

/// The caller's user id and the TikTok connection chosen for the request.
#[derive(Debug, Clone, Deserialize)]
pub struct CallerConnection {
    pub user_id: i64,
    pub connection: Option<Connection>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// Unreachable, timed out, 5xx, or an answer that cannot be read.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or other conflict (23505, 23503, PT409 -> 409).
    #[error("conflict {code}: {message}")]
    Conflict { code: String, message: String },
    /// A single row was asked for and there is none.
    #[error("not found")]
    NotFound,
    /// Any other refusal: a request this code should not have made.
    #[error("refused with {status} {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
}

impl StoreError {
    /// Maps PostgREST's error body (`{code, message, details, hint}`) by status and code.
    pub fn from_response(status: u16, body: &[u8]) -> StoreError {
        #[derive(Deserialize, Default)]
        struct Body {
            #[serde(default)]
            code: Option<String>,
            #[serde(default)]
            message: Option<String>,
        }
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed.code.unwrap_or_default();
        let message = parsed.message.unwrap_or_default();
        match (status, code.as_str()) {
            (_, "23505" | "23503" | "PT409") | (409, _) => StoreError::Conflict { code, message },
            (406, "PGRST116") => StoreError::NotFound,
            // Throttled by the platform in front of PostgREST: an outage to retry.
            (429, _) => StoreError::Unavailable("429".into()),
            // PGRST000-003: PostgREST cannot reach or use the database.
            (_, "PGRST000" | "PGRST001" | "PGRST002" | "PGRST003") => StoreError::Unavailable(code),
            (s, _) if s >= 500 => StoreError::Unavailable(format!("{s} {code}")),
            (s, _) => StoreError::Rejected {
                status: s,
                code,
                message,
            },
        }
    }
}

/// What the endpoints need from the database.
pub trait ConnectionStore: Send + Sync {
    /// Ensures the caller's user row and picks their TikTok connection: `account_id`
    /// (an open_id) if given, else the primary, else the most recently updated.
    fn tiktok_connection(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> impl std::future::Future<Output = Result<CallerConnection, StoreError>> + Send;

    fn connection_by_id(
        &self,
        id: i64,
    ) -> impl std::future::Future<Output = Result<Option<Connection>, StoreError>> + Send;

    /// Stores new tokens only if the stored refresh token is still `expected_refresh_token`.
    fn swap_tokens(
        &self,
        id: i64,
        expected_refresh_token: &str,
        update: &TokenUpdate,
    ) -> impl std::future::Future<Output = Result<SwapOutcome, StoreError>> + Send;

    /// Creates or updates the caller's connection (`store_connection`): a TikTok account
    /// owned by another user is `Conflict` with code `PT409`.
    fn store_connection(
        &self,
        caller: &Caller,
        new: &NewConnection,
    ) -> impl std::future::Future<Output = Result<StoredConnection, StoreError>> + Send;

    /// Sign-in's user choice and connection write, in one transaction.
    fn oauth_connect(
        &self,
        args: &OAuthConnect,
    ) -> impl std::future::Future<Output = Result<OAuthOutcome, StoreError>> + Send;

    /// The caller's connections of every provider, as the account pages show them.
    fn list_connections(
        &self,
        caller: &Caller,
    ) -> impl std::future::Future<Output = Result<Vec<ConnectionSummary>, StoreError>> + Send;

    /// Relabels the caller's connection and/or makes it primary; `None` when it is not theirs.
    fn update_connection(
        &self,
        caller: &Caller,
        update: &ConnectionUpdate,
    ) -> impl std::future::Future<Output = Result<Option<ConnectionSummary>, StoreError>> + Send;

    /// Notes that TikTok refused this refresh token (unless newer tokens were stored since).
    fn mark_reauth_required(
        &self,
        id: i64,
        refresh_token: &str,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the user's connection, handing the primary flag on; `false` if it was gone.
    fn delete_connection(
        &self,
        id: i64,
        user_id: i64,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `metadata.profile` of a connection.
    fn cache_profile(
        &self,
        id: i64,
        profile: &serde_json::Value,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// Writes `metadata.profile` of the caller's TikTok connection `open_id`; `None`
    /// when it is not one of theirs.
    fn store_client_profile(
        &self,
        caller: &Caller,
        open_id: &str,
        profile: &serde_json::Value,
    ) -> impl std::future::Future<Output = Result<Option<Connection>, StoreError>> + Send;
}

/// Sign-in's connection write (`tiktok_oauth_connect`), tokens already encrypted.
#[derive(Clone, Default, Serialize)]
pub struct OAuthConnect {
    pub p_open_id: String,
    pub p_access_token: String,
    /// The Firebase uid a new user of this open_id gets.
    pub p_derived_uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_refresh_token: Option<String>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    pub p_expires_at: Option<OffsetDateTime>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    pub p_refresh_expires_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_profile: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_session_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_session_email: Option<String>,
    pub p_session_email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_session_full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_session_avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_new_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_new_full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_new_avatar_url: Option<String>,
    pub p_create: bool,
}

/// A connection as the account pages show it (`connection_view` in SQL): never a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    pub id: i64,
    pub provider: String,
    pub provider_account_id: String,
    pub account_label: Option<String>,
    pub account_type: Option<String>,
    pub is_primary: bool,
    #[serde(default, with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    pub scope: Option<String>,
    /// `active`, `expired` (refreshable) or `reauth_required`.
    pub status: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    #[serde(default, with = "timestamp::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// What update-connection may change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionUpdate {
    pub p_provider: String,
    pub p_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_type: Option<String>,
    pub p_make_primary: bool,
}

/// A `users` row.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub firebase_uid: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// `tiktok_oauth_connect`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthOutcome {
    pub needs_new_user: bool,
    #[serde(default)]
    pub email_in_use: bool,
    #[serde(default)]
    pub created_user: bool,
    #[serde(default)]
    pub user: Option<UserRow>,
}

/// A connection to create or update, tokens already encrypted. Absent fields are
/// omitted from the rpc call (the SQL function's defaults keep stored values).
#[derive(Clone, Default, Serialize)]
pub struct NewConnection {
    #[serde(rename = "p_provider")]
    pub provider: String,
    #[serde(rename = "p_provider_account_id")]
    pub provider_account_id: String,
    #[serde(rename = "p_access_token")]
    pub access_token: String,
    #[serde(rename = "p_refresh_token", skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(
        rename = "p_expires_at",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(
        rename = "p_refresh_expires_at",
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_expires_at: Option<OffsetDateTime>,
    #[serde(rename = "p_scope", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(rename = "p_account_label", skip_serializing_if = "Option::is_none")]
    pub account_label: Option<String>,
    #[serde(rename = "p_account_type", skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(rename = "p_is_primary", skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(rename = "p_metadata", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// `store_connection`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredConnection {
    pub created: bool,
    pub connection: Connection,
}

/// The PostgREST adapter.
pub struct Store {
    pg: Postgrest,
    timeout: Duration,
}

impl Store {
    /// `rest_url` is the PostgREST root without a trailing slash (see `Config`); the
    /// key must be a valid header value (checked by `Config`).
    pub fn new(rest_url: &str, service_key: &str, timeout: Duration) -> Store {
        let mut pg =
            Postgrest::new(rest_url.trim_end_matches('/')).insert_header("apikey", service_key);
        // Supabase's new `sb_secret_` keys go in `apikey` only; JWT keys also as bearer.
        if !service_key.starts_with("sb_secret_") {
            pg = pg.insert_header("Authorization", format!("Bearer {service_key}"));
        }
        Store { pg, timeout }
    }

    async fn send(&self, builder: postgrest::Builder) -> Result<Vec<u8>, StoreError> {
        let response = builder
            .build()
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe_reqwest(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| StoreError::Unavailable(describe_reqwest(&e)))?;
        if status.is_success() {
            Ok(body.to_vec())
        } else {
            Err(StoreError::from_response(status.as_u16(), &body))
        }
    }

    async fn rpc<A: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        function: &str,
        args: &A,
    ) -> Result<T, StoreError> {
        let args = serde_json::to_string(args).map_err(|e| StoreError::Rejected {
            status: 0,
            code: "encode".into(),
            message: e.to_string(),
        })?;
        let body = self.send(self.pg.rpc(function, args)).await?;
        serde_json::from_slice(&body)
            .map_err(|_| StoreError::Unavailable(format!("unreadable answer from rpc {function}")))
    }
}

impl Store {
    async fn rpc_void<A: Serialize>(&self, function: &str, args: &A) -> Result<(), StoreError> {
        let args = serde_json::to_string(args).map_err(|e| StoreError::Rejected {
            status: 0,
            code: "encode".into(),
            message: e.to_string(),
        })?;
        self.send(self.pg.rpc(function, args)).await.map(|_| ())
    }
}

fn describe_reqwest(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        // reqwest's Display carries the URL (no secrets: keys travel in headers).
        err.to_string()
    }
}

impl ConnectionStore for Store {
    async fn tiktok_connection(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> Result<CallerConnection, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            caller: &'a Caller,
            #[serde(skip_serializing_if = "Option::is_none")]
            p_account_id: Option<&'a str>,
        }
        self.rpc(
            "tiktok_connection_for",
            &Args {
                caller,
                p_account_id: account_id,
            },
        )
        .await
    }

    async fn connection_by_id(&self, id: i64) -> Result<Option<Connection>, StoreError> {
        let body = self
            .send(
                self.pg
                    .from("social_connections")
                    .select("*")
                    .eq("id", id.to_string()),
            )
            .await?;
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
        #[derive(Serialize)]
        struct Args<'a> {
            p_id: i64,
            p_expected_refresh_token: &'a str,
            #[serde(flatten)]
            update: &'a TokenUpdate,
        }
        self.rpc(
            "swap_connection_tokens",
            &Args {
                p_id: id,
                p_expected_refresh_token: expected_refresh_token,
                update,
            },
        )
        .await
    }

    async fn store_connection(
        &self,
        caller: &Caller,
        new: &NewConnection,
    ) -> Result<StoredConnection, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            caller: &'a Caller,
            #[serde(flatten)]
            new: &'a NewConnection,
        }
        self.rpc("store_connection", &Args { caller, new }).await
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
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            caller: &'a Caller,
            #[serde(flatten)]
            update: &'a ConnectionUpdate,
        }
        self.rpc("update_connection", &Args { caller, update })
            .await
    }

    async fn mark_reauth_required(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let args = serde_json::json!({"p_id": id, "p_refresh_token": refresh_token});
        self.rpc_void("mark_reauth_required", &args).await
    }

    async fn delete_connection(&self, id: i64, user_id: i64) -> Result<bool, StoreError> {
        let args = serde_json::json!({"p_id": id, "p_user_id": user_id});
        self.rpc("delete_connection", &args).await
    }

    async fn cache_profile(&self, id: i64, profile: &serde_json::Value) -> Result<(), StoreError> {
        let args = serde_json::json!({"p_id": id, "p_profile": profile});
        self.rpc_void("cache_tiktok_profile", &args).await
    }

    async fn store_client_profile(
        &self,
        caller: &Caller,
        open_id: &str,
        profile: &serde_json::Value,
    ) -> Result<Option<Connection>, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            caller: &'a Caller,
            p_open_id: &'a str,
            p_profile: &'a serde_json::Value,
        }
        let args = Args {
            caller,
            p_open_id: open_id,
            p_profile: profile,
        };
        self.rpc("store_client_profile", &args).await
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

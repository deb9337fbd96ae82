//! The rows the store reads and the arguments its rpc calls send.
//!
//! One convention for rpc arguments: Rust fields have plain names, and serde adds the
//! SQL parameter's `p_` prefix (`#[serde(rename = "p_...")]`). Absent optional
//! arguments are omitted, never sent as `null`: the SQL functions' defaults apply.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::timestamp;

/// What a caller is, as a verified Firebase ID token says. A user row is created from
/// it on first sight.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Caller {
    /// When the session's sign-in happened (the ID token's `auth_time`): not an rpc
    /// argument.
    #[serde(skip)]
    pub auth_time: Option<i64>,
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
    /// The account signs its user in (not only connected for posting).
    #[serde(default)]
    pub sign_in_enabled: bool,
    /// TikTok said the user removed the app (webhook): the tokens are gone.
    #[serde(default, with = "timestamp::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// TikTok's reason, 0-5 (see `revoked_reason_name`).
    #[serde(default)]
    pub revoked_reason: Option<i16>,
    /// When the tokens were last refreshed (or stored).
    #[serde(default, with = "timestamp::option")]
    pub refreshed_at: Option<OffsetDateTime>,
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

/// Rotated tokens for a connection's compare-and-swap (`swap_connection_tokens`, whose
/// refresh token and expiry are required: a refresh always has both).
pub type TokenUpdate = NewTokens;

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
    /// The connection is the last way its (TikTok-created) user can sign in, as far as
    /// the database knows (other Firebase providers are not known to it).
    #[serde(default)]
    pub only_sign_in_method: bool,
}

/// Tokens to store on a connection, already encrypted, with what TikTok said of them
/// (the rpc arguments `store_connection` and `tiktok_oauth_connect` share).
#[derive(Clone, Default, Serialize)]
pub struct NewTokens {
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
}

/// TikTok's `authorization.removed` reasons, as list-connections names them.
pub fn revoked_reason_name(reason: i16) -> Option<&'static str> {
    const NAMES: [&str; 6] = [
        "unknown",
        "user_disconnected",
        "account_deleted",
        "age_changed",
        "account_banned",
        "developer_revoked",
    ];
    usize::try_from(reason)
        .ok()
        .and_then(|i| NAMES.get(i).copied())
}

/// A TikTok webhook delivery to record (`record_tiktok_webhook`).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// SHA-256 of the raw body: a redelivery has the same key.
    #[serde(rename = "p_event_key")]
    pub event_key: String,
    #[serde(rename = "p_event")]
    pub event: String,
    #[serde(rename = "p_user_openid", skip_serializing_if = "Option::is_none")]
    pub user_openid: Option<String>,
    #[serde(rename = "p_create_time", skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    #[serde(rename = "p_content")]
    pub content: serde_json::Value,
}

/// `record_tiktok_webhook`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookOutcome {
    pub duplicate: bool,
    /// Connections revoked by this delivery.
    #[serde(default)]
    pub revoked: i64,
    /// Posts moved on by this delivery (`post.publish.*`).
    #[serde(default)]
    pub posts: i64,
}

/// Why an authorization was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthIntent {
    /// Sign in (or sign up) with the TikTok account.
    SignIn,
    /// Link the TikTok account to the signed-in user who started it.
    Link,
}

/// A state to store (`create_oauth_state`): only the state's hash, the verifier encrypted.
#[derive(Clone, Serialize)]
pub struct NewOAuthState {
    #[serde(rename = "p_state_hash")]
    pub state_hash: String,
    #[serde(rename = "p_intent")]
    pub intent: OAuthIntent,
    #[serde(rename = "p_firebase_uid", skip_serializing_if = "Option::is_none")]
    pub firebase_uid: Option<String>,
    #[serde(rename = "p_redirect_uri")]
    pub redirect_uri: String,
    /// Comma-separated, as TikTok's authorize URL takes them.
    #[serde(rename = "p_scopes")]
    pub scopes: String,
    #[serde(rename = "p_code_verifier")]
    pub code_verifier: String,
    #[serde(rename = "p_client_address", skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    /// The SHA-256 of the binding secret the authorizing browser keeps.
    #[serde(rename = "p_binding_hash", skip_serializing_if = "Option::is_none")]
    pub binding_hash: Option<String>,
}

/// `create_oauth_state`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedOAuthState {
    #[serde(with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A stored state, as `consume_oauth_state` returns it. `Debug` leaves the verifier out.
#[derive(Clone, Deserialize)]
pub struct OAuthState {
    pub intent: OAuthIntent,
    #[serde(default)]
    pub firebase_uid: Option<String>,
    pub redirect_uri: String,
    pub scopes: String,
    /// Fernet ciphertext.
    pub code_verifier: String,
}

impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("intent", &self.intent)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Sign-in's connection write (`tiktok_oauth_connect`), tokens already encrypted.
#[derive(Clone, Default, Serialize)]
pub struct OAuthConnect {
    #[serde(rename = "p_open_id")]
    pub open_id: String,
    /// The grant to store.
    #[serde(flatten)]
    pub tokens: NewTokens,
    /// The Firebase uid a new user of this open_id gets.
    #[serde(rename = "p_derived_uid")]
    pub derived_uid: String,
    #[serde(rename = "p_profile", skip_serializing_if = "Option::is_none")]
    pub profile: Option<serde_json::Value>,
    #[serde(rename = "p_metadata", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(rename = "p_session_uid", skip_serializing_if = "Option::is_none")]
    pub session_uid: Option<String>,
    #[serde(rename = "p_session_email", skip_serializing_if = "Option::is_none")]
    pub session_email: Option<String>,
    #[serde(rename = "p_session_email_verified")]
    pub session_email_verified: bool,
    #[serde(
        rename = "p_session_full_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_full_name: Option<String>,
    #[serde(
        rename = "p_session_avatar_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_avatar_url: Option<String>,
    /// The session signed in within the last 5 minutes: the account becomes a sign-in method.
    #[serde(rename = "p_session_recent")]
    pub session_recent: bool,
    #[serde(rename = "p_new_email", skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    #[serde(rename = "p_new_full_name", skip_serializing_if = "Option::is_none")]
    pub new_full_name: Option<String>,
    #[serde(rename = "p_new_avatar_url", skip_serializing_if = "Option::is_none")]
    pub new_avatar_url: Option<String>,
    #[serde(rename = "p_create")]
    pub create: bool,
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
    /// The account signs its user in (not only connected for posting).
    #[serde(default)]
    pub sign_in_enabled: bool,
    #[serde(default, with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp::option")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    pub scope: Option<String>,
    /// `active`, `expired` (refreshable), `expiring` (the refresh token ends within 14
    /// days), `reauth_required` or `revoked`.
    pub status: String,
    /// For `revoked`: TikTok's reason (`user_disconnected`, `account_deleted`, ...).
    #[serde(default)]
    pub revoked_reason: Option<String>,
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
    #[serde(rename = "p_provider")]
    pub provider: String,
    #[serde(rename = "p_account_id")]
    pub account_id: String,
    #[serde(rename = "p_account_label", skip_serializing_if = "Option::is_none")]
    pub account_label: Option<String>,
    #[serde(rename = "p_account_type", skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(rename = "p_make_primary")]
    pub make_primary: bool,
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
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OAuthOutcome {
    pub needs_new_user: bool,
    #[serde(default)]
    pub email_in_use: bool,
    #[serde(default)]
    pub created_user: bool,
    #[serde(default)]
    pub user: Option<UserRow>,
    /// The connection as list-connections shows it.
    #[serde(default)]
    pub connection: Option<ConnectionSummary>,
}

/// A connection to create or update, tokens already encrypted. Absent fields are
/// omitted from the rpc call (the SQL function's defaults keep stored values).
#[derive(Clone, Default, Serialize)]
pub struct NewConnection {
    #[serde(rename = "p_provider")]
    pub provider: String,
    #[serde(rename = "p_provider_account_id")]
    pub provider_account_id: String,
    /// The tokens to store.
    #[serde(flatten)]
    pub tokens: NewTokens,
    #[serde(rename = "p_account_label", skip_serializing_if = "Option::is_none")]
    pub account_label: Option<String>,
    #[serde(rename = "p_account_type", skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(rename = "p_is_primary", skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(rename = "p_metadata", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// A TikTok account linked by a recent sign-in becomes a sign-in method.
    #[serde(rename = "p_sign_in")]
    pub sign_in: bool,
}

/// `store_connection`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredConnection {
    pub created: bool,
    pub connection: Connection,
}

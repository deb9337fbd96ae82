//! One module per endpoint: the use case behind each Lambda function.

pub mod cancel_tiktok_post;
pub mod disconnect_tiktok;
pub mod list_connections;
pub mod list_tiktok_posts;
pub mod media_view;
pub mod oauth_tiktok;
pub mod post_view;
pub mod retry_tiktok_post;
pub mod route_not_found;
pub mod store_tiktok_profile;
pub mod store_token;
pub mod tiktok_analytics;
pub mod tiktok_authorize;
pub mod tiktok_callback;
pub mod tiktok_creator_info;
pub mod tiktok_media;
pub mod tiktok_media_status;
pub mod tiktok_post_capacity;
pub mod tiktok_post_status;
pub mod tiktok_profile;
pub mod tiktok_publish;
pub mod tiktok_test;
pub mod tiktok_videos;
pub mod tiktok_webhook;
pub mod update_connection;
pub mod update_tiktok_post;

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{code, ApiError};
use crate::http::query_param;
use crate::store::{Caller, Connection, ConnectionStore};

/// Longest provider account id (TikTok open_id) accepted.
pub const MAX_ACCOUNT_ID_LEN: usize = 256;
/// Longest access or refresh token accepted.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest account label or type.
pub const MAX_LABEL_LEN: usize = 256;

/// The providers a connection can be stored for.
pub const PROVIDERS: [&str; 6] = [
    "tiktok",
    "facebook",
    "instagram",
    "linkedin",
    "twitter",
    "youtube",
];

/// A provider name from a request, lowercased; one we do not store is 400
/// `unsupported_provider`.
pub fn supported_provider(name: &str) -> Result<String, ApiError> {
    let provider = name.trim().to_ascii_lowercase();
    if PROVIDERS.contains(&provider.as_str()) {
        Ok(provider)
    } else {
        Err(ApiError::bad_request(
            code::UNSUPPORTED_PROVIDER,
            format!("provider must be one of: {}", PROVIDERS.join(", ")),
        ))
    }
}

/// An optional contact email: trimmed, bounded, and shaped like an address.
pub fn optional_email(value: Option<String>, name: &str) -> Result<Option<String>, ApiError> {
    match optional_text(value, name, 320)? {
        Some(email) if !is_plausible_email(&email) => Err(ApiError::invalid_request(format!(
            "{name} is not an email address"
        ))),
        other => Ok(other),
    }
}

fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !email.contains(char::is_whitespace)
}

/// An optional text field, trimmed (empty counts as absent), at most `max` bytes and
/// without control characters.
pub fn optional_text(
    value: Option<String>,
    name: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > max || v.chars().any(char::is_control) => Err(
            ApiError::invalid_request(format!("{name} is too long or has control characters")),
        ),
        other => Ok(other),
    }
}

/// Checks an account id from a request: bounded, no control characters. It only ever
/// reaches the database as an `rpc` argument, never as PostgREST filter syntax.
/// The account and tokens a connect request sends (oauth-tiktok, store-token), before
/// validation; flattened into each body. No `Debug`: it holds tokens.
#[derive(Deserialize)]
pub struct SentAccount {
    pub provider_account_id: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// A [`SentAccount`] that passed: the account id well formed, the tokens bounded.
pub struct ValidAccount {
    pub account_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl SentAccount {
    /// The 400s say what is missing in each endpoint's words (`open_id_required`,
    /// `access_token_required`).
    pub fn validate(self, missing_id: &str, missing_token: &str) -> Result<ValidAccount, ApiError> {
        let account_id =
            optional_text(self.provider_account_id, "provider_account_id", usize::MAX)?
                .ok_or_else(|| ApiError::bad_request(code::OPEN_ID_REQUIRED, missing_id))?;
        valid_account_id(&account_id, "provider_account_id")?;
        let access_token = optional_text(self.access_token, "access_token", MAX_TOKEN_LEN)?
            .ok_or_else(|| ApiError::bad_request(code::ACCESS_TOKEN_REQUIRED, missing_token))?;
        Ok(ValidAccount {
            account_id,
            access_token,
            refresh_token: optional_text(self.refresh_token, "refresh_token", MAX_TOKEN_LEN)?,
        })
    }
}

/// Whether `text` is a UUID in its canonical form (8-4-4-4-12 hex digits): the ids this
/// API answers for posts and media.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The UUID of a request's path, segment `from_end` from its end (1: the last),
/// lowercased; `missing` for anything else (nothing else can name a row).
pub fn path_uuid(
    req: &Request,
    from_end: usize,
    missing: fn() -> ApiError,
) -> Result<String, ApiError> {
    match crate::http::path_param(req, "id", from_end) {
        Some(id) if is_uuid(&id) => Ok(id.to_ascii_lowercase()),
        _ => Err(missing()),
    }
}

pub fn valid_account_id(id: &str, name: &str) -> Result<(), ApiError> {
    if id.len() > MAX_ACCOUNT_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(format!(
            "{name} is not a valid account id"
        )));
    }
    Ok(())
}

/// Who presents a TikTok token to be proved, which decides how a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presenter {
    /// Signing in: the TikTok credentials are the authentication (401).
    SignIn,
    /// A signed-in user storing tokens: the session is fine, the body is not (400).
    SignedInUser,
}

impl Presenter {
    /// A token TikTok did not prove, as this presenter is answered.
    pub fn refused(self, err: crate::access::ProofError) -> ApiError {
        use crate::access::ProofError;
        let (code, detail) = match err {
            ProofError::Mismatch => (
                code::TIKTOK_ACCOUNT_MISMATCH,
                "The TikTok token belongs to a different account",
            ),
            ProofError::Refused => (
                code::TIKTOK_TOKEN_INVALID,
                "TikTok did not accept the access token",
            ),
            ProofError::TikTok(err) => return err.into(),
        };
        match self {
            Presenter::SignIn => ApiError::TikTokCredentials {
                code,
                detail: detail.into(),
            },
            Presenter::SignedInUser => ApiError::bad_request(code, detail),
        }
    }
}

/// A TikTok scope the use case needs, and what the user is told to grant when it is missing.
pub struct NeededScope {
    pub scope: &'static str,
    pub grant: &'static str,
}

impl NeededScope {
    /// 409 `tiktok_scope_missing`: reconnect TikTok granting the access.
    pub fn missing(&self) -> ApiError {
        ApiError::conflict(
            code::TIKTOK_SCOPE_MISSING,
            format!(
                "TikTok did not grant {} ({}): reconnect TikTok and allow it",
                self.grant, self.scope
            ),
        )
    }

    /// Refuses before any TikTok call when the stored scope lacks it (an unknown scope
    /// is tried: TikTok answers `scope_not_authorized` if it is missing).
    pub fn check(&self, connection: &Connection) -> Result<(), ApiError> {
        let granted = connection.scope.as_deref().map(|s| {
            s.split([',', ' '])
                .map(str::trim)
                .any(|scope| scope == self.scope)
        });
        match granted {
            Some(false) => Err(self.missing()),
            _ => Ok(()),
        }
    }

    /// A failed TikTok call with a stored token: `scope_not_authorized` is this scope
    /// missing, the rest as every endpoint maps it.
    pub fn refused(&self, err: crate::access::AccessError) -> ApiError {
        match err {
            crate::access::AccessError::TikTok(crate::tiktok::TikTokError::ScopeNotAuthorized) => {
                self.missing()
            }
            other => other.into(),
        }
    }
}

/// Direct posting's scope (creator info, direct posts, post status).
pub const PUBLISH_SCOPE: NeededScope = NeededScope {
    scope: "video.publish",
    grant: "posting to this account",
};

/// Inbox uploads' scope.
pub const UPLOAD_SCOPE: NeededScope = NeededScope {
    scope: "video.upload",
    grant: "uploads to this account's TikTok inbox",
};

/// The caller and the TikTok account the request names (`account_id`), both checked
/// before anything else is read.
pub async fn caller_and_account<P: crate::app::Ports>(
    app: &crate::app::App<P>,
    req: &Request,
) -> Result<(Caller, Option<String>), ApiError> {
    let caller = app.authenticate(req).await?;
    Ok((caller, account_id_param(req)?))
}

/// The caller's TikTok connection `account_id` (else the primary, else the most recently
/// updated): 404 `tiktok_not_connected` when there is none.
pub async fn named_connection<P: crate::app::Ports>(
    app: &crate::app::App<P>,
    caller: &Caller,
    account_id: Option<&str>,
) -> Result<Connection, ApiError> {
    app.store
        .tiktok_connection(caller, account_id)
        .await?
        .connection
        .ok_or(ApiError::TikTokNotConnected)
}

/// The caller's TikTok connection the request names (`account_id`, else the primary,
/// else the most recently updated): 404 `tiktok_not_connected` when there is none.
pub async fn chosen_connection<P: crate::app::Ports>(
    app: &crate::app::App<P>,
    req: &Request,
) -> Result<Connection, ApiError> {
    let (caller, account_id) = caller_and_account(app, req).await?;
    named_connection(app, &caller, account_id.as_deref()).await
}

/// The `account_id` query parameter (a TikTok open_id of the caller's).
pub fn account_id_param(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(id) = query_param(req, "account_id") else {
        return Ok(None);
    };
    valid_account_id(&id, "account_id")?;
    Ok(Some(id))
}

/// A connection as responses show it: never a token.
#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub id: i64,
    pub provider: String,
    pub provider_account_id: String,
    pub account_label: Option<String>,
    pub account_type: Option<String>,
    pub is_primary: bool,
    #[serde(with = "crate::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "crate::timestamp::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(with = "crate::timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        ConnectionView {
            id: c.id,
            provider: c.provider,
            provider_account_id: c.provider_account_id,
            account_label: c.account_label,
            account_type: c.account_type,
            is_primary: c.is_primary.unwrap_or(false),
            expires_at: c.expires_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// What every use case imports.
mod prelude {
    pub use lambda_http::http::{Method, StatusCode};
    pub use lambda_http::Request;

    pub use super::{
        caller_and_account, chosen_connection, named_connection, optional_email, optional_text,
        supported_provider, valid_account_id, ConnectionView, NeededScope, SentAccount,
        MAX_ACCOUNT_ID_LEN, MAX_LABEL_LEN, PUBLISH_SCOPE, UPLOAD_SCOPE,
    };
    pub use crate::app::{App, Ports};
    pub use crate::error::{code, ApiError};
    pub use crate::http::{
        bearer_token, json_body, json_response, path_param, query_flag, require_method,
    };
    pub use crate::runtime::Outcome;
    pub use crate::store::ConnectionStore;
    pub use crate::tiktok::TikTokApi;
}

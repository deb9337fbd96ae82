//! TikTok API v2: the port (`TikTokApi`), its types and typed errors, the scopes and
//! fields. `client` is the HTTP adapter, `parse` reads TikTok's answers, `scripted`
//! (feature `testing`) answers from a script.

use serde::{Deserialize, Serialize};

mod client;
pub mod ids;
mod parse;
pub mod posting;
#[cfg(any(test, feature = "testing"))]
pub mod scripted;
pub mod videos;

pub use client::TikTokClient;
pub use parse::{parse_code_grant, parse_revoke, parse_token_grant, parse_user_info};

/// The TikTok adapter's settings (read by `config`).
#[derive(Debug, Clone)]
pub struct TikTokConfig {
    pub api_base_url: String,
    pub client_key: secrecy::SecretString,
    /// Only for functions that refresh or revoke (`config::Needs::tiktok_client_secret`).
    pub client_secret: Option<secrecy::SecretString>,
}

/// The scopes an authorization may ask for.
pub const KNOWN_SCOPES: [&str; 6] = [
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.publish",
    "video.upload",
];

/// Fields each scope unlocks on `/v2/user/info/`.
pub const BASIC_FIELDS: [&str; 4] = ["open_id", "union_id", "avatar_url", "display_name"];
pub const PROFILE_FIELDS: [&str; 3] = ["bio_description", "is_verified", "username"];
pub const STATS_FIELDS: [&str; 4] = [
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
];

/// The fields the granted scopes allow (comma-separated, as TikTok's token response
/// gives them). Unknown scope: all fields (the caller falls back to basic when TikTok
/// answers `scope_permission_missed`).
pub fn fields_for_scope(scope: Option<&str>) -> Vec<&'static str> {
    let mut fields = BASIC_FIELDS.to_vec();
    let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) else {
        fields.extend(PROFILE_FIELDS);
        fields.extend(STATS_FIELDS);
        return fields;
    };
    let granted: Vec<&str> = scope.split([',', ' ']).map(str::trim).collect();
    if granted.contains(&"user.info.profile") {
        fields.extend(PROFILE_FIELDS);
    }
    if granted.contains(&"user.info.stats") {
        fields.extend(STATS_FIELDS);
    }
    fields
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub open_id: Option<String>,
    pub union_id: Option<String>,
    pub avatar_url: Option<String>,
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub bio_description: Option<String>,
    pub is_verified: Option<bool>,
    pub follower_count: Option<u64>,
    pub following_count: Option<u64>,
    pub likes_count: Option<u64>,
    pub video_count: Option<u64>,
}

/// A refresh grant's answer. `Debug` leaves the tokens out.
#[derive(Clone, Deserialize)]
pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_expires_in: Option<i64>,
    #[serde(default)]
    pub open_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TikTokError {
    /// `access_token_invalid`: expired or revoked access token.
    #[error("access token invalid")]
    TokenInvalid,
    /// `scope_not_authorized` (the token lacks the endpoint's scope) or
    /// `scope_permission_missed` (fields outside the grant were asked for).
    #[error("scope not authorized")]
    ScopeNotAuthorized,
    /// The refresh token was refused (`invalid_grant`): expired, revoked or rotated away.
    #[error("refresh token refused")]
    RefreshRejected,
    /// An authorization code TikTok refuses: unknown, used, expired, or its verifier or
    /// redirect URI does not match.
    #[error("authorization code refused")]
    CodeRejected,
    /// A post TikTok refuses for a reason the user or the app must change.
    #[error("post refused: {0:?}")]
    PostRefused(posting::PostRefusal),
    /// A status fetch TikTok refuses for this publish id (400 `invalid_publish_id`, or
    /// `token_not_authorized_for_specified_publish_id`): not an outage; the post is as
    /// last known.
    #[error("publish id refused: {0}")]
    PublishIdRefused(&'static str),
    /// HTTP 429 / `rate_limit_exceeded`.
    #[error("rate limited")]
    RateLimited { retry_after: Option<u64> },
    /// The request never reached TikTok (no connection, or no time left to send it):
    /// an outage, and TikTok did nothing.
    #[error("not sent: {0}")]
    NotSent(String),
    /// 5xx, garbage, timeout, unreachable, or an error that is ours to fix
    /// (`invalid_params`, `invalid_client`): nothing the user can do.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What the endpoints need from TikTok.
pub trait TikTokApi: Send + Sync {
    fn user_info(
        &self,
        access_token: &str,
        fields: &[&str],
    ) -> impl std::future::Future<Output = Result<UserInfo, TikTokError>> + Send;

    fn refresh(
        &self,
        refresh_token: &str,
    ) -> impl std::future::Future<Output = Result<TokenGrant, TikTokError>> + Send;

    /// Exchanges an authorization code (with its PKCE verifier and the redirect URI of
    /// the authorize request) for the user's tokens.
    fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> impl std::future::Future<Output = Result<TokenGrant, TikTokError>> + Send;

    /// One page of the account's videos, newest first, before `cursor` (a millisecond
    /// timestamp; `None`: the newest).
    fn list_videos(
        &self,
        access_token: &str,
        cursor: Option<i64>,
        max_count: u32,
    ) -> impl std::future::Future<Output = Result<videos::VideoPage, TikTokError>> + Send;

    /// These videos of the account (at most 20 ids).
    fn query_videos(
        &self,
        access_token: &str,
        ids: &[String],
    ) -> impl std::future::Future<Output = Result<videos::VideoPage, TikTokError>> + Send;

    /// What the creator may post (`video.publish`).
    fn creator_info(
        &self,
        access_token: &str,
    ) -> impl std::future::Future<Output = Result<posting::CreatorInfo, TikTokError>> + Send;

    /// Initialises a post: its `publish_id`, and the upload URL for a FILE_UPLOAD.
    fn init_post(
        &self,
        access_token: &str,
        init: &posting::PostInit,
    ) -> impl std::future::Future<Output = Result<posting::InitAnswer, TikTokError>> + Send;

    /// PUTs one chunk of a FILE_UPLOAD, bytes `range` of a `total`-byte video, to the
    /// init's upload URL: TikTok's status (206 while chunks remain, 201 after the last).
    fn upload_chunk(
        &self,
        upload_url: &str,
        content_type: &str,
        range: (u64, u64),
        total: u64,
        bytes: bytes::Bytes,
    ) -> impl std::future::Future<Output = Result<u16, TikTokError>> + Send;

    /// Where a post is (`/v2/post/publish/status/fetch/`).
    fn post_status(
        &self,
        access_token: &str,
        publish_id: &str,
    ) -> impl std::future::Future<Output = Result<posting::PublishStatus, TikTokError>> + Send;

    /// Checks a webhook delivery's `TikTok-Signature` against its raw body (keyed with
    /// the app's client secret).
    fn verify_webhook(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), crate::webhook::SignatureError>;

    /// Ends the app's access (`/v2/oauth/revoke/`). `Ok(false)`: TikTok says the token
    /// was already invalid, so there was nothing left to revoke.
    fn revoke(
        &self,
        access_token: &str,
    ) -> impl std::future::Future<Output = Result<bool, TikTokError>> + Send;
}

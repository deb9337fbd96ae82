//! The identity-admin port: what the use cases need from Firebase Auth beyond ID
//! tokens, and its errors.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// Firebase (or Google's token endpoint) unreachable, failing or unreadable.
    #[error("identity service unavailable: {0}")]
    Unavailable(String),
    /// No usable service account: a configuration problem.
    #[error("service account unusable: {0}")]
    Config(String),
    #[error("invalid uid")]
    InvalidUid,
}

/// A Firebase user to create. The email is deliberately absent: an email TikTok never
/// proved must not become an identity on the Firebase user.
#[derive(Debug, Clone, Serialize)]
pub struct NewFirebaseUser {
    #[serde(rename = "localId")]
    pub uid: String,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "photoUrl", skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    #[serde(rename = "emailVerified")]
    pub email_verified: bool,
}

/// What sign-in needs from Firebase Auth.
pub trait IdentityAdmin: Send + Sync {
    /// Whether any Firebase user has this email.
    fn email_in_use(
        &self,
        email: &str,
    ) -> impl std::future::Future<Output = Result<bool, AdminError>> + Send;

    /// Creates the user; one that already exists with this uid counts as created, so a
    /// retry after a partial failure completes.
    fn create_user(
        &self,
        user: &NewFirebaseUser,
    ) -> impl std::future::Future<Output = Result<(), AdminError>> + Send;

    /// A custom token for `signInWithCustomToken`.
    fn custom_token(&self, uid: &str) -> Result<String, AdminError>;

    /// The user as Firebase holds it (`None`: no such user), for the checks the Admin
    /// SDKs make with `verifyIdToken(token, checkRevoked)` and for the last sign-in rule.
    fn account_state(
        &self,
        uid: &str,
    ) -> impl std::future::Future<Output = Result<Option<AccountState>, AdminError>> + Send;
}

/// What `accounts:lookup` says of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub disabled: bool,
    /// Sessions that signed in before this (Unix seconds) are revoked.
    pub valid_since: Option<i64>,
    /// The user has a sign-in provider of Firebase's own (password, Google, ...).
    pub has_provider: bool,
}

impl AccountState {
    /// Reads one `users[]` entry of an `accounts:lookup` answer.
    pub fn from_lookup(user: &serde_json::Value) -> AccountState {
        AccountState {
            disabled: user.get("disabled").and_then(|d| d.as_bool()) == Some(true),
            valid_since: user
                .get("validSince")
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_i64())),
            has_provider: user
                .get("providerUserInfo")
                .and_then(|p| p.as_array())
                .is_some_and(|p| !p.is_empty()),
        }
    }
}

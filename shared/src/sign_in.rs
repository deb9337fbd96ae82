//! Connecting a proved TikTok grant to the right user: the linking rules oauth-tiktok
//! and the server-side callback share. The open_id is TikTok's own answer (a proved
//! token, or the code exchange); the user is the linking session's, else the owner of a
//! sign-in-enabled connection, else a new user (see `tiktok_oauth_connect`).

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::{App, Ports, SessionAge};
use crate::error::ApiError;
use crate::firebase::{AdminError, IdentityAdmin, NewFirebaseUser};
use crate::store::{
    Caller, ConnectionStore, ConnectionSummary, NewTokens, OAuthConnect, OAuthOutcome, UserRow,
};
use crate::tiktok::{TokenGrant, UserInfo};

/// The `auth_provider` of users TikTok sign-in creates.
pub const AUTH_PROVIDER: &str = "tiktok.com";

/// The Firebase uid of a new user of this TikTok account: stable, so a retry after a
/// partial failure finds the same user, and well within Firebase's 128 characters.
pub fn derived_uid(open_id: &str) -> String {
    let digest = Sha256::digest(open_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("tiktok:{hex}")
}

/// Whether a brand-new user must give a contact email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewUserEmail {
    /// oauth-tiktok's contract: 400 `email_required` without one.
    Required,
    /// The server-side flow: TikTok gives no email, so none is asked for.
    Optional,
}

/// What is known of a new user beyond the TikTok profile (oauth-tiktok's body).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
}

/// A proved TikTok grant to connect: the tokens (plaintext, encrypted here), their
/// lifetimes, and the basic profile TikTok gave with them.
pub struct ProvedGrant<'a> {
    pub open_id: &'a str,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    pub scope: Option<String>,
    pub info: &'a UserInfo,
    /// The client's own metadata, stored with the connection.
    pub metadata: Option<serde_json::Value>,
}

impl<'a> ProvedGrant<'a> {
    /// A grant from TikTok's token endpoint, for this (already checked) open_id.
    pub fn from_token_grant(open_id: &'a str, grant: &'a TokenGrant, info: &'a UserInfo) -> Self {
        ProvedGrant {
            open_id,
            access_token: &grant.access_token,
            refresh_token: Some(&grant.refresh_token),
            expires_in: Some(grant.expires_in),
            refresh_expires_in: grant.refresh_expires_in,
            scope: grant.scope.clone(),
            info,
            metadata: None,
        }
    }
}

/// The user a grant was connected to, and the connection as list-connections shows it.
pub struct Connected {
    pub user: UserRow,
    pub connection: Option<ConnectionSummary>,
}

/// The answer of the sign-in endpoints. No `Debug`: it holds the custom token, and a
/// `{:?}` in a log line must not compile:
///
/// ```compile_fail
/// fn loggable<T: std::fmt::Debug>() {}
/// loggable::<shared::sign_in::SignedIn>();
/// ```
#[derive(Serialize)]
pub struct SignedIn {
    pub firebase_uid: String,
    pub user_id: i64,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub email_verified: bool,
    pub auth_provider: &'static str,
    pub firebase_token: Option<String>,
}

impl SignedIn {
    pub fn new(user: UserRow, info: &UserInfo, firebase_token: Option<String>) -> SignedIn {
        SignedIn {
            firebase_uid: user.firebase_uid,
            user_id: user.id,
            email: user.email,
            full_name: user.full_name.or_else(|| info.display_name.clone()),
            avatar_url: user.avatar_url.or_else(|| info.avatar_url.clone()),
            email_verified: user.email_verified.unwrap_or(false),
            auth_provider: AUTH_PROVIDER,
            firebase_token,
        }
    }
}

/// What a sign-in without a session learns once TikTok proved the token, from reads
/// only: whether the database would create a user (and whether the email is one of its
/// users'), and whether Firebase has a user with the email. Nothing is acted on before
/// the proof; a failed database read only means the usual path is taken.
pub struct Precheck<'a> {
    database: Result<OAuthOutcome, ApiError>,
    firebase_email_in_use: Option<EmailLookup<'a>>,
}

type Lookup<'a> = Pin<Box<dyn Future<Output = Result<bool, AdminError>> + Send + 'a>>;

/// Firebase's email lookup: answered already, or still in flight (awaited only if a new
/// user is needed; dropped, and so cancelled, otherwise).
enum EmailLookup<'a> {
    Done(Result<bool, AdminError>),
    Pending(Lookup<'a>),
}

impl<'a> Precheck<'a> {
    /// Reads, once TikTok proved the token, what signing in will need: the database's
    /// answer, with Firebase's lookup of `email` in flight meanwhile but never waited for
    /// here: a returning user does not need it, so a slow Firebase does not slow their
    /// sign-in.
    pub async fn read<P: Ports>(
        app: &'a App<P>,
        open_id: &str,
        email: Option<&'a str>,
    ) -> Precheck<'a> {
        let derived = derived_uid(open_id);
        let mut lookup: Option<Lookup<'a>> =
            email.map(|email| Box::pin(app.identity.email_in_use(email)) as Lookup<'a>);
        let mut answered = None;
        let database = app.store.sign_in_precheck(open_id, &derived, email);
        tokio::pin!(database);
        let database = loop {
            tokio::select! {
                done = &mut database => break done,
                found = async { lookup.as_mut().expect("enabled only while pending").await },
                    if lookup.is_some() && answered.is_none() => answered = Some(found),
            }
        };
        let firebase_email_in_use = match answered {
            Some(found) => Some(EmailLookup::Done(found)),
            None => lookup.map(EmailLookup::Pending),
        };
        Precheck {
            database: database.map_err(ApiError::from),
            firebase_email_in_use,
        }
    }
}

/// Connects the grant by the linking rules, creating the Firebase user first when a new
/// user is needed (with the derived uid, so a retry finds it). With a [`Precheck`] that
/// found a new user, the first `tiktok_oauth_connect` call and the email lookup are
/// already done: Firebase's user, then the rows (three round trips in sequence with
/// TikTok's proof, instead of five).
pub async fn connect<P: Ports>(
    app: &App<P>,
    grant: ProvedGrant<'_>,
    session: Option<&(Caller, SessionAge)>,
    new_user: NewUser,
    email_rule: NewUserEmail,
    precheck: Option<Precheck<'_>>,
) -> Result<Connected, ApiError> {
    let now = OffsetDateTime::now_utc();
    let later = |secs: i64| now + time::Duration::seconds(secs);
    let info = grant.info;
    let profile = serde_json::json!({
        "open_id": info.open_id,
        "union_id": info.union_id,
        "display_name": info.display_name,
        "avatar_url": info.avatar_url,
    });
    let mut args = OAuthConnect {
        open_id: grant.open_id.to_owned(),
        derived_uid: derived_uid(grant.open_id),
        tokens: NewTokens {
            access_token: app.cipher.encrypt(grant.access_token),
            refresh_token: grant.refresh_token.map(|t| app.cipher.encrypt(t)),
            expires_at: grant.expires_in.map(later),
            refresh_expires_at: grant.refresh_expires_in.map(later),
            scope: grant.scope,
        },
        profile: Some(profile),
        metadata: grant.metadata,
        new_email: new_user.email.clone(),
        new_full_name: new_user.full_name.or_else(|| info.display_name.clone()),
        new_avatar_url: new_user.avatar_url.or_else(|| info.avatar_url.clone()),
        ..OAuthConnect::default()
    };
    if let Some((caller, age)) = session {
        args.session_recent = *age == SessionAge::Recent;
        args.session_uid = Some(caller.firebase_uid.clone());
        args.session_email = caller.email.clone();
        args.session_email_verified = caller.email_verified;
        args.session_full_name = caller.name.clone();
        args.session_avatar_url = caller.picture.clone();
    }

    let (prechecked, firebase_email_in_use) = match precheck {
        Some(Precheck {
            database: Ok(found),
            firebase_email_in_use,
        }) if session.is_none() && found.needs_new_user => (Some(found), firebase_email_in_use),
        _ => (None, None),
    };
    // A racing sign-up after the precheck is found by the locked write below.
    let mut outcome = match prechecked {
        Some(found) => found,
        None => app.store.oauth_connect(&args).await?,
    };
    if outcome.needs_new_user {
        let email = new_user.email.as_deref();
        if email.is_none() && email_rule == NewUserEmail::Required {
            return Err(ApiError::email_required());
        }
        let taken = match email {
            Some(_) if outcome.email_in_use => true,
            Some(email) => match firebase_email_in_use {
                Some(EmailLookup::Done(found)) => found?,
                Some(EmailLookup::Pending(lookup)) => lookup.await?,
                None => app.identity.email_in_use(email).await?,
            },
            None => false,
        };
        if taken {
            return Err(ApiError::account_exists());
        }
        // The Firebase user first, with the derived uid: if the database write below
        // fails, a retry finds this user (DUPLICATE_LOCAL_ID counts as created).
        let new_user = NewFirebaseUser {
            uid: args.derived_uid.clone(),
            display_name: args.new_full_name.clone(),
            photo_url: args.new_avatar_url.clone(),
            email_verified: false,
        };
        app.identity.create_user(&new_user).await?;
        args.create = true;
        outcome = app.store.oauth_connect(&args).await?;
        tracing::info!("new user signed up with TikTok");
    }
    let user = outcome.user.ok_or_else(|| {
        tracing::error!("tiktok_oauth_connect answered without a user");
        ApiError::Internal
    })?;
    Ok(Connected {
        user,
        connection: outcome.connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uids_are_stable_and_short() {
        assert_eq!(derived_uid("open-1"), derived_uid("open-1"));
        assert_ne!(derived_uid("open-1"), derived_uid("open-2"));
        assert!(derived_uid(&"x".repeat(256)).len() <= 128);
    }
}

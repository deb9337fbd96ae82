//! An identity provider with a fixed set of sessions and users, for use-case and
//! handler tests without the Auth emulator: ID tokens it was told about verify as their
//! caller, every other token is refused; users it creates are kept, and custom tokens
//! name their uid. Test builds only.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{AccountState, AdminError, AuthError, IdTokenVerifier, IdentityAdmin, NewFirebaseUser};
use crate::store::Caller;

#[derive(Default)]
pub struct FixedIdentity {
    sessions: Mutex<HashMap<String, Caller>>,
    users: Mutex<HashSet<String>>,
    states: Mutex<HashMap<String, AccountState>>,
    emails: Mutex<HashSet<String>>,
    unavailable: Mutex<bool>,
    /// Calls of the admin API (each a round trip to Firebase in production).
    admin_calls: std::sync::atomic::AtomicUsize,
}

impl FixedIdentity {
    /// An ID token that verifies as `caller` (whose uid becomes a Firebase user).
    pub fn with_session(self, id_token: &str, caller: Caller) -> Self {
        self.users
            .lock()
            .unwrap()
            .insert(caller.firebase_uid.clone());
        if let Some(email) = &caller.email {
            self.emails.lock().unwrap().insert(email.to_lowercase());
        }
        self.sessions
            .lock()
            .unwrap()
            .insert(id_token.to_owned(), caller);
        self
    }

    /// What `account_state` answers for this user (by default: enabled, never revoked,
    /// no provider of Firebase's own).
    pub fn set_account_state(&self, uid: &str, state: AccountState) {
        self.states.lock().unwrap().insert(uid.to_owned(), state);
    }

    /// From now on every call fails as if Firebase were unreachable.
    pub fn go_down(&self) {
        *self.unavailable.lock().unwrap() = true;
    }

    /// How many admin API calls were made (email lookups, user creation, account states).
    pub fn admin_calls(&self) -> usize {
        self.admin_calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn has_user(&self, uid: &str) -> bool {
        self.users.lock().unwrap().contains(uid)
    }

    fn up(&self) -> Result<(), AdminError> {
        self.admin_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if *self.unavailable.lock().unwrap() {
            return Err(AdminError::Unavailable("scripted outage".into()));
        }
        Ok(())
    }
}

/// The custom token [`FixedIdentity`] mints for a uid.
pub fn custom_token_for(uid: &str) -> String {
    format!("custom-token-for:{uid}")
}

impl IdTokenVerifier for FixedIdentity {
    async fn verify_id_token(&self, token: &str) -> Result<Caller, AuthError> {
        if *self.unavailable.lock().unwrap() {
            return Err(AuthError::Unavailable("scripted outage".into()));
        }
        self.sessions
            .lock()
            .unwrap()
            .get(token)
            .cloned()
            .ok_or(AuthError::Invalid("unknown session"))
    }
}

impl IdentityAdmin for FixedIdentity {
    async fn email_in_use(&self, email: &str) -> Result<bool, AdminError> {
        self.up()?;
        Ok(self.emails.lock().unwrap().contains(&email.to_lowercase()))
    }

    async fn create_user(&self, user: &NewFirebaseUser) -> Result<(), AdminError> {
        self.up()?;
        self.users.lock().unwrap().insert(user.uid.clone());
        Ok(())
    }

    async fn account_state(&self, uid: &str) -> Result<Option<AccountState>, AdminError> {
        self.up()?;
        if !self.has_user(uid) {
            return Ok(None);
        }
        let states = self.states.lock().unwrap();
        Ok(Some(states.get(uid).cloned().unwrap_or_default()))
    }

    fn custom_token(&self, uid: &str) -> Result<String, AdminError> {
        if uid.is_empty() || uid.len() > super::MAX_UID_LEN {
            return Err(AdminError::InvalidUid);
        }
        Ok(custom_token_for(uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn known_sessions_verify_and_others_do_not() {
        let caller = Caller {
            firebase_uid: "u1".into(),
            email: Some("A@example.com".into()),
            ..Caller::default()
        };
        let identity = FixedIdentity::default().with_session("tok", caller);
        assert_eq!(
            identity.verify_id_token("tok").await.unwrap().firebase_uid,
            "u1"
        );
        assert!(identity.verify_id_token("other").await.is_err());
        assert!(identity.email_in_use("a@example.com").await.unwrap());
        let new = NewFirebaseUser {
            uid: "u2".into(),
            display_name: None,
            photo_url: None,
            email_verified: false,
        };
        identity.create_user(&new).await.unwrap();
        assert!(identity.has_user("u2"));
        assert_eq!(identity.custom_token("u2").unwrap(), custom_token_for("u2"));
        identity.go_down();
        assert!(matches!(
            identity.verify_id_token("tok").await,
            Err(AuthError::Unavailable(_))
        ));
    }
}

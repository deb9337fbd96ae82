//! An in-memory store that keeps the rules of the SQL functions (one owner per TikTok
//! account, one primary per user and provider, compare-and-swap of tokens, the
//! sign-in user choice), so use cases and handlers can be tested without a database.
//! Test builds only (feature `testing`): never in a shipped binary.

use std::sync::Mutex;

use time::OffsetDateTime;

use super::*;

mod analytics;
mod capacity;
mod health;
mod media;
mod oauth_states;
mod posts;
mod schedule;
mod state;
mod tokens;
use state::{check_metadata, in_use, set_profile, State};

/// The in-memory store. `fail_next` makes the next calls fail as an outage would.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    failures: Mutex<u32>,
    /// Every call of a port method (each a database round trip in production).
    calls: std::sync::atomic::AtomicUsize,
}

impl MemoryStore {
    /// The next `n` calls fail as if the database were unreachable.
    pub fn fail_next(&self, n: u32) {
        *self.failures.lock().unwrap() = n;
    }

    /// How many port calls were made (each a PostgREST round trip in production).
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many of the scripted failures are still to come.
    pub fn remaining_failures(&self) -> u32 {
        *self.failures.lock().unwrap()
    }

    /// Puts a row in as it is (a legacy row, an expired token, another writer's work).
    pub fn put(&self, connection: Connection) {
        let mut state = self.state.lock().unwrap();
        state.next_id = state.next_id.max(connection.id);
        state.connections.insert(connection.id, connection);
    }

    /// The row as it now is.
    pub fn row(&self, id: i64) -> Option<Connection> {
        self.state.lock().unwrap().connections.get(&id).cloned()
    }

    /// Every row of one TikTok account (at most one, by the ownership rule).
    pub fn tiktok_rows(&self, open_id: &str) -> Vec<Connection> {
        let state = self.state.lock().unwrap();
        state
            .connections
            .values()
            .filter(|c| c.provider == "tiktok" && c.provider_account_id == open_id)
            .cloned()
            .collect()
    }

    /// Whether a refused refresh was recorded for the row.
    pub fn is_marked_reauth(&self, id: i64) -> bool {
        self.state.lock().unwrap().reauth_required.contains_key(&id)
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(StoreError::Unavailable("scripted outage".into()));
        }
        Ok(self.state.lock().unwrap())
    }
}

impl ConnectionStore for MemoryStore {
    async fn tiktok_connection(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> Result<CallerConnection, StoreError> {
        let mut state = self.state()?;
        let user_id = state.ensure_user(caller);
        let connection = state
            .ranked(user_id, "tiktok")
            .into_iter()
            .find(|c| account_id.is_none_or(|a| c.provider_account_id == a))
            .cloned();
        let only_sign_in_method = connection
            .as_ref()
            .is_some_and(|c| state.only_sign_in_method(c));
        Ok(CallerConnection {
            user_id,
            connection,
            only_sign_in_method,
        })
    }

    async fn store_connection(
        &self,
        caller: &Caller,
        new: &NewConnection,
    ) -> Result<StoredConnection, StoreError> {
        let mut state = self.state()?;
        let user = state.ensure_user(caller);
        if new.provider == "tiktok"
            && state
                .tiktok_owner(&new.provider_account_id)
                .is_some_and(|owner| owner != user)
        {
            return Err(in_use("tiktok_account_in_use"));
        }
        let mut new = new.clone();
        if let Some(meta) = new.metadata.as_mut().and_then(|m| m.as_object_mut()) {
            meta.remove("profile");
        }
        new.sign_in &= new.provider == "tiktok";
        let existing = state.find(user, &new.provider, &new.provider_account_id);
        let id = match existing {
            Some(id) => {
                state.write(id, &new)?;
                id
            }
            None => state.insert(user, &new)?,
        };
        if new.is_primary == Some(true) {
            state.make_primary(id);
        }
        Ok(StoredConnection {
            created: existing.is_none(),
            connection: state.connections[&id].clone(),
        })
    }

    async fn sign_in_precheck(
        &self,
        open_id: &str,
        derived_uid: &str,
        email: Option<&str>,
    ) -> Result<OAuthOutcome, StoreError> {
        let state = self.state()?;
        let owned = state
            .connections
            .values()
            .any(|c| c.provider == "tiktok" && c.provider_account_id == open_id);
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        Ok(OAuthOutcome {
            needs_new_user: !owned && state.user_by_uid(derived_uid).is_none(),
            email_in_use: email.is_some_and(|e| state.email_taken(e)),
            ..OAuthOutcome::default()
        })
    }

    async fn oauth_connect(&self, args: &OAuthConnect) -> Result<OAuthOutcome, StoreError> {
        let mut state = self.state()?;
        let owned = state
            .connections
            .values()
            .find(|c| c.provider == "tiktok" && c.provider_account_id == args.open_id)
            .cloned();
        let owner = owned.as_ref().map(|c| c.user_id);
        let mut sign_in = false;
        let email = args
            .new_email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let mut created_user = false;
        let user = if let Some(uid) = args.session_uid.as_deref().filter(|u| !u.is_empty()) {
            let user = state.ensure_user(&Caller {
                firebase_uid: uid.into(),
                email: args.session_email.clone(),
                email_verified: args.session_email_verified,
                name: args.session_full_name.clone(),
                picture: args.session_avatar_url.clone(),
                auth_time: None,
            });
            if owner.is_some_and(|o| o != user) {
                return Err(in_use("tiktok_account_in_use"));
            }
            sign_in = args.session_recent;
            user
        } else if let Some(owned) = owned {
            if !owned.sign_in_enabled {
                return Err(in_use("tiktok_sign_in_not_enabled"));
            }
            owned.user_id
        } else if state.user_by_uid(&args.derived_uid).is_some() {
            return Err(in_use("tiktok_account_disconnected"));
        } else {
            if !args.create {
                return Ok(OAuthOutcome {
                    needs_new_user: true,
                    email_in_use: email.is_some_and(|e| state.email_taken(e)),
                    created_user: false,
                    user: None,
                    connection: None,
                });
            }

            if email.is_some_and(|e| state.email_taken(e)) {
                return Err(in_use("account_exists"));
            }
            let id = state.ensure_user(&Caller {
                firebase_uid: args.derived_uid.clone(),
                email: email.map(str::to_owned),
                email_verified: false,
                name: args.new_full_name.clone(),
                picture: args.new_avatar_url.clone(),
                auth_time: None,
            });
            if let Some(user) = state.users.iter_mut().find(|u| u.row.id == id) {
                user.auth_provider = Some("tiktok.com".into());
            }
            created_user = true;
            sign_in = true;
            id
        };
        let mut metadata = args
            .metadata
            .clone()
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(meta) = metadata.as_object_mut() {
            meta.remove("profile");
            if let Some(profile) = &args.profile {
                meta.insert("profile".into(), profile.clone());
            }
        }
        let new = NewConnection {
            provider: "tiktok".into(),
            provider_account_id: args.open_id.clone(),
            tokens: args.tokens.clone(),
            metadata: Some(metadata),
            sign_in,
            ..NewConnection::default()
        };
        let id = match state.find(user, "tiktok", &args.open_id) {
            Some(id) => {
                state.write(id, &new)?;
                id
            }
            None => state.insert(user, &new)?,
        };
        let connection = Some(state.summary(&state.connections[&id], OffsetDateTime::now_utc()));
        let row = state
            .users
            .iter()
            .find(|u| u.row.id == user)
            .map(|u| u.row.clone());
        Ok(OAuthOutcome {
            needs_new_user: false,
            email_in_use: false,
            created_user,
            user: row,
            connection,
        })
    }

    async fn list_connections(
        &self,
        caller: &Caller,
    ) -> Result<Vec<ConnectionSummary>, StoreError> {
        let mut state = self.state()?;
        let user = state.ensure_user(caller);
        let now = OffsetDateTime::now_utc();
        let mut providers: Vec<String> = state
            .connections
            .values()
            .filter(|c| c.user_id == user)
            .map(|c| c.provider.clone())
            .collect();
        providers.sort();
        providers.dedup();
        Ok(providers
            .iter()
            .flat_map(|p| state.ranked(user, p))
            .map(|c| state.summary(c, now))
            .collect())
    }

    async fn update_connection(
        &self,
        caller: &Caller,
        update: &ConnectionUpdate,
    ) -> Result<Option<ConnectionSummary>, StoreError> {
        let mut state = self.state()?;
        let user = state.ensure_user(caller);
        let Some(id) = state.find(user, &update.provider, &update.account_id) else {
            return Ok(None);
        };
        if let Some(c) = state.connections.get_mut(&id) {
            c.account_label = update.account_label.clone().or(c.account_label.take());
            c.account_type = update.account_type.clone().or(c.account_type.take());
            c.updated_at = Some(OffsetDateTime::now_utc());
        }
        if update.make_primary {
            state.make_primary(id);
        }
        Ok(Some(state.summary(
            &state.connections[&id],
            OffsetDateTime::now_utc(),
        )))
    }

    async fn delete_connection(
        &self,
        id: i64,
        user_id: i64,
        sign_in: OtherSignIn,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(row) = state.connections.get(&id).filter(|c| c.user_id == user_id) else {
            return Ok(false);
        };
        if sign_in == OtherSignIn::Unknown && state.only_sign_in_method(row) {
            return Err(in_use("last_sign_in_method"));
        }
        let Some(gone) = state.connections.remove(&id) else {
            return Ok(false);
        };
        state.reauth_required.remove(&id);
        if gone.is_primary == Some(true) {
            let next = state.ranked(user_id, &gone.provider).first().map(|c| c.id);
            if let Some(next) = next {
                state.make_primary(next);
            }
        }
        Ok(true)
    }

    async fn cache_profile(&self, id: i64, profile: &serde_json::Value) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(c) = state.connections.get_mut(&id) {
            set_profile(c, profile);
        }
        Ok(())
    }

    async fn store_client_profile(
        &self,
        caller: &Caller,
        open_id: &str,
        profile: &serde_json::Value,
    ) -> Result<Option<Connection>, StoreError> {
        let mut state = self.state()?;
        let user = state.ensure_user(caller);
        let Some(id) = state.find(user, "tiktok", open_id) else {
            return Ok(None);
        };
        let c = state.connections.get_mut(&id).map(|c| {
            let before = c.metadata.clone();
            set_profile(c, profile);
            let checked = c.metadata.as_ref().map(check_metadata).transpose();
            if checked.is_err() {
                c.metadata = before;
            }
            checked.map(|_| c.clone())
        });
        c.transpose()
    }
}

#[cfg(test)]
mod tests;

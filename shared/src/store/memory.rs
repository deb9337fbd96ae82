//! An in-memory store that keeps the rules of the SQL functions (one owner per TikTok
//! account, one primary per user and provider, compare-and-swap of tokens, the
//! sign-in user choice), so use cases and handlers can be tested without a database.
//! Test builds only (feature `testing`): never in a shipped binary.

use std::collections::BTreeMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::*;

#[derive(Debug, Clone)]
struct User {
    row: UserRow,
    auth_provider: Option<String>,
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    connections: BTreeMap<i64, Connection>,
    reauth_required: BTreeMap<i64, OffsetDateTime>,
    next_id: i64,
}

/// The in-memory store. `fail_next` makes the next calls fail as an outage would.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    failures: Mutex<u32>,
}

fn in_use(code: &str) -> StoreError {
    StoreError::Conflict {
        code: "PT409".into(),
        message: code.into(),
    }
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn ensure_user(&mut self, caller: &Caller) -> i64 {
        if let Some(user) = self.user_by_uid(&caller.firebase_uid) {
            return user.row.id;
        }
        let id = self.id();
        let verified_taken = caller.email_verified
            && self.users.iter().any(|u| {
                u.row.email_verified == Some(true)
                    && u.row.email.as_deref().map(str::to_lowercase)
                        == caller.email.as_deref().map(str::to_lowercase)
            });
        self.users.push(User {
            row: UserRow {
                id,
                firebase_uid: caller.firebase_uid.clone(),
                email: caller.email.clone(),
                email_verified: Some(caller.email_verified && !verified_taken),
                full_name: caller.name.clone(),
                avatar_url: caller.picture.clone(),
            },
            auth_provider: None,
        });
        id
    }

    fn user_by_uid(&self, uid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.row.firebase_uid == uid)
    }

    fn email_taken(&self, email: &str) -> bool {
        self.users.iter().any(|u| {
            u.row
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }

    fn find(&self, user: i64, provider: &str, account: &str) -> Option<i64> {
        self.connections
            .values()
            .find(|c| {
                c.user_id == user && c.provider == provider && c.provider_account_id == account
            })
            .map(|c| c.id)
    }

    fn tiktok_owner(&self, open_id: &str) -> Option<i64> {
        self.connections
            .values()
            .find(|c| c.provider == "tiktok" && c.provider_account_id == open_id)
            .map(|c| c.user_id)
    }

    /// The user's connections of a provider, primary first, then most recently updated.
    fn ranked(&self, user: i64, provider: &str) -> Vec<&Connection> {
        let mut rows: Vec<&Connection> = self
            .connections
            .values()
            .filter(|c| c.user_id == user && c.provider == provider)
            .collect();
        rows.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.is_primary.unwrap_or(false)),
                std::cmp::Reverse(c.updated_at),
                std::cmp::Reverse(c.id),
            )
        });
        rows
    }

    fn make_primary(&mut self, id: i64) {
        let Some(conn) = self.connections.get(&id).cloned() else {
            return;
        };
        for other in self.connections.values_mut() {
            if other.user_id == conn.user_id && other.provider == conn.provider {
                other.is_primary = Some(other.id == id);
            }
        }
    }

    /// Writes tokens and what came with them, as `store_connection` and sign-in do.
    fn write(&mut self, id: i64, new: &NewConnection) {
        let now = OffsetDateTime::now_utc();
        self.reauth_required.remove(&id);
        let Some(c) = self.connections.get_mut(&id) else {
            return;
        };
        c.access_token = Some(new.access_token.clone());
        if let Some(refresh) = new.refresh_token.clone().filter(|r| !r.is_empty()) {
            c.refresh_token = Some(refresh);
            c.refresh_expires_at = new.refresh_expires_at;
        }
        c.expires_at = new.expires_at.or(c.expires_at);
        c.scope = new.scope.clone().or(c.scope.take());
        c.account_label = new.account_label.clone().or(c.account_label.take());
        c.account_type = new.account_type.clone().or(c.account_type.take());
        let mut meta = c.metadata.take().unwrap_or_else(|| serde_json::json!({}));
        if let (Some(target), Some(serde_json::Value::Object(extra))) =
            (meta.as_object_mut(), new.metadata.clone())
        {
            target.extend(extra);
        }
        c.metadata = Some(meta);
        c.updated_at = Some(now);
    }

    fn insert(&mut self, user: i64, new: &NewConnection) -> i64 {
        let id = self.id();
        let now = OffsetDateTime::now_utc();
        let first = self.ranked(user, &new.provider).is_empty();
        self.connections.insert(
            id,
            Connection {
                id,
                user_id: user,
                provider: new.provider.clone(),
                provider_account_id: new.provider_account_id.clone(),
                access_token: None,
                refresh_token: None,
                expires_at: None,
                refresh_expires_at: None,
                scope: None,
                account_label: None,
                account_type: None,
                is_primary: Some(first),
                metadata: None,
                created_at: Some(now),
                updated_at: Some(now),
            },
        );
        self.write(id, new);
        id
    }

    fn summary(&self, c: &Connection, now: OffsetDateTime) -> ConnectionSummary {
        let expired = c.expires_at.is_some_and(|at| at <= now);
        let refreshable = c.refresh_token.as_deref().is_some_and(|r| !r.is_empty());
        let status = if self.reauth_required.contains_key(&c.id)
            || c.refresh_expires_at.is_some_and(|at| at <= now)
            || (expired && !refreshable)
        {
            "reauth_required"
        } else if expired {
            "expired"
        } else {
            "active"
        };
        let profile = |key: &str| {
            c.metadata
                .as_ref()
                .and_then(|m| m.get("profile"))
                .and_then(|p| p.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        ConnectionSummary {
            id: c.id,
            provider: c.provider.clone(),
            provider_account_id: c.provider_account_id.clone(),
            account_label: c.account_label.clone(),
            account_type: c.account_type.clone(),
            is_primary: c.is_primary.unwrap_or(false),
            expires_at: c.expires_at,
            refresh_expires_at: c.refresh_expires_at,
            scope: c.scope.clone(),
            status: status.into(),
            display_name: profile("display_name"),
            avatar_url: profile("avatar_url"),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl MemoryStore {
    /// The next `n` calls fail as if the database were unreachable.
    pub fn fail_next(&self, n: u32) {
        *self.failures.lock().unwrap() = n;
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
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(StoreError::Unavailable("scripted outage".into()));
        }
        Ok(self.state.lock().unwrap())
    }
}

impl TokenStore for MemoryStore {
    async fn connection_by_id(&self, id: i64) -> Result<Option<Connection>, StoreError> {
        Ok(self.state()?.connections.get(&id).cloned())
    }

    async fn swap_tokens(
        &self,
        id: i64,
        expected: &str,
        update: &TokenUpdate,
    ) -> Result<SwapOutcome, StoreError> {
        let mut state = self.state()?;
        let swapped = state
            .connections
            .get(&id)
            .is_some_and(|c| c.refresh_token.as_deref() == Some(expected));
        if swapped {
            state.reauth_required.remove(&id);
            if let Some(c) = state.connections.get_mut(&id) {
                c.access_token = Some(update.access_token.clone());
                c.refresh_token = Some(update.refresh_token.clone());
                c.expires_at = update.expires_at;
                c.refresh_expires_at = update.refresh_expires_at;
                c.scope = update.scope.clone().or(c.scope.take());
                c.updated_at = Some(OffsetDateTime::now_utc());
            }
        }
        Ok(SwapOutcome {
            swapped,
            connection: state.connections.get(&id).cloned(),
        })
    }

    async fn mark_reauth_required(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let same = state
            .connections
            .get(&id)
            .is_some_and(|c| c.refresh_token.as_deref() == Some(refresh_token));
        if same {
            state
                .reauth_required
                .entry(id)
                .or_insert_with(OffsetDateTime::now_utc);
        }
        Ok(())
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
        Ok(CallerConnection {
            user_id,
            connection,
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
        let existing = state.find(user, &new.provider, &new.provider_account_id);
        let id = match existing {
            Some(id) => {
                state.write(id, &new);
                id
            }
            None => state.insert(user, &new),
        };
        if new.is_primary == Some(true) {
            state.make_primary(id);
        }
        Ok(StoredConnection {
            created: existing.is_none(),
            connection: state.connections[&id].clone(),
        })
    }

    async fn oauth_connect(&self, args: &OAuthConnect) -> Result<OAuthOutcome, StoreError> {
        let mut state = self.state()?;
        let owner = state.tiktok_owner(&args.open_id);
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
            });
            if owner.is_some_and(|o| o != user) {
                return Err(in_use("tiktok_account_in_use"));
            }
            user
        } else if let Some(owner) = owner {
            owner
        } else if let Some(user) = state.user_by_uid(&args.derived_uid) {
            user.row.id
        } else {
            if !args.create {
                return Ok(OAuthOutcome {
                    needs_new_user: true,
                    email_in_use: email.is_some_and(|e| state.email_taken(e)),
                    created_user: false,
                    user: None,
                });
            }
            let email = email.ok_or_else(|| StoreError::Rejected {
                status: 400,
                code: "22023".into(),
                message: "email_required".into(),
            })?;
            if state.email_taken(email) {
                return Err(in_use("account_exists"));
            }
            let id = state.ensure_user(&Caller {
                firebase_uid: args.derived_uid.clone(),
                email: Some(email.to_owned()),
                email_verified: false,
                name: args.new_full_name.clone(),
                picture: args.new_avatar_url.clone(),
            });
            if let Some(user) = state.users.iter_mut().find(|u| u.row.id == id) {
                user.auth_provider = Some("tiktok.com".into());
            }
            created_user = true;
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
            access_token: args.access_token.clone(),
            refresh_token: args.refresh_token.clone(),
            expires_at: args.expires_at,
            refresh_expires_at: args.refresh_expires_at,
            scope: args.scope.clone(),
            metadata: Some(metadata),
            ..NewConnection::default()
        };
        match state.find(user, "tiktok", &args.open_id) {
            Some(id) => state.write(id, &new),
            None => {
                state.insert(user, &new);
            }
        }
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

    async fn delete_connection(&self, id: i64, user_id: i64) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let owned = state
            .connections
            .get(&id)
            .is_some_and(|c| c.user_id == user_id);
        if !owned {
            return Ok(false);
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
            set_profile(c, profile);
            c.clone()
        });
        Ok(c)
    }
}

fn set_profile(c: &mut Connection, profile: &serde_json::Value) {
    let meta = c.metadata.get_or_insert_with(|| serde_json::json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("profile".into(), profile.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uid: &str) -> Caller {
        Caller {
            firebase_uid: uid.into(),
            ..Caller::default()
        }
    }

    fn tiktok(open_id: &str, token: &str) -> NewConnection {
        NewConnection {
            provider: "tiktok".into(),
            provider_account_id: open_id.into(),
            access_token: token.into(),
            refresh_token: Some(format!("r-{token}")),
            ..NewConnection::default()
        }
    }

    #[tokio::test]
    async fn a_tiktok_account_has_one_owner_and_the_first_is_primary() {
        let store = MemoryStore::default();
        let a = store
            .store_connection(&caller("a"), &tiktok("o1", "t1"))
            .await
            .unwrap();
        assert!(a.created && a.connection.is_primary == Some(true));
        let second = store
            .store_connection(&caller("a"), &tiktok("o2", "t2"))
            .await
            .unwrap();
        assert_eq!(second.connection.is_primary, Some(false));
        let err = store
            .store_connection(&caller("b"), &tiktok("o1", "t3"))
            .await
            .unwrap_err();
        assert_eq!(err, in_use("tiktok_account_in_use"));
        let again = store
            .store_connection(&caller("a"), &tiktok("o1", "t4"))
            .await
            .unwrap();
        assert!(!again.created);
        assert_eq!(again.connection.access_token.as_deref(), Some("t4"));
    }

    #[tokio::test]
    async fn one_primary_moves_and_is_handed_on_at_delete() {
        let store = MemoryStore::default();
        let me = caller("a");
        let first = store
            .store_connection(&me, &tiktok("o1", "t1"))
            .await
            .unwrap();
        store
            .store_connection(&me, &tiktok("o2", "t2"))
            .await
            .unwrap();
        let update = ConnectionUpdate {
            provider: "tiktok".into(),
            account_id: "o2".into(),
            make_primary: true,
            ..ConnectionUpdate::default()
        };
        let view = store
            .update_connection(&me, &update)
            .await
            .unwrap()
            .unwrap();
        assert!(view.is_primary);
        let listed = store.list_connections(&me).await.unwrap();
        assert_eq!(listed.iter().filter(|c| c.is_primary).count(), 1);
        let chosen = store.tiktok_connection(&me, None).await.unwrap();
        let primary = chosen.connection.unwrap();
        assert_eq!(primary.provider_account_id, "o2");
        assert!(store
            .delete_connection(primary.id, chosen.user_id)
            .await
            .unwrap());
        assert_eq!(
            store.row(first.connection.id).unwrap().is_primary,
            Some(true)
        );
        assert!(!store
            .delete_connection(primary.id, chosen.user_id)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn swaps_compare_the_stored_refresh_token() {
        let store = MemoryStore::default();
        let id = store
            .store_connection(&caller("a"), &tiktok("o1", "t1"))
            .await
            .unwrap()
            .connection
            .id;
        let update = TokenUpdate {
            access_token: "t2".into(),
            refresh_token: "r2".into(),
            expires_at: None,
            refresh_expires_at: None,
            scope: None,
        };
        assert!(
            !store
                .swap_tokens(id, "stale", &update)
                .await
                .unwrap()
                .swapped
        );
        store.mark_reauth_required(id, "r-t1").await.unwrap();
        assert!(store.is_marked_reauth(id));
        assert!(
            store
                .swap_tokens(id, "r-t1", &update)
                .await
                .unwrap()
                .swapped
        );
        assert!(!store.is_marked_reauth(id), "new tokens clear the mark");
        store.fail_next(1);
        assert!(matches!(
            store.connection_by_id(id).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(store.connection_by_id(id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn sign_in_chooses_the_owner_or_asks_for_a_new_user() {
        let store = MemoryStore::default();
        let mut args = OAuthConnect {
            open_id: "o1".into(),
            access_token: "t".into(),
            derived_uid: "tiktok:1".into(),
            new_email: Some("a@example.com".into()),
            ..OAuthConnect::default()
        };
        let first = store.oauth_connect(&args).await.unwrap();
        assert!(first.needs_new_user && !first.email_in_use);
        args.create = true;
        let created = store.oauth_connect(&args).await.unwrap();
        assert!(created.created_user);
        args.create = false;
        let again = store.oauth_connect(&args).await.unwrap();
        assert_eq!(again.user.unwrap().firebase_uid, "tiktok:1");
        args.session_uid = Some("someone-else".into());
        assert_eq!(
            store.oauth_connect(&args).await.unwrap_err(),
            in_use("tiktok_account_in_use")
        );
        let other = OAuthConnect {
            open_id: "o2".into(),
            derived_uid: "tiktok:2".into(),
            new_email: Some("A@example.com".into()),
            create: true,
            ..OAuthConnect::default()
        };
        assert_eq!(
            store.oauth_connect(&other).await.unwrap_err(),
            in_use("account_exists")
        );
    }
}

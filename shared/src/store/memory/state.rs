//! The in-memory store's rows and the rules the SQL functions keep: user rows, the
//! primary flag, the one writer of a connection row, the bounds, the account view.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::store::*;

#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) row: UserRow,
    pub(super) auth_provider: Option<String>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) users: Vec<User>,
    pub(super) connections: BTreeMap<i64, Connection>,
    pub(super) reauth_required: BTreeMap<i64, OffsetDateTime>,
    pub(super) next_id: i64,
    /// Open authorization states: the state, when it was made, when it expires.
    pub(super) oauth_states: Vec<(NewOAuthState, OffsetDateTime, OffsetDateTime)>,
    /// Webhook deliveries seen (their keys).
    pub(super) webhook_keys: std::collections::BTreeSet<String>,
    /// Sweep claims: connection id -> leased until.
    pub(super) claims: BTreeMap<i64, OffsetDateTime>,
    /// Refresh leases: connection id -> held until.
    pub(super) refreshing: BTreeMap<i64, OffsetDateTime>,
    /// Posts made (and reserved), oldest first.
    pub(super) posts: Vec<super::posts::MemPost>,
    /// Media rows, oldest first.
    pub(super) media: Vec<MediaRow>,
    /// UNCONFIRMED posts: post id -> when they are looked for next.
    pub(super) reconcile_at: BTreeMap<String, OffsetDateTime>,
    /// Posts on their way: post id -> when TikTok was last asked about them.
    pub(super) settle_at: BTreeMap<String, OffsetDateTime>,
    /// HELD posts: post id -> held since.
    pub(super) held_since: BTreeMap<String, OffsetDateTime>,
    /// Inits sent: (connection id, mode, when), oldest first.
    pub(super) ledger: Vec<(i64, String, OffsetDateTime)>,
    /// Status calls sent: (connection id, when), oldest first.
    pub(super) status_calls: Vec<(i64, OffsetDateTime)>,
    /// Daily caps observed: connection id -> (cap, when).
    pub(super) daily_caps: BTreeMap<i64, (i64, OffsetDateTime)>,
    /// Per app: (unaudited seen, active user cap seen).
    pub(super) app_flags: BTreeMap<String, (Option<OffsetDateTime>, Option<OffsetDateTime>)>,
    /// The analytics history.
    pub(super) analytics: super::analytics::AnalyticsState,
}

/// The database's bound on a connection's metadata (64 KiB).
pub(super) fn check_metadata(meta: &serde_json::Value) -> Result<(), StoreError> {
    if meta.to_string().len() >= 65536 {
        return Err(StoreError::Rejected {
            status: 413,
            code: "PT413".into(),
            message: "payload_too_large".into(),
        });
    }
    Ok(())
}

pub(super) fn in_use(code: &str) -> StoreError {
    StoreError::Conflict {
        code: "PT409".into(),
        message: code.into(),
    }
}

impl State {
    pub(super) fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn ensure_user(&mut self, caller: &Caller) -> i64 {
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

    pub(super) fn user_by_uid(&self, uid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.row.firebase_uid == uid)
    }

    pub(super) fn email_taken(&self, email: &str) -> bool {
        self.users.iter().any(|u| {
            u.row
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }

    pub(super) fn find(&self, user: i64, provider: &str, account: &str) -> Option<i64> {
        self.connections
            .values()
            .find(|c| {
                c.user_id == user && c.provider == provider && c.provider_account_id == account
            })
            .map(|c| c.id)
    }

    pub(super) fn tiktok_owner(&self, open_id: &str) -> Option<i64> {
        self.connections
            .values()
            .find(|c| c.provider == "tiktok" && c.provider_account_id == open_id)
            .map(|c| c.user_id)
    }

    /// The user's connections of a provider, primary first, then most recently updated.
    pub(super) fn ranked(&self, user: i64, provider: &str) -> Vec<&Connection> {
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

    pub(super) fn make_primary(&mut self, id: i64) {
        let Some(conn) = self.connections.get(&id).cloned() else {
            return;
        };
        for other in self.connections.values_mut() {
            if other.user_id == conn.user_id && other.provider == conn.provider {
                other.is_primary = Some(other.id == id);
            }
        }
    }

    /// Writes tokens and what came with them, as `put_connection` does; the metadata
    /// bound is checked before anything changes.
    pub(super) fn write(&mut self, id: i64, new: &NewConnection) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        let Some(c) = self.connections.get_mut(&id) else {
            return Ok(());
        };
        let mut meta = c.metadata.clone().unwrap_or_else(|| serde_json::json!({}));
        if let (Some(target), Some(serde_json::Value::Object(extra))) =
            (meta.as_object_mut(), new.metadata.clone())
        {
            target.extend(extra);
        }
        check_metadata(&meta)?;
        c.metadata = Some(meta);
        c.access_token = Some(new.tokens.access_token.clone());
        if let Some(refresh) = new.tokens.refresh_token.clone().filter(|r| !r.is_empty()) {
            c.refresh_token = Some(refresh);
            c.refresh_expires_at = new.tokens.refresh_expires_at;
        }
        c.expires_at = new.tokens.expires_at.or(c.expires_at);
        c.scope = new.tokens.scope.clone().or(c.scope.take());
        c.account_label = new.account_label.clone().or(c.account_label.take());
        c.account_type = new.account_type.clone().or(c.account_type.take());
        c.sign_in_enabled |= new.sign_in;
        c.updated_at = Some(now);
        c.revoked_at = None;
        c.revoked_reason = None;
        c.refreshed_at = Some(now);
        self.claims.remove(&id);
        self.refreshing.remove(&id);
        self.reauth_required.remove(&id);
        Ok(())
    }

    /// The database's `only_sign_in_method`.
    pub(super) fn only_sign_in_method(&self, c: &Connection) -> bool {
        let tiktok_user = self
            .users
            .iter()
            .any(|u| u.row.id == c.user_id && u.auth_provider.as_deref() == Some("tiktok.com"));
        c.provider == "tiktok"
            && c.sign_in_enabled
            && tiktok_user
            && !self.connections.values().any(|o| {
                o.user_id == c.user_id
                    && o.provider == "tiktok"
                    && o.sign_in_enabled
                    && o.id != c.id
            })
    }

    /// Creates the row (and writes it); at most 50 per user and provider.
    pub(super) fn insert(&mut self, user: i64, new: &NewConnection) -> Result<i64, StoreError> {
        if self.ranked(user, &new.provider).len() >= 50 {
            return Err(in_use("too_many_connections"));
        }
        if let Some(meta) = &new.metadata {
            check_metadata(meta)?;
        }
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
                sign_in_enabled: false,
                revoked_at: None,
                revoked_reason: None,
                refreshed_at: Some(now),
                metadata: None,
                created_at: Some(now),
                updated_at: Some(now),
            },
        );
        self.write(id, new)?;
        Ok(id)
    }

    pub(super) fn summary(&self, c: &Connection, now: OffsetDateTime) -> ConnectionSummary {
        let expired = c.expires_at.is_some_and(|at| at <= now);
        let refreshable = c.refresh_token.as_deref().is_some_and(|r| !r.is_empty());
        let expiring = c
            .refresh_expires_at
            .is_some_and(|at| at <= now + time::Duration::days(14));
        let status = if c.revoked_at.is_some() {
            "revoked"
        } else if self.reauth_required.contains_key(&c.id)
            || c.refresh_expires_at.is_some_and(|at| at <= now)
            || (expired && !refreshable)
        {
            "reauth_required"
        } else if expiring {
            "expiring"
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
            sign_in_enabled: c.sign_in_enabled,
            expires_at: c.expires_at,
            refresh_expires_at: c.refresh_expires_at,
            scope: c.scope.clone(),
            status: status.into(),
            revoked_reason: c
                .revoked_reason
                .and_then(revoked_reason_name)
                .map(str::to_owned),
            display_name: profile("display_name"),
            avatar_url: profile("avatar_url"),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

pub(super) fn set_profile(c: &mut Connection, profile: &serde_json::Value) {
    let meta = c.metadata.get_or_insert_with(|| serde_json::json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("profile".into(), profile.clone());
    }
}

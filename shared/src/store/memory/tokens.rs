//! The in-memory token writes: the refresh's compare-and-swap and marking
//! re-authorization, with the SQL functions' rules.

use time::OffsetDateTime;

use super::state::State;
use super::MemoryStore;

/// As `begin_refresh`'s default in SQL.
const REFRESH_LEASE: time::Duration = time::Duration::seconds(30);
use crate::store::*;

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
        let swapped = holds(&state, id, expected);
        if swapped {
            state.reauth_required.remove(&id);
            state.refreshing.remove(&id);
            state.claims.remove(&id);
            if let Some(c) = state.connections.get_mut(&id) {
                c.access_token = Some(update.access_token.clone());
                c.refresh_token = update.refresh_token.clone();
                c.expires_at = update.expires_at;
                c.refresh_expires_at = update.refresh_expires_at;
                c.scope = update.scope.clone().or(c.scope.take());
                c.updated_at = Some(OffsetDateTime::now_utc());
                c.refreshed_at = c.updated_at;
            }
        }
        Ok(SwapOutcome {
            swapped,
            connection: state.connections.get(&id).cloned(),
        })
    }

    async fn begin_refresh(&self, id: i64, refresh_token: &str) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let free = state.refreshing.get(&id).is_none_or(|until| *until < now);
        let same = holds(&state, id, refresh_token);
        if free && same {
            state.refreshing.insert(id, now + REFRESH_LEASE);
        }
        Ok(free && same)
    }

    async fn end_refresh(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let same = holds(&state, id, refresh_token);
        if same {
            state.refreshing.remove(&id);
        }
        Ok(())
    }

    async fn mark_reauth_required(&self, id: i64, refresh_token: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let same = holds(&state, id, refresh_token);
        if same {
            state
                .reauth_required
                .entry(id)
                .or_insert_with(OffsetDateTime::now_utc);
        }
        Ok(())
    }
}

/// The row still holds this (encrypted) refresh token.
fn holds(state: &State, id: i64, refresh_token: &str) -> bool {
    state
        .connections
        .get(&id)
        .is_some_and(|c| c.refresh_token.as_deref() == Some(refresh_token))
}

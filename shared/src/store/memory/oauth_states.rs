//! The in-memory authorization states, with `create_oauth_state`'s and
//! `consume_oauth_state`'s rules: 10 minutes, used once, at most 20 open per user (and
//! sign-in states, which have no user, per client address).

use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::store::*;

/// How long a state is good for.
const STATE_TTL: Duration = Duration::minutes(10);
/// Open states kept per user and per client address.
const OPEN_STATES: usize = 20;

impl OAuthStateStore for MemoryStore {
    async fn create_oauth_state(
        &self,
        state: &NewOAuthState,
    ) -> Result<CreatedOAuthState, StoreError> {
        let mut guard = self.state()?;
        let now = OffsetDateTime::now_utc();
        let states = &mut guard.oauth_states;
        states.retain(|(_, _, expires)| *expires > now);
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        // A user's states by user; sign-in states (no user) by client address.
        for key in [
            |s: &NewOAuthState| s.firebase_uid.clone(),
            |s: &NewOAuthState| {
                s.client_address
                    .clone()
                    .filter(|_| s.firebase_uid.is_none())
            },
        ] {
            let mine = key(state);
            while states.iter().filter(|(s, ..)| same(&key(s), &mine)).count() >= OPEN_STATES {
                let oldest = states.iter().position(|(s, ..)| same(&key(s), &mine));
                oldest.map(|i| states.remove(i));
            }
        }
        let expires = now + STATE_TTL;
        states.push((state.clone(), now, expires));
        Ok(CreatedOAuthState {
            expires_at: Some(expires),
        })
    }

    async fn consume_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<OAuthState>, StoreError> {
        let mut guard = self.state()?;
        let now = OffsetDateTime::now_utc();
        let states = &mut guard.oauth_states;
        let Some(i) = states.iter().position(|(s, ..)| s.state_hash == state_hash) else {
            return Ok(None);
        };
        let (state, _, expires) = states.remove(i);
        Ok((expires > now).then_some(OAuthState {
            intent: state.intent,
            firebase_uid: state.firebase_uid,
            redirect_uri: state.redirect_uri,
            scopes: state.scopes,
            code_verifier: state.code_verifier,
        }))
    }
}

impl MemoryStore {
    /// How many authorization states are open.
    pub fn open_oauth_states(&self) -> usize {
        self.state.lock().unwrap().oauth_states.len()
    }
}

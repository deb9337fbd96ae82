//! The in-memory authorization states, with `create_oauth_state`'s and
//! `consume_oauth_state`'s rules: 10 minutes, used once (only with its binding), at most 20 open per user (the oldest go) and 20 sign-in states per client
//! address (the next is refused).

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
        // A user's own oldest go; a client address's sign-in states are refused at the cap.
        if let Some(uid) = &state.firebase_uid {
            while states
                .iter()
                .filter(|(s, ..)| s.firebase_uid.as_ref() == Some(uid))
                .count()
                >= OPEN_STATES
            {
                let oldest = states
                    .iter()
                    .position(|(s, ..)| s.firebase_uid.as_ref() == Some(uid));
                oldest.map(|i| states.remove(i));
            }
        } else if let Some(address) = &state.client_address {
            let open = states
                .iter()
                .filter(|(s, ..)| {
                    s.firebase_uid.is_none() && s.client_address.as_ref() == Some(address)
                })
                .count();
            if open >= OPEN_STATES {
                return Err(StoreError::Limited {
                    message: "too_many_pending_authorizations".into(),
                });
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
        binding_hash: Option<&str>,
    ) -> Result<Option<OAuthState>, StoreError> {
        let mut guard = self.state()?;
        let now = OffsetDateTime::now_utc();
        let states = &mut guard.oauth_states;
        // Only with its binding; a wrong one leaves it for its browser.
        let bound = |s: &NewOAuthState| {
            s.binding_hash.is_some() && s.binding_hash.as_deref() == binding_hash
        };
        let Some(i) = states
            .iter()
            .position(|(s, ..)| s.state_hash == state_hash && bound(s))
        else {
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

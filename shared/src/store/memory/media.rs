//! The in-memory media rows and server-side uploads, with the SQL functions' rules: a
//! media row is its owner's only; an unfinished upload is taken over only once its lease
//! lapsed; progress only for a post still uploading.

use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::store::*;

impl MediaStore for MemoryStore {
    async fn create_media(&self, media: &NewMedia) -> Result<MediaRow, StoreError> {
        let mut state = self.state()?;
        let user = state.ensure_user(&Caller {
            firebase_uid: media.firebase_uid.clone(),
            ..Default::default()
        });
        let id = format!("00000000-0000-4000-9000-{:012}", state.id());
        let row = MediaRow {
            object_key: format!("media/{user}/{id}"),
            id,
            user_id: user,
            content_type: media.content_type.clone(),
            size: media.size,
            status: "pending".into(),
            created_at: Some(OffsetDateTime::now_utc()),
            ready_at: None,
            facts: None,
            facts_error: None,
        };
        state.media.push(row.clone());
        Ok(row)
    }

    async fn media_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> Result<Option<MediaRow>, StoreError> {
        let state = self.state()?;
        let Some(user) = state.user_by_uid(firebase_uid).map(|u| u.row.id) else {
            return Ok(None);
        };
        Ok(state
            .media
            .iter()
            .find(|m| m.id == id && m.user_id == user)
            .cloned())
    }

    async fn mark_media_ready(
        &self,
        id: &str,
        facts: &FactsRead,
    ) -> Result<Option<MediaRow>, StoreError> {
        let mut state = self.state()?;
        Ok(state.media.iter_mut().find(|m| m.id == id).map(|m| {
            m.status = "ready".into();
            m.ready_at.get_or_insert(OffsetDateTime::now_utc());
            match facts {
                FactsRead::Facts(facts) => {
                    m.facts = Some(facts.clone());
                    m.facts_error = None;
                }
                FactsRead::Unreadable(reason) => m.facts_error = Some(reason.clone()),
            }
            m.clone()
        }))
    }

    async fn claim_uploads(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> Result<Vec<PostRow>, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let mut claimed = Vec::new();
        for i in 0..state.posts.len() {
            if claimed.len() as i64 >= limit {
                break;
            }
            let lapsed = state.posts[i]
                .row
                .lease_until
                .is_none_or(|until| until < now);
            let row = &state.posts[i].row;
            let unfinished = row.status == "PROCESSING_UPLOAD"
                && row.source_type == "media"
                && row
                    .upload
                    .as_ref()
                    .is_some_and(|u| (row.uploaded_bytes.unwrap_or(0) as u64) < u.video_size);
            if lapsed && unfinished {
                let token = format!("00000000-0000-4000-b000-{:012}", state.id());
                let row = &mut state.posts[i].row;
                row.claim_token = Some(token);
                row.lease_until = Some(now + Duration::seconds(lease_seconds));
                claimed.push(row.clone());
            }
        }
        Ok(claimed)
    }

    async fn record_upload_progress(
        &self,
        id: &str,
        claim: &str,
        uploaded_bytes: i64,
        lease_seconds: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let now = OffsetDateTime::now_utc();
        let Some(post) = state.posts.iter_mut().find(|p| {
            p.row.id == id
                && p.row.status == "PROCESSING_UPLOAD"
                && p.row.claim_token.as_deref() == Some(claim)
        }) else {
            return Ok(false);
        };
        let bytes = post.row.uploaded_bytes.unwrap_or(0).max(uploaded_bytes);
        post.row.uploaded_bytes = Some(bytes);
        post.row.lease_until = Some(now + Duration::seconds(lease_seconds.max(1)));
        Ok(true)
    }

    async fn fail_upload(&self, id: &str, claim: &str, reason: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(post) = state.posts.iter_mut().find(|p| {
            p.row.id == id
                && p.row.status == "PROCESSING_UPLOAD"
                && p.row.claim_token.as_deref() == Some(claim)
        }) {
            post.row.status = "FAILED".into();
            post.row.fail_reason = Some(reason.to_owned());
            post.row.claim_token = None;
            post.row.lease_until = None;
        }
        Ok(())
    }
}

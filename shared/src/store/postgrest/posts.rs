//! The posts' rpc calls (`supabase/migrations/*_tiktok_posts.sql`).

use serde::Serialize;

use super::PostgrestStore;
use crate::store::*;

#[derive(Serialize)]
struct Reserve<'a> {
    #[serde(flatten)]
    post: &'a NewPost,
    #[serde(rename = "p_idempotency_key")]
    key: &'a str,
    #[serde(rename = "p_request_hash")]
    request_hash: &'a str,
}

#[derive(Serialize)]
struct PostRef<'a> {
    #[serde(rename = "p_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "p_post_id", skip_serializing_if = "Option::is_none")]
    post_id: Option<&'a str>,
    #[serde(rename = "p_user_id", skip_serializing_if = "Option::is_none")]
    user_id: Option<i64>,
    #[serde(rename = "p_firebase_uid", skip_serializing_if = "Option::is_none")]
    firebase_uid: Option<&'a str>,
}

impl PostStore for PostgrestStore {
    async fn begin_post(
        &self,
        post: &NewPost,
        key: &str,
        request_hash: &str,
    ) -> Result<Begun, StoreError> {
        let args = Reserve {
            post,
            key,
            request_hash,
        };
        self.rpc("begin_tiktok_post", &args).await
    }

    async fn record_post(&self, record: &RecordPost) -> Result<PostRow, StoreError> {
        self.rpc("record_tiktok_post", record).await
    }

    async fn release_post(&self, id: &str, user_id: i64) -> Result<(), StoreError> {
        let args = PostRef {
            id: Some(id),
            post_id: None,
            user_id: Some(user_id),
            firebase_uid: None,
        };
        self.rpc_void("release_tiktok_post", &args).await
    }

    async fn mark_post_unknown(&self, id: &str, user_id: i64) -> Result<(), StoreError> {
        let args = PostRef {
            id: Some(id),
            post_id: None,
            user_id: Some(user_id),
            firebase_uid: None,
        };
        self.rpc_void("mark_tiktok_post_unknown", &args).await
    }

    async fn post_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> Result<Option<PostWithConnection>, StoreError> {
        let args = PostRef {
            id: None,
            post_id: Some(id),
            user_id: None,
            firebase_uid: Some(firebase_uid),
        };
        self.rpc("tiktok_post_for", &args).await
    }

    async fn set_post_status(
        &self,
        update: &PostStatusUpdate,
    ) -> Result<Option<PostRow>, StoreError> {
        self.rpc("set_tiktok_post_status", update).await
    }
}

#[derive(Serialize)]
struct Claim {
    #[serde(rename = "p_limit")]
    limit: i64,
    #[serde(rename = "p_lease_seconds")]
    lease_seconds: i64,
}

#[derive(Serialize)]
struct NoArgs {}

impl ScheduleStore for PostgrestStore {
    async fn schedule_post(&self, post: &SchedulePost) -> Result<Scheduled, StoreError> {
        self.rpc("schedule_tiktok_post", post).await
    }

    async fn claim_due_posts(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        let args = Claim {
            limit,
            lease_seconds,
        };
        self.rpc("claim_due_tiktok_posts", &args).await
    }

    async fn settle_dispatch(
        &self,
        id: &str,
        attempt: i32,
        outcome: &Dispatched,
    ) -> Result<Option<PostRow>, StoreError> {
        self.rpc("settle_tiktok_dispatch", &Settle::new(id, attempt, outcome))
            .await
    }

    async fn count_due_posts(&self) -> Result<i64, StoreError> {
        self.rpc("count_due_tiktok_posts", &NoArgs {}).await
    }
}

#[derive(Serialize)]
struct CallerPost<'a> {
    #[serde(rename = "p_firebase_uid")]
    firebase_uid: &'a str,
    #[serde(rename = "p_id")]
    id: &'a str,
}

impl CalendarStore for PostgrestStore {
    async fn list_posts(&self, query: &PostQuery) -> Result<Vec<PostRow>, StoreError> {
        self.rpc("list_tiktok_posts", query).await
    }

    async fn change_post(&self, change: &PostChange) -> Result<Changed, StoreError> {
        self.rpc("change_scheduled_tiktok_post", change).await
    }

    async fn cancel_post(&self, firebase_uid: &str, id: &str) -> Result<Changed, StoreError> {
        self.rpc(
            "cancel_scheduled_tiktok_post",
            &CallerPost { firebase_uid, id },
        )
        .await
    }

    async fn retry_post(&self, firebase_uid: &str, id: &str) -> Result<Changed, StoreError> {
        self.rpc(
            "retry_scheduled_tiktok_post",
            &CallerPost { firebase_uid, id },
        )
        .await
    }
}

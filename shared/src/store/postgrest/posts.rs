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

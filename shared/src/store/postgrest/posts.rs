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
        claim: &str,
        outcome: &Dispatched,
    ) -> Result<Option<PostRow>, StoreError> {
        if let Dispatched::Held { until, reason } = outcome {
            let args = serde_json::json!({
                "p_id": id,
                "p_claim": claim,
                "p_reason": reason,
                "p_until": crate::timestamp::format(*until),
            });
            return self.rpc("hold_tiktok_claim", &args).await;
        }
        self.rpc("settle_tiktok_dispatch", &Settle::new(id, claim, outcome))
            .await
    }

    async fn release_claim(&self, id: &str, claim: &str) -> Result<(), StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            p_id: &'a str,
            p_claim: &'a str,
        }
        self.rpc_void(
            "release_tiktok_claim",
            &Args {
                p_id: id,
                p_claim: claim,
            },
        )
        .await
    }

    async fn count_due_posts(&self) -> Result<i64, StoreError> {
        self.rpc("count_due_tiktok_posts", &NoArgs {}).await
    }

    async fn claim_unconfirmed_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        #[derive(Serialize)]
        struct Args {
            p_limit: i64,
            p_every_seconds: i64,
        }
        let args = Args {
            p_limit: limit,
            p_every_seconds: every_seconds,
        };
        self.rpc("claim_unconfirmed_tiktok_posts", &args).await
    }

    async fn claim_unsettled_posts(
        &self,
        limit: i64,
        every_seconds: i64,
    ) -> Result<Vec<ClaimedPost>, StoreError> {
        #[derive(Serialize)]
        struct Args {
            p_limit: i64,
            p_every_seconds: i64,
        }
        let args = Args {
            p_limit: limit,
            p_every_seconds: every_seconds,
        };
        self.rpc("claim_unsettled_tiktok_posts", &args).await
    }

    async fn stop_settling(&self, id: &str) -> Result<(), StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            p_id: &'a str,
        }
        self.rpc_void("stop_settling_tiktok_post", &Args { p_id: id })
            .await
    }

    async fn resolve_unconfirmed(
        &self,
        id: &str,
        resolution: &Resolution,
    ) -> Result<Option<PostRow>, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            p_id: &'a str,
            p_outcome: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            p_video_id: Option<&'a str>,
        }
        let (outcome, video) = match resolution {
            Resolution::Found(video) => ("found", Some(video.as_str())),
            Resolution::NotFound => ("not_found", None),
            Resolution::Unable => ("unable", None),
        };
        let args = Args {
            p_id: id,
            p_outcome: outcome,
            p_video_id: video,
        };
        self.rpc("resolve_unconfirmed_tiktok_post", &args).await
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

#[derive(Serialize)]
struct MediaRef<'a> {
    #[serde(rename = "p_id")]
    id: &'a str,
    #[serde(rename = "p_firebase_uid", skip_serializing_if = "Option::is_none")]
    firebase_uid: Option<&'a str>,
}

#[derive(Serialize)]
struct Progress<'a> {
    #[serde(rename = "p_id")]
    id: &'a str,
    #[serde(rename = "p_claim")]
    claim: &'a str,
    #[serde(rename = "p_uploaded_bytes")]
    uploaded_bytes: i64,
    #[serde(rename = "p_lease_seconds")]
    lease_seconds: i64,
}

#[derive(Serialize)]
struct FailUpload<'a> {
    #[serde(rename = "p_id")]
    id: &'a str,
    #[serde(rename = "p_claim")]
    claim: &'a str,
    #[serde(rename = "p_fail_reason")]
    reason: &'a str,
}

impl MediaStore for PostgrestStore {
    async fn create_media(&self, media: &NewMedia) -> Result<MediaRow, StoreError> {
        self.rpc("create_tiktok_media", media).await
    }

    async fn media_for(
        &self,
        firebase_uid: &str,
        id: &str,
    ) -> Result<Option<MediaRow>, StoreError> {
        let args = MediaRef {
            id,
            firebase_uid: Some(firebase_uid),
        };
        self.rpc("tiktok_media_for", &args).await
    }

    async fn mark_media_ready(
        &self,
        id: &str,
        facts: &FactsRead,
    ) -> Result<Option<MediaRow>, StoreError> {
        // Only the one that is known: a JSON null would be a jsonb `null`, not SQL NULL.
        let args = match facts {
            FactsRead::Facts(facts) => serde_json::json!({"p_id": id, "p_facts": facts}),
            FactsRead::Unreadable(reason) => {
                serde_json::json!({"p_id": id, "p_facts_error": reason})
            }
        };
        self.rpc("mark_tiktok_media_ready", &args).await
    }

    async fn claim_uploads(
        &self,
        limit: i64,
        lease_seconds: i64,
    ) -> Result<Vec<PostRow>, StoreError> {
        let args = Claim {
            limit,
            lease_seconds,
        };
        self.rpc("claim_tiktok_uploads", &args).await
    }

    async fn record_upload_progress(
        &self,
        id: &str,
        claim: &str,
        uploaded_bytes: i64,
        lease_seconds: i64,
    ) -> Result<bool, StoreError> {
        let args = Progress {
            id,
            claim,
            uploaded_bytes,
            lease_seconds,
        };
        self.rpc("record_tiktok_upload_progress", &args).await
    }

    async fn fail_upload(&self, id: &str, claim: &str, reason: &str) -> Result<(), StoreError> {
        self.rpc_void("fail_tiktok_upload", &FailUpload { id, claim, reason })
            .await
    }
}

impl CapacityStore for PostgrestStore {
    async fn post_capacity(&self, of: &CapacityOf<'_>) -> Result<Capacity, StoreError> {
        self.rpc("tiktok_post_capacity", of).await
    }

    async fn reserve_init(&self, of: &CapacityOf<'_>) -> Result<Capacity, StoreError> {
        self.rpc("reserve_tiktok_init", of).await
    }

    async fn reserve_status_call(&self, connection_id: i64) -> Result<bool, StoreError> {
        let args = serde_json::json!({ "p_connection_id": connection_id });
        self.rpc("reserve_tiktok_status_call", &args).await
    }

    async fn release_init(&self, connection_id: i64) -> Result<(), StoreError> {
        let args = serde_json::json!({ "p_connection_id": connection_id });
        self.rpc_void("release_tiktok_init", &args).await
    }

    async fn note_refusal(
        &self,
        connection_id: i64,
        app: &str,
        code: &str,
    ) -> Result<(), StoreError> {
        let args =
            serde_json::json!({"p_connection_id": connection_id, "p_app": app, "p_code": code});
        self.rpc_void("note_tiktok_refusal", &args).await
    }
}

impl AnalyticsStore for PostgrestStore {
    async fn claim_analytics(
        &self,
        accounts: i64,
        videos: i64,
        lease_seconds: i64,
    ) -> Result<AnalyticsClaim, StoreError> {
        let args = serde_json::json!({
            "p_accounts": accounts, "p_videos": videos, "p_lease_seconds": lease_seconds,
        });
        self.rpc("claim_tiktok_analytics", &args).await
    }

    async fn release_analytics(
        &self,
        connection_id: i64,
        video_ids: &[String],
        account: bool,
        after_seconds: i64,
    ) -> Result<(), StoreError> {
        let args = serde_json::json!({
            "p_connection_id": connection_id, "p_video_ids": video_ids,
            "p_account": account, "p_after_seconds": after_seconds,
        });
        self.rpc_void("release_tiktok_analytics", &args).await
    }

    async fn record_videos(
        &self,
        connection_id: i64,
        videos: &[crate::tiktok::videos::Video],
        cadence: &serde_json::Value,
        asked: Option<&[String]>,
    ) -> Result<Recorded, StoreError> {
        let mut args = serde_json::json!({
            "p_connection_id": connection_id, "p_videos": videos, "p_cadence": cadence,
        });
        // Left out when none (the argument's default): a null array is not sent.
        if let Some(asked) = asked {
            args["p_asked"] = serde_json::json!(asked);
        }
        self.rpc("record_tiktok_videos", &args).await
    }

    async fn record_account(&self, sync: &AccountSync<'_>) -> Result<(), StoreError> {
        self.rpc_void("record_tiktok_account", sync).await
    }

    async fn take_budget(&self, endpoint: &str, rpm: u32) -> Result<BudgetAnswer, StoreError> {
        let args = serde_json::json!({"p_endpoint": endpoint, "p_rpm": rpm});
        self.rpc("take_tiktok_budget", &args).await
    }

    async fn block_budget(&self, endpoint: &str, seconds: i64) -> Result<(), StoreError> {
        let args = serde_json::json!({"p_endpoint": endpoint, "p_seconds": seconds});
        self.rpc_void("block_tiktok_budget", &args).await
    }

    async fn maintain_analytics(
        &self,
        retention_days: u32,
    ) -> Result<serde_json::Value, StoreError> {
        let args = serde_json::json!({ "p_retention_days": retention_days });
        self.rpc("maintain_tiktok_analytics", &args).await
    }

    async fn count_due_analytics(&self) -> Result<i64, StoreError> {
        self.rpc("count_due_tiktok_analytics", &serde_json::json!({}))
            .await
    }

    async fn account_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            of: &'a AnalyticsOf<'a>,
            #[serde(flatten)]
            range: DateRange,
        }
        self.rpc("tiktok_account_analytics", &Args { of, range })
            .await
    }

    async fn videos_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
        page: &VideoPageOf<'_>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            of: &'a AnalyticsOf<'a>,
            #[serde(flatten)]
            range: DateRange,
            #[serde(flatten)]
            page: &'a VideoPageOf<'a>,
        }
        self.rpc("tiktok_videos_analytics", &Args { of, range, page })
            .await
    }

    async fn video_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        video_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(flatten)]
            of: &'a AnalyticsOf<'a>,
            p_video_id: &'a str,
        }
        self.rpc(
            "tiktok_video_analytics",
            &Args {
                of,
                p_video_id: video_id,
            },
        )
        .await
    }
}

//! The capacity ledger (`supabase/migrations/*_preflight_capacity.sql`): what a creator
//! and the app may still post under TikTok's caps, from what we sent and what TikTok
//! answered.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;
use crate::timestamp;

/// Why a creator cannot post now (`blocked_by`; a held post's `fail_reason`).
pub mod cap {
    /// 6 inits a minute per creator.
    pub const INIT_RATE: &str = "init_rate";
    /// 5 inbox shares waiting for the creator in 24 hours (inbox posts only).
    pub const PENDING_INBOX_SHARES: &str = "pending_inbox_shares";
    /// The creator's daily cap, as observed when TikTok last refused for it.
    pub const DAILY_CAP: &str = "daily_cap";
    /// TikTok's app-wide cap of posting users was reached (an hour ago at most).
    pub const APP_ACTIVE_USER_CAP: &str = "app_active_user_cap";
    /// An unaudited app: 5 creators posting in 24 hours.
    pub const APP_UNAUDITED_USER_CAP: &str = "app_unaudited_user_cap";
}

/// A creator's capacity to post now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub can_post_now: bool,
    #[serde(default)]
    pub blocked_by: Vec<String>,
    /// When the caps that block free up (null when nothing blocks).
    #[serde(default, with = "timestamp::option")]
    pub next_slot_at: Option<OffsetDateTime>,
    pub inits_last_minute: i64,
    /// Status calls of the last minute (TikTok allows 30 a creator).
    #[serde(default)]
    pub status_calls_last_minute: i64,
    pub pending_inbox_shares: i64,
    pub posts_last_24h: i64,
    /// The count TikTok refused at with `spam_risk_too_many_posts` (30 days kept).
    #[serde(default)]
    pub observed_daily_cap: Option<i64>,
    pub app_audited: bool,
}

/// Whose capacity: a creator's connection, posting how, for which app.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityOf<'a> {
    #[serde(rename = "p_connection_id")]
    pub connection_id: i64,
    /// `direct` or `inbox`.
    #[serde(rename = "p_mode")]
    pub mode: &'a str,
    /// The app (its TikTok client key).
    #[serde(rename = "p_app")]
    pub app: &'a str,
    /// `TIKTOK_APP_AUDITED`; unset: as TikTok last told (a week).
    #[serde(rename = "p_audited", skip_serializing_if = "Option::is_none")]
    pub audited: Option<bool>,
}

/// What posting needs from the ledger.
pub trait CapacityStore: Send + Sync {
    /// The capacity now (reads only).
    fn post_capacity(
        &self,
        of: &CapacityOf<'_>,
    ) -> impl Future<Output = Result<Capacity, StoreError>> + Send;

    /// The capacity now, and when it can post, one init counted before it is sent (under
    /// the creator's lock: concurrent senders cannot pass a cap together).
    fn reserve_init(
        &self,
        of: &CapacityOf<'_>,
    ) -> impl Future<Output = Result<Capacity, StoreError>> + Send;

    /// Counts a status call of the creator's when the minute has room (30): false when it
    /// must not be sent.
    fn reserve_status_call(
        &self,
        connection_id: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives back the creator's latest reserved init: it was certainly not sent.
    fn release_init(
        &self,
        connection_id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What a TikTok refusal tells about a cap (its code; others change nothing).
    fn note_refusal(
        &self,
        connection_id: i64,
        app: &str,
        code: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

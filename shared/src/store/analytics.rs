//! The analytics history (`supabase/migrations/*_analytics.sql`): the accounts' videos,
//! their snapshots over time, the work the sync claims, and the budget it spends.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Connection, StoreError};
use crate::tiktok::videos::Video;

/// A batch of due work (`claim_tiktok_analytics`).
#[derive(Debug, Default, Deserialize)]
pub struct AnalyticsClaim {
    #[serde(default)]
    pub accounts: Vec<DueAccount>,
    #[serde(default)]
    pub videos: Vec<DueVideos>,
}

/// An account due for discovery (`list`), stats (`stats`) or both.
#[derive(Debug, Deserialize)]
pub struct DueAccount {
    pub connection: Connection,
    pub list: bool,
    pub stats: bool,
    /// A discovery of the account has listed it to its end before: a video it knows
    /// ends the next one. Until then (a first discovery cut short by the budget or a
    /// refusal, or a video linked from a post before any), every page is read.
    #[serde(default)]
    pub walked: bool,
}

/// One connection's due videos: one `/v2/video/query/` (at most 20 ids).
#[derive(Debug, Deserialize)]
pub struct DueVideos {
    pub connection: Connection,
    pub video_ids: Vec<String>,
}

/// What a recorded page or query changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Recorded {
    pub new: u64,
    pub known: u64,
    pub deleted: u64,
}

/// The budget's answer: spend now, or wait this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct BudgetAnswer {
    pub granted: bool,
    pub wait_ms: u64,
}

/// An account's sync as recorded (`record_tiktok_account`).
#[derive(Debug, Serialize)]
pub struct AccountSync<'a> {
    #[serde(rename = "p_connection_id")]
    pub connection_id: i64,
    /// The day's stats as TikTok answered them (none: not asked, or refused).
    #[serde(rename = "p_stats", skip_serializing_if = "Option::is_none")]
    pub stats: Option<&'a crate::tiktok::UserInfo>,
    /// The videos were listed down to a known one.
    #[serde(rename = "p_listed")]
    pub listed: bool,
    /// Why TikTok gave nothing (`scope_missing`, `reauth_required`).
    #[serde(rename = "p_unavailable", skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<&'a str>,
    #[serde(rename = "p_list_every_seconds")]
    pub list_every_seconds: i64,
    #[serde(rename = "p_stats_every_seconds")]
    pub stats_every_seconds: i64,
}

/// Which account a read is about: the caller's, by `account_id` (else the primary).
#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsOf<'a> {
    #[serde(rename = "p_firebase_uid")]
    pub firebase_uid: &'a str,
    /// None: the primary account (null, or empty, to the SQL).
    #[serde(rename = "p_account_id")]
    pub account_id: Option<&'a str>,
}

/// The dates a read covers (inclusive).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DateRange {
    #[serde(rename = "p_from", with = "iso_date")]
    pub from: Date,
    #[serde(rename = "p_to", with = "iso_date")]
    pub to: Date,
}

/// How the videos read is sorted and paged.
#[derive(Debug, Clone, Serialize)]
pub struct VideoPageOf<'a> {
    #[serde(rename = "p_sort")]
    pub sort: &'a str,
    #[serde(rename = "p_limit")]
    pub limit: u32,
    #[serde(rename = "p_offset")]
    pub offset: u32,
}

/// What the sync and the reads need from the database.
pub trait AnalyticsStore: Send + Sync {
    /// Up to `accounts` due accounts and `videos` due videos (youngest first), leased.
    fn claim_analytics(
        &self,
        accounts: i64,
        videos: i64,
        lease_seconds: i64,
    ) -> impl Future<Output = Result<AnalyticsClaim, StoreError>> + Send;

    /// Gives back claimed work, due again after `after_seconds`.
    fn release_analytics(
        &self,
        connection_id: i64,
        video_ids: &[String],
        account: bool,
        after_seconds: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records videos as TikTok answered them; `asked`: a query's ids (the ones not
    /// answered are deleted).
    fn record_videos(
        &self,
        connection_id: i64,
        videos: &[Video],
        cadence: &serde_json::Value,
        asked: Option<&[String]>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    fn record_account(
        &self,
        sync: &AccountSync<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes one request of `endpoint`'s budget (`rpm` a minute, shared by every run).
    fn take_budget(
        &self,
        endpoint: &str,
        rpm: u32,
    ) -> impl Future<Output = Result<BudgetAnswer, StoreError>> + Send;

    /// TikTok answered 429: `endpoint` spends nothing for `seconds`.
    fn block_budget(
        &self,
        endpoint: &str,
        seconds: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes the coming months' partitions and drops the ones past the retention.
    fn maintain_analytics(
        &self,
        retention_days: u32,
    ) -> impl Future<Output = Result<serde_json::Value, StoreError>> + Send;

    /// Due work left (videos and accounts, each counted up to 100).
    fn count_due_analytics(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// `GET .../analytics/account` (none: the caller has no such account).
    fn account_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;

    /// `GET .../analytics/videos` (none: the caller has no such account).
    fn videos_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        range: DateRange,
        page: &VideoPageOf<'_>,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;

    /// `GET .../analytics/videos/{id}` (none: the caller has no such account; `video`
    /// null: not the account's video).
    fn video_analytics(
        &self,
        of: &AnalyticsOf<'_>,
        video_id: &str,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;
}

/// A date as `YYYY-MM-DD` (the SQL functions' `date` arguments).
pub mod iso_date {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*date))
    }

    pub fn format(date: Date) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }

    /// `YYYY-MM-DD`, nothing else.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[range];
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let month = time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
        Date::from_calendar_date(
            i32::try_from(digits(0..4)?).ok()?,
            month,
            u8::try_from(digits(8..10)?).ok()?,
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::iso_date;

    #[test]
    fn dates_are_read_and_written_as_yyyy_mm_dd() {
        let date = iso_date::parse("2026-02-28").unwrap();
        assert_eq!(iso_date::format(date), "2026-02-28");
        for bad in [
            "2026-02-30",
            "2026-2-28",
            "26-02-28",
            "2026/02/28",
            "2026-02-2x",
            "+026-02-28",
            "",
        ] {
            assert_eq!(iso_date::parse(bad), None, "{bad}");
        }
    }
}

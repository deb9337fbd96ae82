//! `GET /api/v1/social-connections/tiktok/analytics/videos?account_id=&from=&to=&sort=&limit=&cursor=`:
//! the account's videos created from `from` to `to` with their latest totals, their
//! growth in the range and `velocity` (views in the first 24 hours over the median of
//! the account's previous 20 videos at that age; null until known). `sort`: `recent`
//! (default), `views`, `growth`, `velocity`; `limit` 1-100 (default 20); `cursor` the
//! previous page's `next_cursor`.

use super::{answered, date_range, Asked};
use crate::endpoints::prelude::*;
use crate::http::query_param;
use crate::store::{AnalyticsStore, VideoPageOf};

pub const SORTS: [&str; 4] = ["recent", "views", "growth", "velocity"];
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// A cursor past this many videos is no page of any account's.
const MAX_OFFSET: u32 = 1_000_000;

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    let asked = Asked::of(app, req).await?;
    let range = date_range(req)?;
    let sort = match query_param(req, "sort") {
        None => "recent",
        Some(sort) => SORTS.into_iter().find(|s| *s == sort).ok_or_else(|| {
            ApiError::invalid_request("sort must be recent, views, growth or velocity")
        })?,
    };
    let limit = match query_param(req, "limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_request("limit must be a whole number from 1 to 100")
            })?,
    };
    let offset = match query_param(req, "cursor") {
        None => 0,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_OFFSET && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ApiError::invalid_request("cursor must be a previous page's next_cursor")
            })?,
    };
    let page = VideoPageOf {
        sort,
        limit,
        offset,
    };
    answered(
        app.store
            .videos_analytics(&asked.of_ref(), range, &page)
            .await?,
    )
}

//! The analytics reads (`GET /api/v1/social-connections/tiktok/analytics/...`): the
//! history the sync keeps ([`crate::analytics`]), for the caller's accounts only. Each
//! answer is computed in SQL, in one database call; TikTok is not called. An account
//! without the scope (or revoked, or needing a new authorization) answers its stored
//! history with `unavailable` saying why nothing new comes, never an empty series that
//! looks like no growth.

use time::{Date, Duration, OffsetDateTime};

use super::prelude::*;
use crate::http::query_param;
use crate::store::{iso_date, AnalyticsOf, DateRange};

pub mod account;
pub mod video;
pub mod videos;

/// The longest range a read covers, in days.
pub const MAX_RANGE_DAYS: i64 = 400;
/// The range when none is given: the last 30 days.
const DEFAULT_RANGE_DAYS: i64 = 30;

/// The caller (authenticated) and the account the request names.
pub(super) struct Asked {
    pub caller: crate::store::Caller,
    pub account_id: Option<String>,
}

impl Asked {
    pub async fn of<P: Ports>(app: &App<P>, req: &Request) -> Result<Asked, ApiError> {
        require_method(req, &Method::GET)?;
        let (caller, account_id) = caller_and_account(app, req).await?;
        Ok(Asked { caller, account_id })
    }

    pub fn of_ref(&self) -> AnalyticsOf<'_> {
        AnalyticsOf {
            firebase_uid: &self.caller.firebase_uid,
            account_id: self.account_id.as_deref(),
        }
    }
}

/// `from` and `to` (`YYYY-MM-DD`, inclusive; default the last 30 days to today, UTC):
/// `from` not after `to`, at most 400 days.
pub(super) fn date_range(req: &Request) -> Result<DateRange, ApiError> {
    let date = |name: &str| -> Result<Option<Date>, ApiError> {
        query_param(req, name)
            .map(|text| {
                iso_date::parse(&text).ok_or_else(|| {
                    ApiError::invalid_request(format!("{name} must be a date, YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    let today = OffsetDateTime::now_utc().date();
    let to = date("to")?.unwrap_or(today);
    let from = date("from")?.unwrap_or(to - Duration::days(DEFAULT_RANGE_DAYS - 1));
    if from > to {
        return Err(ApiError::invalid_request("from must not be after to"));
    }
    if (to - from).whole_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::invalid_request(format!(
            "from and to may span at most {MAX_RANGE_DAYS} days"
        )));
    }
    Ok(DateRange { from, to })
}

/// The caller has no such account: 404 `tiktok_not_connected`.
pub(super) fn answered(found: Option<serde_json::Value>) -> Outcome {
    let found = found.ok_or(ApiError::TikTokNotConnected)?;
    Ok(json_response(StatusCode::OK, &found))
}

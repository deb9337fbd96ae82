//! `GET /api/v1/social-connections/tiktok/analytics/account?account_id=&from=&to=`: the
//! account's daily followers, following, likes and video count from `from` to `to`,
//! with when they were last synced and are next due (scope `user.info.stats`).

use super::{answered, date_range, Asked};
use crate::endpoints::prelude::*;
use crate::store::AnalyticsStore;

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    let asked = Asked::of(app, req).await?;
    let range = date_range(req)?;
    answered(app.store.account_analytics(&asked.of_ref(), range).await?)
}

//! `GET /api/v1/social-connections/tiktok/posts/capacity?account_id=&mode=`: whether the
//! creator can post now under TikTok's caps, from the capacity ledger (what we sent and
//! what TikTok answered): the caps that block, when the next slot frees, and the counts
//! behind them. `mode` is `direct` (default) or `inbox` (pending inbox shares count only
//! for inbox posts). One database read; TikTok is not called.

use super::prelude::*;
use crate::http::query_param;
use crate::store::{CapacityOf, CapacityStore};

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let mode = match query_param(req, "mode").as_deref() {
        None | Some("direct") => "direct",
        Some("inbox") => "inbox",
        Some(_) => return Err(ApiError::invalid_request("mode must be direct or inbox")),
    };
    let connection = chosen_connection(app, req).await?;
    let of = CapacityOf {
        connection_id: connection.id,
        mode,
        app: &app.authorization.client_key,
        audited: app.app_audited,
    };
    let capacity = app.store.post_capacity(&of).await?;
    Ok(json_response(StatusCode::OK, &capacity))
}

//! `GET /api/v1/social-connections/connections`: the caller's connections of every
//! provider, never a token. One database round trip, no TikTok call.

use super::prelude::*;

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let connections = app.store.list_connections(&caller).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "connections": connections }),
    ))
}

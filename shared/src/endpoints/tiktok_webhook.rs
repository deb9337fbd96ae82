//! `POST /api/v1/webhooks/tiktok`: TikTok's webhook deliveries, authenticated by the
//! `TikTok-Signature` header (no Firebase session). Each delivery is recorded and acted
//! on once (its key is the SHA-256 of the raw body; TikTok delivers at least once, for
//! 72 hours): `authorization.removed` revokes every connection of that open_id and
//! clears its tokens. A database outage answers 503, so TikTok retries (a retry is
//! accepted for 72 hours, see [`crate::webhook`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::prelude::*;
use crate::http::{body_bytes, MAX_BODY_BYTES};
use crate::store::{HealthStore, WebhookEvent};

/// The events this app acts on or records for later (the publishing flow's).
const KNOWN_EVENTS: [&str; 8] = [
    "authorization.removed",
    "post.publish.failed",
    "post.publish.complete",
    "post.publish.inbox_delivered",
    "post.publish.publicly_available",
    "post.publish.no_longer_publicaly_available",
    "video.upload.failed",
    "video.publish.completed",
];

/// The envelope TikTok sends. `content` is a JSON string.
#[derive(Debug, Deserialize)]
struct Envelope {
    client_key: Option<String>,
    event: Option<String>,
    user_openid: Option<String>,
    /// Seconds, or milliseconds in some events: see [`crate::webhook::create_time_seconds`].
    create_time: Option<i64>,
    content: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Received {
    received: bool,
    duplicate: bool,
}

/// `content` as TikTok sends it (a JSON string), or already an object; else empty.
fn content_of(content: Option<serde_json::Value>) -> serde_json::Value {
    match content {
        Some(serde_json::Value::String(text)) => serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({})),
        Some(value @ serde_json::Value::Object(_)) => value,
        _ => serde_json::json!({}),
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let header = req
        .headers()
        .get("tiktok-signature")
        .and_then(|v| v.to_str().ok());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(reason) = app.tiktok.verify_webhook(header, body, now) {
        tracing::info!(%reason, "webhook refused");
        delivered("none", "bad_signature");
        return Err(ApiError::InvalidSignature);
    }
    let envelope: Envelope = json_body(req)?;
    if envelope.client_key.as_deref() != Some(app.authorization.client_key.as_str()) {
        tracing::warn!("webhook for another client key");
        delivered("none", "unknown_app");
        return Err(ApiError::InvalidSignature);
    }
    let event = optional_text(envelope.event, "event", 128)?
        .ok_or_else(|| ApiError::invalid_request("event is required"))?;
    let user_openid = optional_text(envelope.user_openid, "user_openid", MAX_ACCOUNT_ID_LEN)?;
    let delivery = WebhookEvent {
        event_key: Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        event: event.clone(),
        user_openid,
        // In seconds before any ordering rule compares it.
        create_time: envelope
            .create_time
            .map(crate::webhook::create_time_seconds),
        content: content_of(envelope.content),
    };
    let outcome = app.store.record_tiktok_webhook(&delivery).await?;
    let known = KNOWN_EVENTS.contains(&event.as_str());
    delivered(
        if known { &event } else { "other" },
        if outcome.duplicate {
            "duplicate"
        } else {
            "accepted"
        },
    );
    if !outcome.duplicate {
        post_ended(&event, &delivery.content);
    }
    if !known {
        tracing::info!(event, "unknown TikTok webhook event recorded");
    } else if !outcome.duplicate {
        tracing::info!(
            event,
            revoked = outcome.revoked,
            "TikTok webhook event processed"
        );
    }
    Ok(json_response(
        StatusCode::OK,
        &Received {
            received: true,
            duplicate: outcome.duplicate,
        },
    ))
}

/// A delivery's metrics: by event (TikTok's known ones; `other`, `none` before it is
/// read) and outcome (`accepted`, `duplicate`, `bad_signature`, `unknown_app`).
fn delivered(event: &str, outcome: &str) {
    crate::metrics::Line::new(&[("event", event), ("outcome", outcome)])
        .count("WebhookDeliveries", 1)
        .emit();
}

/// A post TikTok finished (`post.publish.complete`) or failed (`post.publish.failed`, with
/// TikTok's reason: a code, or `other` for anything that is not one), as the dispatcher's
/// ends are counted.
fn post_ended(event: &str, content: &serde_json::Value) {
    let (status, reason) = match event {
        "post.publish.complete" => ("PUBLISH_COMPLETE", "none"),
        "post.publish.failed" => {
            let reason = content["reason"].as_str().filter(|r| {
                !r.is_empty()
                    && r.len() <= 48
                    && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
            ("FAILED", reason.unwrap_or("other"))
        }
        _ => return,
    };
    crate::metrics::Line::new(&[("status", status), ("fail_reason", reason)])
        .count("PostsEnded", 1)
        .emit();
}

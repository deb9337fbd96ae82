//! The recorded-shape corpus (`tests/fixtures/tiktok/`): every answer shape TikTok is
//! known to send, each read by the client's parser with the outcome its file expects.
//! The TikTok fake serves the same files (`{"fixture": name}` in `/_fake/faults`). A
//! shape found in production is added there first.

use std::path::PathBuf;

use serde_json::Value;
use shared::tiktok::posting::{parse_creator_info, parse_init, parse_status, PostRefusal};
use shared::tiktok::videos::parse_videos;
use shared::tiktok::{
    parse_code_grant, parse_revoke, parse_token_grant, parse_user_info, TikTokError,
};

fn corpus() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiktok");
    let mut shapes: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|entry| entry.expect("a file").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("readable");
            (name, serde_json::from_str(&text).expect("JSON"))
        })
        .collect();
    shapes.sort_by(|a, b| a.0.cmp(&b.0));
    shapes
}

/// The answer's status, its `Retry-After` (as the outbound client reads it) and body.
fn answer(shape: &Value) -> (u16, Option<u64>, Vec<u8>) {
    let answer = &shape["answer"];
    let status = answer["status"].as_u64().expect("status") as u16;
    let retry = answer["headers"]["Retry-After"]
        .as_str()
        .and_then(|v| v.parse().ok());
    let body = match &answer["body"] {
        Value::String(raw) => raw.clone().into_bytes(),
        json => serde_json::to_vec(json).unwrap(),
    };
    (status, retry, body)
}

/// The variant's name, as the corpus writes it.
fn error_name(err: &TikTokError) -> &'static str {
    match err {
        TikTokError::TokenInvalid => "TokenInvalid",
        TikTokError::ScopeNotAuthorized => "ScopeNotAuthorized",
        TikTokError::RefreshRejected => "RefreshRejected",
        TikTokError::CodeRejected => "CodeRejected",
        TikTokError::PostRefused(_) => "PostRefused",
        TikTokError::PublishIdRefused(_) => "PublishIdRefused",
        TikTokError::RateLimited { .. } => "RateLimited",
        TikTokError::Unavailable(_) => "Unavailable",
        TikTokError::NotSent(_) => "NotSent",
    }
}

fn check_error(name: &str, expect: &Value, err: TikTokError) {
    assert_eq!(error_name(&err), expect["error"], "{name}: {err:?}");
    if let TikTokError::RateLimited { retry_after } = &err {
        assert_eq!(
            retry_after.map(Value::from).unwrap_or(Value::Null),
            expect["retry_after"],
            "{name}"
        );
    }
    if let TikTokError::PostRefused(refusal) = &err {
        assert_eq!(format!("{refusal:?}"), expect["refusal"], "{name}");
    }
}

/// What a successful parse gave, in the corpus's terms.
fn outcome(
    endpoint: &str,
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<Value, TikTokError> {
    use serde_json::json;
    Ok(match endpoint {
        "user_info" => serde_json::to_value(parse_user_info(status, retry, body)?).unwrap(),
        "token_refresh" | "token_code" => {
            let grant = if endpoint == "token_refresh" {
                parse_token_grant(status, retry, body)?
            } else {
                parse_code_grant(status, retry, body)?
            };
            json!({"open_id": grant.open_id, "scope": grant.scope,
                   "refresh_token": grant.refresh_token, "access_token": grant.access_token})
        }
        "revoke" => json!({"revoked": parse_revoke(status, retry, body)?}),
        "videos" => {
            let page = parse_videos(status, retry, body)?;
            let ids: Vec<Value> = page.videos.iter().map(|v| json!(v.id)).collect();
            json!({"ids": ids, "cursor": page.cursor, "has_more": page.has_more})
        }
        "status_fetch" => {
            let s = parse_status(status, retry, body)?;
            json!({"status": s.status, "public_post_ids": s.public_post_ids,
                   "fail_reason": s.fail_reason, "uploaded_bytes": s.uploaded_bytes})
        }
        "init" => {
            let init = parse_init(status, retry, body)?;
            let host = init
                .upload_url
                .as_deref()
                .map(|u| reqwest::Url::parse(u).expect("an upload URL"))
                .and_then(|u| u.host_str().map(str::to_owned));
            json!({"publish_id": init.publish_id, "upload_host": host})
        }
        "creator_info" => serde_json::to_value(parse_creator_info(status, retry, body)?).unwrap(),
        other => panic!("unknown endpoint {other}"),
    })
}

#[test]
fn every_recorded_answer_shape_parses_as_expected() {
    let shapes = corpus();
    assert!(shapes.len() >= 30, "the corpus is there: {}", shapes.len());
    let mut answers = 0;
    for (name, shape) in &shapes {
        assert!(
            shape["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: every shape names its source"
        );
        let endpoint = shape["endpoint"].as_str().expect("endpoint");
        if endpoint == "webhook" {
            continue; // deliveries, below
        }
        let (status, retry, body) = answer(shape);
        let expect = &shape["expect"];
        match (outcome(endpoint, status, retry, &body), expect.get("ok")) {
            (Ok(got), Some(want)) => {
                for (field, value) in want.as_object().expect("ok is an object") {
                    assert_eq!(&got[field], value, "{name}: {field} in {got}");
                }
            }
            (Err(err), None) => check_error(name, expect, err),
            (got, _) => panic!("{name}: expected {expect}, got {got:?}"),
        }
        answers += 1;
    }
    assert!(answers >= 28, "{answers}");
}

#[test]
fn recorded_webhook_deliveries_read_as_expected() {
    let deliveries: Vec<_> = corpus()
        .into_iter()
        .filter(|(_, shape)| shape["endpoint"] == "webhook")
        .collect();
    assert!(!deliveries.is_empty());
    for (name, shape) in deliveries {
        let body = &shape["delivery"]["body"];
        let want = &shape["expect"]["ok"];
        assert_eq!(
            body["create_time"]
                .as_i64()
                .map(shared::webhook::create_time_seconds),
            want["create_time"].as_i64(),
            "{name}"
        );
        assert_eq!(body["event"], want["event"], "{name}");
    }
}

#[test]
fn post_refusals_at_403_are_refusals() {
    // TikTok answers privacy_level_option_mismatch with 403, not 400.
    let body = br#"{"error":{"code":"privacy_level_option_mismatch","message":"x","log_id":"l"}}"#;
    assert_eq!(
        parse_init(403, None, body).unwrap_err(),
        TikTokError::PostRefused(PostRefusal::PrivacyLevelMismatch)
    );
}

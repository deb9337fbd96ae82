//! `GET /api/v1/social-connections/tiktok/test?account_id=`: does the caller's TikTok
//! connection still work? Refreshes an expiring or rejected token once.

use super::prelude::*;
use serde::Serialize;

use crate::access::ScopeFallback;
use crate::tiktok::BASIC_FIELDS;

#[derive(Debug, Serialize)]
struct Profile {
    open_id: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct TestResult {
    connected: bool,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile>,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let (caller, account_id) = caller_and_account(app, req).await?;
    let chosen = app
        .store
        .tiktok_connection(&caller, account_id.as_deref())
        .await?;
    let Some(connection) = chosen.connection else {
        if account_id.is_some() {
            return Err(ApiError::TikTokNotConnected);
        }
        return Ok(json_response(
            StatusCode::OK,
            &TestResult {
                connected: false,
                message: "No TikTok account connected",
                code: None,
                profile: None,
            },
        ));
    };
    let open_id = connection.provider_account_id.clone();
    let checked = app
        .tokens()
        .connection_user_info(connection, &BASIC_FIELDS, ScopeFallback::None)
        .await;
    match checked {
        Ok((info, _)) => Ok(json_response(
            StatusCode::OK,
            &TestResult {
                connected: true,
                message: "TikTok connection verified",
                code: None,
                profile: Some(Profile {
                    open_id: info.open_id.unwrap_or(open_id),
                    display_name: info.display_name,
                    avatar_url: info.avatar_url,
                }),
            },
        )),
        Err(err) if err.is_reauth() => Ok(json_response(
            StatusCode::OK,
            &TestResult {
                connected: false,
                message: "TikTok authorization expired; reconnect your TikTok account",
                code: Some(code::TIKTOK_REAUTH_REQUIRED),
                profile: None,
            },
        )),
        Err(err) => Err(err.into()),
    }
}

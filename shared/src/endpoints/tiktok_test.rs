//! `GET /api/v1/social-connections/tiktok/test?account_id=`: does the caller's TikTok
//! connection still work? Refreshes an expiring or rejected token once.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::access::AccessError;
use crate::app::{store_failure, App};
use crate::endpoints::account_id_param;
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_response, request_id, require_method, respond};
use crate::store::ConnectionStore;
use crate::tiktok::{TikTokApi, BASIC_FIELDS};

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

pub async fn handle<S, T, V>(app: &App<S, T, V>, req: Request) -> Response<Body>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    respond(run(app, &req).await, &request_id(&req))
}

async fn run<S, T, V>(app: &App<S, T, V>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: ConnectionStore,
    T: TikTokApi,
    V: IdTokenVerifier,
{
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let account_id = account_id_param(req)?;
    let chosen = app
        .store
        .tiktok_connection(&caller, account_id.as_deref())
        .await
        .map_err(store_failure)?;
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
    match app.user_info(connection, &BASIC_FIELDS, false).await {
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
        Err(AccessError::ReauthRequired)
        | Err(AccessError::TikTok(crate::tiktok::TikTokError::RefreshRejected)) => {
            Ok(json_response(
                StatusCode::OK,
                &TestResult {
                    connected: false,
                    message: "TikTok authorization expired; reconnect your TikTok account",
                    code: Some("tiktok_reauth_required"),
                    profile: None,
                },
            ))
        }
        Err(err) => Err(err.into()),
    }
}

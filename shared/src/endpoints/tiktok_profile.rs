//! `GET /api/v1/social-connections/tiktok/profile?force=&account_id=`: the caller's
//! TikTok profile, from the cache when fresh (no TikTok call at all), else from TikTok
//! with the fields the granted scopes allow.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::{store_failure, App};
use crate::endpoints::account_id_param;
use crate::error::ApiError;
use crate::firebase::IdTokenVerifier;
use crate::http::{json_response, query_flag, request_id, require_method, respond};
use crate::profile::{Profile, SOURCE_TIKTOK};
use crate::store::ConnectionStore;
use crate::tiktok::{fields_for_scope, TikTokApi};

#[derive(Debug, Serialize)]
struct ProfileAnswer {
    #[serde(flatten)]
    profile: Profile,
    cached: bool,
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
    let force = query_flag(req, "force");
    let connection = app
        .store
        .tiktok_connection(&caller, account_id.as_deref())
        .await
        .map_err(store_failure)?
        .connection
        .ok_or(ApiError::TikTokNotConnected)?;

    let now = OffsetDateTime::now_utc();
    if !force {
        if let Some(mut profile) = Profile::fresh_cached(&connection, app.profile_cache_ttl, now) {
            profile
                .source
                .get_or_insert_with(|| SOURCE_TIKTOK.to_owned());
            return Ok(json_response(
                StatusCode::OK,
                &ProfileAnswer {
                    profile,
                    cached: true,
                },
            ));
        }
    }

    let scope_known = connection
        .scope
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let fields = fields_for_scope(connection.scope.as_deref());
    let open_id = connection.provider_account_id.clone();
    let (info, live) = app.user_info(connection, &fields, !scope_known).await?;
    let profile = Profile::from_tiktok(info, &open_id, now);
    match serde_json::to_value(&profile) {
        Ok(value) => {
            // The answer does not depend on the cache write: a failure only costs a
            // TikTok call next time.
            if let Err(err) = app.store.cache_profile(live.connection.id, &value).await {
                tracing::warn!(error = %err, "caching the TikTok profile failed");
            }
        }
        Err(err) => tracing::error!(error = %err, "profile serialisation failed"),
    }
    Ok(json_response(
        StatusCode::OK,
        &ProfileAnswer {
            profile,
            cached: false,
        },
    ))
}

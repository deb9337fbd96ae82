//! `GET /api/v1/social-connections/tiktok/profile?force=&account_id=`: the caller's
//! TikTok profile, from the cache when fresh (no TikTok call at all), else from TikTok
//! with the fields the granted scopes allow.

use super::prelude::*;
use serde::Serialize;
use time::OffsetDateTime;

use crate::access::ScopeFallback;
use crate::profile::{Profile, SOURCE_TIKTOK};
use crate::tiktok::fields_for_scope;

#[derive(Debug, Serialize)]
struct ProfileAnswer {
    #[serde(flatten)]
    profile: Profile,
    cached: bool,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let connection = chosen_connection(app, req).await?;
    let force = query_flag(req, "force");
    // The user removed the app at TikTok: the profile is no longer theirs to show from
    // the cache either, until they connect again.
    if connection.revoked_at.is_some() {
        return Err(ApiError::TikTokReauthRequired);
    }

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
    let fallback = if scope_known {
        ScopeFallback::None
    } else {
        ScopeFallback::BasicFields
    };
    let (info, live) = app
        .tokens()
        .connection_user_info(connection, &fields, fallback)
        .await?;
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

//! `GET /api/v1/social-connections/tiktok/creator-info?account_id=`: what the creator may
//! post now (`/v2/post/publish/creator_info/query/`, scope `video.publish`): the privacy
//! options to choose from (no default), the interactions the creator turned off, the
//! longest video. TikTok's audit asks the post form to be built from it, fresh, each
//! time. Account choice, refresh and errors as tiktok-profile.

use serde::Serialize;

use super::prelude::*;
use crate::tiktok::posting::CreatorInfo;

/// What the frontend builds its post form from.
#[derive(Serialize)]
struct CreatorView {
    nickname: Option<String>,
    username: Option<String>,
    avatar_url: Option<String>,
    privacy_level_options: Vec<String>,
    comment_disabled: bool,
    duet_disabled: bool,
    stitch_disabled: bool,
    max_video_post_duration_sec: Option<i64>,
}

impl From<CreatorInfo> for CreatorView {
    fn from(info: CreatorInfo) -> Self {
        CreatorView {
            nickname: info.creator_nickname,
            username: info.creator_username,
            avatar_url: info.creator_avatar_url,
            privacy_level_options: info.privacy_level_options,
            comment_disabled: info.comment_disabled,
            duet_disabled: info.duet_disabled,
            stitch_disabled: info.stitch_disabled,
            max_video_post_duration_sec: info.max_video_post_duration_sec,
        }
    }
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let connection = chosen_connection(app, req).await?;
    PUBLISH_SCOPE.check(&connection)?;
    let (info, _) = app
        .tokens()
        .with_live_token(connection, |token| async move {
            app.tiktok.creator_info(&token).await
        })
        .await
        .map_err(|err| PUBLISH_SCOPE.refused(err))?;
    Ok(json_response(StatusCode::OK, &CreatorView::from(info)))
}

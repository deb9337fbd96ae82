//! `GET /api/v1/social-connections/tiktok/videos?account_id=&cursor=&max_count=&ids=`: the
//! account's TikTok videos with their stats. A page of `/v2/video/list/` (newest first,
//! `cursor` from the previous page, `max_count` 1-20), or given `ids` (at most 20)
//! through `/v2/video/query/`, which also renews cover URLs. Account choice, refresh and
//! errors as tiktok-profile; scope `video.list` is needed (409 `tiktok_scope_missing`).

use serde::Serialize;

use super::prelude::*;
use crate::http::query_param;
use crate::tiktok::videos::{Video, MAX_VIDEOS};

/// Reading the account's videos.
pub const SCOPE: NeededScope = NeededScope {
    scope: "video.list",
    grant: "access to this account's videos",
};

/// What the request asks for.
enum Ask {
    Page { cursor: Option<i64>, max_count: u32 },
    Ids(Vec<String>),
}

fn ask(req: &Request) -> Result<Ask, ApiError> {
    let cursor = query_param(req, "cursor");
    let max_count = query_param(req, "max_count");
    if let Some(ids) = query_param(req, "ids") {
        if cursor.is_some() || max_count.is_some() {
            return Err(ApiError::invalid_request(
                "ids cannot be combined with cursor or max_count",
            ));
        }
        let ids: Vec<String> = ids
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if ids.is_empty() || ids.len() > MAX_VIDEOS as usize {
            return Err(ApiError::invalid_request("ids must list 1 to 20 video ids"));
        }
        for id in &ids {
            if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ApiError::invalid_request("ids must be TikTok video ids"));
            }
        }
        return Ok(Ask::Ids(ids));
    }
    let cursor = match cursor {
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|c| *c >= 0)
                .ok_or_else(|| ApiError::invalid_request("cursor must be a page's cursor"))?,
        ),
        None => None,
    };
    let max_count = match max_count {
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_VIDEOS).contains(n))
            .ok_or_else(|| ApiError::invalid_request("max_count must be 1 to 20"))?,
        None => MAX_VIDEOS,
    };
    Ok(Ask::Page { cursor, max_count })
}

/// A video as the frontend gets it.
#[derive(Serialize)]
struct VideoView {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    duration: Option<i64>,
    cover_image_url: Option<String>,
    share_url: Option<String>,
    embed_link: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    #[serde(with = "crate::timestamp::option")]
    created_at: Option<time::OffsetDateTime>,
    like_count: Option<u64>,
    comment_count: Option<u64>,
    share_count: Option<u64>,
    view_count: Option<u64>,
}

impl From<Video> for VideoView {
    fn from(v: Video) -> Self {
        VideoView {
            id: v.id,
            title: v.title,
            description: v.video_description,
            duration: v.duration,
            cover_image_url: v.cover_image_url,
            share_url: v.share_url,
            embed_link: v.embed_link,
            width: v.width,
            height: v.height,
            created_at: v
                .create_time
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()),
            like_count: v.like_count,
            comment_count: v.comment_count,
            share_count: v.share_count,
            view_count: v.view_count,
        }
    }
}

#[derive(Serialize)]
struct Videos {
    videos: Vec<VideoView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_more: Option<bool>,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let (caller, account_id) = caller_and_account(app, req).await?;
    // The parameters are checked before the database is asked anything.
    let ask = ask(req)?;
    let connection = named_connection(app, &caller, account_id.as_deref()).await?;
    SCOPE.check(&connection)?;
    let tokens = app.tokens();
    let called = match &ask {
        Ask::Page { cursor, max_count } => {
            tokens
                .with_live_token(connection, |token| async move {
                    app.tiktok.list_videos(&token, *cursor, *max_count).await
                })
                .await
        }
        Ask::Ids(ids) => {
            tokens
                .with_live_token(connection, |token| async move {
                    app.tiktok.query_videos(&token, ids).await
                })
                .await
        }
    };
    let (page, _) = called.map_err(|err| SCOPE.refused(err))?;
    let is_page = matches!(ask, Ask::Page { .. });
    Ok(json_response(
        StatusCode::OK,
        &Videos {
            videos: page.videos.into_iter().map(VideoView::from).collect(),
            cursor: is_page.then_some(page.cursor),
            has_more: is_page.then_some(page.has_more),
        },
    ))
}

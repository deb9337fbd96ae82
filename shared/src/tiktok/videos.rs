//! The account's videos: `/v2/video/list/` (a page, newest first, by a millisecond
//! cursor) and `/v2/video/query/` (given ids; also renews cover URLs). Scope
//! `video.list`.

use serde::{Deserialize, Serialize};

use super::parse::envelope_error;
use super::TikTokError;

/// The fields asked for (every documented one but `embed_html`).
pub const VIDEO_FIELDS: [&str; 14] = [
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
];

/// Most videos one list page or query may hold.
pub const MAX_VIDEOS: u32 = 20;

/// A video as TikTok answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Video {
    /// A string in the Display API, a number elsewhere: kept as its exact digits.
    #[serde(default, deserialize_with = "super::ids::one")]
    pub id: Option<String>,
    pub create_time: Option<i64>,
    pub cover_image_url: Option<String>,
    pub share_url: Option<String>,
    pub video_description: Option<String>,
    pub duration: Option<i64>,
    pub height: Option<i64>,
    pub width: Option<i64>,
    pub title: Option<String>,
    pub embed_link: Option<String>,
    pub like_count: Option<u64>,
    pub comment_count: Option<u64>,
    pub share_count: Option<u64>,
    pub view_count: Option<u64>,
}

/// One list page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct VideoPage {
    #[serde(default)]
    pub videos: Vec<Video>,
    #[serde(default)]
    pub cursor: Option<i64>,
    #[serde(default)]
    pub has_more: bool,
}

/// Reads a `/v2/video/list/` or `/v2/video/query/` answer (the query has no cursor).
pub fn parse_videos(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<VideoPage, TikTokError> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        data: Option<VideoPage>,
    }
    envelope_error(status, retry, body, "videos")?;
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.data)
        .ok_or_else(|| TikTokError::Unavailable("videos without data".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_errors() {
        let ok = br#"{"data":{"videos":[{"id":"v1","create_time":1700000000,"like_count":3}],"cursor":1700000000000,"has_more":true},"error":{"code":"ok","message":"","log_id":"l"}}"#;
        let page = parse_videos(200, None, ok).unwrap();
        assert_eq!(page.videos[0].id.as_deref(), Some("v1"));
        assert_eq!(
            (page.cursor, page.has_more),
            (Some(1_700_000_000_000), true)
        );
        let scope =
            br#"{"data":{},"error":{"code":"scope_not_authorized","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_videos(401, None, scope),
            Err(TikTokError::ScopeNotAuthorized)
        );
        let limited = br#"{"error":{"code":"rate_limit_exceeded","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_videos(429, Some(9), limited),
            Err(TikTokError::RateLimited {
                retry_after: Some(9)
            })
        );
        assert!(matches!(
            parse_videos(200, None, b"<html>"),
            Err(TikTokError::Unavailable(_))
        ));
    }
}

//! TikTok's Content Posting API: what the creator may post (`creator_info`), the three
//! init endpoints (direct video, inbox video, photos), the media transfer plan for
//! FILE_UPLOAD, and the post status. Scopes `video.publish` (direct) and `video.upload`
//! (inbox).

use serde::{Deserialize, Serialize};

use super::parse::envelope_error;
use super::TikTokError;

/// What a creator may post, as `/v2/post/publish/creator_info/query/` answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatorInfo {
    #[serde(default)]
    pub creator_avatar_url: Option<String>,
    #[serde(default)]
    pub creator_username: Option<String>,
    #[serde(default)]
    pub creator_nickname: Option<String>,
    #[serde(default)]
    pub privacy_level_options: Vec<String>,
    #[serde(default)]
    pub comment_disabled: bool,
    #[serde(default)]
    pub duet_disabled: bool,
    #[serde(default)]
    pub stitch_disabled: bool,
    #[serde(default)]
    pub max_video_post_duration_sec: Option<i64>,
}

/// Which init endpoint a post goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitTarget {
    /// `/v2/post/publish/video/init/` (`video.publish`).
    DirectVideo,
    /// `/v2/post/publish/inbox/video/init/` (`video.upload`).
    InboxVideo,
    /// `/v2/post/publish/content/init/` with `media_type: PHOTO`.
    Photos,
}

impl InitTarget {
    pub fn path(self) -> &'static str {
        match self {
            InitTarget::DirectVideo => "/v2/post/publish/video/init/",
            InitTarget::InboxVideo => "/v2/post/publish/inbox/video/init/",
            InitTarget::Photos => "/v2/post/publish/content/init/",
        }
    }
}

/// An init request: where it goes and its JSON body (built by the publish use case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostInit {
    pub target: InitTarget,
    pub body: serde_json::Value,
}

/// TikTok's answer to an init. `Debug` leaves the upload URL out (it is a capability).
#[derive(Clone, Deserialize)]
pub struct InitAnswer {
    pub publish_id: String,
    #[serde(default)]
    pub upload_url: Option<String>,
}

impl std::fmt::Debug for InitAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitAnswer")
            .field("publish_id", &self.publish_id)
            .field("upload_url", &self.upload_url.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// `/v2/post/publish/status/fetch/`'s answer. TikTok leaves out the keys that do not
/// apply (`{"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "StatusData")]
pub struct PublishStatus {
    pub status: String,
    pub fail_reason: Option<String>,
    /// The public post ids as exact decimal text, from either spelling.
    pub public_post_ids: Vec<String>,
    pub uploaded_bytes: Option<i64>,
}

/// The answer as sent: TikTok spells the post ids `publicaly_available_post_id`
/// (documented as `list<int64>`, seen as strings, single values, `null` or absent);
/// some answers use the correct spelling. Both are read.
#[derive(Deserialize)]
struct StatusData {
    status: String,
    #[serde(default)]
    fail_reason: Option<String>,
    #[serde(default, deserialize_with = "super::ids::list")]
    publicaly_available_post_id: Vec<String>,
    #[serde(default, deserialize_with = "super::ids::list")]
    publicly_available_post_id: Vec<String>,
    #[serde(default)]
    uploaded_bytes: Option<i64>,
}

impl From<StatusData> for PublishStatus {
    fn from(d: StatusData) -> Self {
        let mut ids = d.publicaly_available_post_id;
        for id in d.publicly_available_post_id {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        PublishStatus {
            status: d.status,
            fail_reason: d.fail_reason.filter(|r| !r.is_empty()),
            public_post_ids: ids,
            uploaded_bytes: d.uploaded_bytes,
        }
    }
}

/// A posting refusal TikTok names: what the user or the app must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostRefusal {
    /// `privacy_level_option_mismatch`: not one of the creator's privacy options.
    PrivacyLevelMismatch,
    /// `spam_risk_too_many_posts`: the account's daily post cap.
    TooManyPosts,
    /// `spam_risk_too_many_pending_share`: five inbox uploads waiting in 24 hours.
    TooManyPendingShares,
    /// `reached_active_user_cap`: the app's daily cap of posting users.
    ActiveUserCap,
    /// `spam_risk_user_banned_from_posting`.
    UserBanned,
    /// `unaudited_client_can_only_post_to_private_accounts`.
    UnauditedApp,
    /// `url_ownership_unverified`: the URL's domain is not verified for the app.
    UrlUnverified,
    /// `invalid_params` from an init: something about the post TikTok will not take
    /// that the request's own checks cannot know (a cover time past the video's end).
    InvalidParams,
    /// A 4xx with an error code this code does not know: TikTok refused the post (it
    /// made none), for a reason no one here can act on (the code is logged where the
    /// answer is read).
    Unrecognized,
}

impl PostRefusal {
    /// TikTok's code for it (`post_refused` for one this code does not know).
    pub fn code(self) -> &'static str {
        match self {
            PostRefusal::PrivacyLevelMismatch => "privacy_level_option_mismatch",
            PostRefusal::TooManyPosts => "spam_risk_too_many_posts",
            PostRefusal::TooManyPendingShares => "spam_risk_too_many_pending_share",
            PostRefusal::ActiveUserCap => "reached_active_user_cap",
            PostRefusal::UserBanned => "spam_risk_user_banned_from_posting",
            PostRefusal::UnauditedApp => "unaudited_client_can_only_post_to_private_accounts",
            PostRefusal::UrlUnverified => "url_ownership_unverified",
            PostRefusal::InvalidParams => "invalid_params",
            PostRefusal::Unrecognized => "post_refused",
        }
    }

    /// A refusal that only needs time (a daily cap, pending inbox shares): the same post
    /// can go out later.
    pub fn passes_with_time(self) -> bool {
        matches!(
            self,
            PostRefusal::TooManyPosts
                | PostRefusal::TooManyPendingShares
                | PostRefusal::ActiveUserCap
        )
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "privacy_level_option_mismatch" => PostRefusal::PrivacyLevelMismatch,
            "spam_risk_too_many_posts" => PostRefusal::TooManyPosts,
            "spam_risk_too_many_pending_share" => PostRefusal::TooManyPendingShares,
            "reached_active_user_cap" => PostRefusal::ActiveUserCap,
            "spam_risk_user_banned_from_posting" => PostRefusal::UserBanned,
            "unaudited_client_can_only_post_to_private_accounts" => PostRefusal::UnauditedApp,
            "url_ownership_unverified" => PostRefusal::UrlUnverified,
            _ => return None,
        })
    }
}

/// The media transfer plan of a FILE_UPLOAD (TikTok's rules: chunks of 5-64 MB but the
/// last, which holds the remainder and may reach 128 MB; a video smaller than a chunk is
/// sent whole; `total_chunk_count = floor(video_size / chunk_size)`, at most 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPlan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunk_count: u64,
}

/// The chunk size the plan uses: 10,000,000 bytes is inside TikTok's 5-64 MB whether MB
/// means 10^6 or 2^20 bytes, and keeps the largest video under 1000 chunks.
pub const CHUNK_SIZE: u64 = 10_000_000;
/// TikTok's largest video file (4 GB).
pub const MAX_VIDEO_SIZE: u64 = 4 * 1024 * 1024 * 1024;

impl UploadPlan {
    /// The plan for a video of `video_size` bytes (1 to [`MAX_VIDEO_SIZE`]).
    pub fn for_size(video_size: u64) -> UploadPlan {
        if video_size < CHUNK_SIZE {
            return UploadPlan {
                video_size,
                chunk_size: video_size,
                total_chunk_count: 1,
            };
        }
        UploadPlan {
            video_size,
            chunk_size: CHUNK_SIZE,
            total_chunk_count: video_size / CHUNK_SIZE,
        }
    }

    /// Chunk `index`'s first and last byte (the last chunk runs to the end).
    pub fn range(&self, index: u64) -> (u64, u64) {
        let first = index * self.chunk_size;
        let last = if index + 1 == self.total_chunk_count {
            self.video_size - 1
        } else {
            first + self.chunk_size - 1
        };
        (first, last)
    }
}

/// Reads `data` of a posting answer.
fn data_of<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, TikTokError> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        data: Option<T>,
    }
    serde_json::from_slice::<Envelope<T>>(body)
        .ok()
        .and_then(|e| e.data)
        .ok_or_else(|| TikTokError::Unavailable(format!("{what} without data")))
}

pub fn parse_creator_info(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<CreatorInfo, TikTokError> {
    envelope_error(status, retry, body, "creator info")?;
    data_of(body, "creator info")
}

pub fn parse_init(status: u16, retry: Option<u64>, body: &[u8]) -> Result<InitAnswer, TikTokError> {
    if let Err(err) = envelope_error(status, retry, body, "post init") {
        // Elsewhere `invalid_params` is ours to fix; for a post it is about the post.
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
        return Err(match (code.as_deref(), &err) {
            (Some("invalid_params"), _) => TikTokError::PostRefused(PostRefusal::InvalidParams),
            // A refusal with a code, not an outage: TikTok answered, and made no post.
            (Some(c), TikTokError::Unavailable(_))
                if (400..500).contains(&status) && !c.is_empty() && c != "ok" =>
            {
                TikTokError::PostRefused(PostRefusal::Unrecognized)
            }
            _ => err,
        });
    }
    let answer: InitAnswer = data_of(body, "post init")?;
    if answer.publish_id.is_empty() {
        return Err(TikTokError::Unavailable(
            "post init without publish_id".into(),
        ));
    }
    Ok(answer)
}

pub fn parse_status(
    status: u16,
    retry: Option<u64>,
    body: &[u8],
) -> Result<PublishStatus, TikTokError> {
    envelope_error(status, retry, body, "post status")?;
    data_of(body, "post status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_follow_the_media_transfer_rules() {
        let small = UploadPlan::for_size(3_000_000);
        assert_eq!((small.chunk_size, small.total_chunk_count), (3_000_000, 1));
        assert_eq!(small.range(0), (0, 2_999_999));
        let mid = UploadPlan::for_size(52_428_800);
        assert_eq!((mid.chunk_size, mid.total_chunk_count), (CHUNK_SIZE, 5));
        assert_eq!(mid.range(4), (40_000_000, 52_428_799));
        let big = UploadPlan::for_size(209_715_200);
        assert_eq!(big.total_chunk_count, 20);
        let (first, last) = big.range(19);
        assert!(last - first + 1 < 2 * CHUNK_SIZE);
        let largest = UploadPlan::for_size(MAX_VIDEO_SIZE);
        assert!(largest.total_chunk_count <= 1000);
        let (first, last) = largest.range(largest.total_chunk_count - 1);
        assert!(last - first < 128 * 1024 * 1024);
    }

    #[test]
    fn answers_and_refusals() {
        let ok = br#"{"data":{"publish_id":"v_pub_1","upload_url":"https://up"},"error":{"code":"ok","message":"","log_id":"l"}}"#;
        let init = parse_init(200, None, ok).unwrap();
        assert_eq!(init.publish_id, "v_pub_1");
        assert!(!format!("{init:?}").contains("https://up"));
        let mismatch = br#"{"data":{},"error":{"code":"privacy_level_option_mismatch","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_init(400, None, mismatch).unwrap_err(),
            TikTokError::PostRefused(PostRefusal::PrivacyLevelMismatch)
        );
        let status = br#"{"data":{"status":"PUBLISH_COMPLETE","publicaly_available_post_id":[7300]},"error":{"code":"ok"}}"#;
        let read = parse_status(200, None, status).unwrap();
        assert_eq!(read.status, "PUBLISH_COMPLETE");
        assert_eq!(read.public_post_ids.len(), 1);
        assert!(matches!(
            parse_creator_info(200, None, b"{}"),
            Err(TikTokError::Unavailable(_))
        ));
        // A code this client does not know, at 4xx: refused, no post made (not an outage).
        let unknown = br#"{"error":{"code":"a_new_refusal","message":"x","log_id":"l"}}"#;
        assert_eq!(
            parse_init(400, None, unknown).unwrap_err(),
            TikTokError::PostRefused(PostRefusal::Unrecognized)
        );
        assert!(matches!(
            parse_init(500, None, unknown),
            Err(TikTokError::Unavailable(_))
        ));
    }
}

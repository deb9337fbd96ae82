//! The publish request: its shape, the audit's rules (privacy chosen, never defaulted;
//! comments, duets and stitches off unless turned on), TikTok's field limits, and the
//! init body TikTok gets.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::endpoints::valid_account_id;
use crate::error::ApiError;
use crate::tiktok::posting::{InitTarget, PostInit, UploadPlan, MAX_VIDEO_SIZE};

/// TikTok's privacy levels.
const PRIVACY_LEVELS: [&str; 4] = [
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
];
/// A video title, in UTF-16 units (TikTok counts them so).
const MAX_VIDEO_TITLE: usize = 2200;
/// A photo post's title and description, in UTF-16 units.
const MAX_PHOTO_TITLE: usize = 90;
const MAX_PHOTO_DESCRIPTION: usize = 4000;
/// Photos in one post.
const MAX_PHOTOS: usize = 35;
/// A media URL's length.
const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Posted at once with the chosen settings (`video.publish`).
    Direct,
    /// Sent to the creator's TikTok inbox to finish there (`video.upload`).
    Inbox,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// FILE_UPLOAD: the browser PUTs the chunks to TikTok's upload URL.
    Upload { video_size: u64 },
    /// PULL_FROM_URL from a domain verified for the app.
    Url { video_url: String },
    /// A photo post, pulled from verified URLs.
    Photos {
        photo_urls: Vec<String>,
        #[serde(default)]
        photo_cover_index: usize,
    },
    /// A video the browser uploaded once to the media bucket: the dispatcher inits a
    /// FILE_UPLOAD and streams it to TikTok. The client names the media; the rest is
    /// filled in from its row when the post is made ([`Source::with_media`]).
    Media {
        media_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        video_size: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object_key: Option<String>,
    },
}

impl Mode {
    /// As the request and the `tiktok_posts.mode` column name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Inbox => "inbox",
        }
    }
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Upload { .. } => "upload",
            Source::Url { .. } => "url",
            Source::Photos { .. } => "photos",
            Source::Media { .. } => "media",
        }
    }

    /// A media source with what its row says (size, type, key), as the dispatcher needs
    /// it; other sources as they are.
    pub fn with_media(self, size: u64, content_type: &str, object_key: &str) -> Source {
        match self {
            Source::Media { media_id, .. } => Source::Media {
                media_id,
                video_size: Some(size),
                content_type: Some(content_type.to_owned()),
                object_key: Some(object_key.to_owned()),
            },
            other => other,
        }
    }

    /// The status a new post starts in.
    pub fn first_status(&self) -> &'static str {
        match self {
            Source::Upload { .. } | Source::Media { .. } => "PROCESSING_UPLOAD",
            _ => "PROCESSING_DOWNLOAD",
        }
    }

    pub fn plan(&self) -> Option<UploadPlan> {
        match self {
            Source::Upload { video_size } => Some(UploadPlan::for_size(*video_size)),
            Source::Media {
                video_size: Some(size),
                ..
            } => Some(UploadPlan::for_size(*size)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostInfo {
    #[serde(default)]
    pub title: Option<String>,
    /// Photo posts only.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub privacy_level: Option<String>,
    #[serde(default)]
    pub disable_comment: Option<bool>,
    #[serde(default)]
    pub disable_duet: Option<bool>,
    #[serde(default)]
    pub disable_stitch: Option<bool>,
    #[serde(default)]
    pub video_cover_timestamp_ms: Option<u64>,
    #[serde(default)]
    pub brand_content_toggle: Option<bool>,
    #[serde(default)]
    pub brand_organic_toggle: Option<bool>,
    #[serde(default)]
    pub is_aigc: Option<bool>,
    /// Photo posts only.
    #[serde(default)]
    pub auto_add_music: Option<bool>,
}

/// The request body (unknown fields are ignored, as everywhere in the API).
/// Re-serialised, it is what an Idempotency-Key is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    #[serde(default)]
    pub account_id: Option<String>,
    pub mode: Mode,
    pub source: Source,
    #[serde(default)]
    pub post_info: Option<PostInfo>,
    /// When to publish (RFC 3339): the dispatcher inits the post then. Left out of the
    /// request hash when absent, so an immediate post's key binds as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// Runs every check and reads the capacity without storing or sending anything.
    /// Never part of a stored request or of an Idempotency-Key's hash.
    #[serde(default, skip_serializing)]
    pub dry_run: bool,
}

/// How far in the past a schedule may be (a clock a little behind), and ahead.
const SCHEDULE_PAST: time::Duration = time::Duration::seconds(60);
const SCHEDULE_AHEAD: time::Duration = time::Duration::days(365);

fn invalid(detail: &str) -> ApiError {
    ApiError::invalid_request(detail)
}

/// Text within `max` UTF-16 units, without control characters other than line breaks
/// and tabs.
fn check_text(value: &Option<String>, name: &str, max: usize) -> Result<(), ApiError> {
    let Some(text) = value else { return Ok(()) };
    let bad_control = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if text.encode_utf16().count() > max || bad_control {
        return Err(ApiError::invalid_request(format!(
            "post_info.{name} must be at most {max} characters without control characters"
        )));
    }
    Ok(())
}

/// An https URL TikTok can pull from (no credentials in it).
fn check_media_url(url: &str, name: &str) -> Result<(), ApiError> {
    let parsed = reqwest::Url::parse(url).ok().filter(|u| {
        u.scheme() == "https"
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if url.len() > MAX_URL_LEN || parsed.is_none() {
        return Err(ApiError::invalid_request(format!(
            "{name} must be https URLs of at most {MAX_URL_LEN} characters"
        )));
    }
    Ok(())
}

impl Publish {
    /// When the post is to be published, if it is scheduled: RFC 3339, not more than a
    /// minute past, not more than 365 days ahead of `now`.
    pub fn scheduled_time(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Option<time::OffsetDateTime>, ApiError> {
        let Some(text) = &self.scheduled_at else {
            return Ok(None);
        };
        let at = crate::timestamp::parse_rfc3339(text)
            .ok_or_else(|| invalid("scheduled_at must be an RFC 3339 date-time"))?;
        if at < now - SCHEDULE_PAST {
            return Err(invalid("scheduled_at is in the past"));
        }
        if at > now + SCHEDULE_AHEAD {
            return Err(invalid("scheduled_at must be at most 365 days ahead"));
        }
        Ok(Some(at))
    }

    /// Checks everything TikTok would refuse that can be known without asking it.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(id) = &self.account_id {
            valid_account_id(id, "account_id")?;
        }
        if self.scheduled_at.is_some() && matches!(self.source, Source::Upload { .. }) {
            return Err(invalid(
                "a scheduled post cannot take an upload source: nobody will be there to upload \
                 the chunks (use a url or photos source)",
            ));
        }
        match &self.source {
            Source::Upload { video_size } => {
                if *video_size == 0 || *video_size > MAX_VIDEO_SIZE {
                    return Err(invalid("source.video_size must be 1 byte to 4 GiB"));
                }
            }
            Source::Url { video_url } => check_media_url(video_url, "source.video_url")?,
            Source::Photos {
                photo_urls,
                photo_cover_index,
            } => {
                if photo_urls.is_empty() || photo_urls.len() > MAX_PHOTOS {
                    return Err(invalid("source.photo_urls must list 1 to 35 photos"));
                }
                for url in photo_urls {
                    check_media_url(url, "source.photo_urls")?;
                }
                if *photo_cover_index >= photo_urls.len() {
                    return Err(invalid("source.photo_cover_index must point at a photo"));
                }
            }
            Source::Media { media_id, .. } => {
                if !crate::endpoints::is_uuid(media_id) {
                    return Err(invalid(
                        "source.media_id must be a media id this API answered",
                    ));
                }
            }
        }
        match (self.mode, &self.post_info) {
            (Mode::Inbox, Some(_)) => Err(invalid(
                "inbox posts take no post_info: the creator finishes the post in TikTok",
            )),
            (Mode::Inbox, None) => Ok(()),
            (Mode::Direct, info) => self.validate_direct(info.as_ref()),
        }
    }

    fn validate_direct(&self, info: Option<&PostInfo>) -> Result<(), ApiError> {
        let privacy = info
            .and_then(|i| i.privacy_level.as_deref())
            .ok_or_else(|| {
                invalid(
                    "post_info.privacy_level is required for direct posts: the user chooses one \
                 of the creator's privacy_level_options (there is no default)",
                )
            })?;
        let info = info.expect("privacy_level came from it");
        if !PRIVACY_LEVELS.contains(&privacy) {
            return Err(invalid(
                "post_info.privacy_level must be PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, \
                 FOLLOWER_OF_CREATOR or SELF_ONLY",
            ));
        }
        if info.brand_content_toggle == Some(true) && privacy == "SELF_ONLY" {
            return Err(invalid(
                "branded content cannot be private: choose another privacy_level",
            ));
        }
        if let Source::Photos { .. } = self.source {
            check_text(&info.title, "title", MAX_PHOTO_TITLE)?;
            check_text(&info.description, "description", MAX_PHOTO_DESCRIPTION)?;
            if info.disable_duet.is_some()
                || info.disable_stitch.is_some()
                || info.video_cover_timestamp_ms.is_some()
            {
                return Err(invalid(
                    "disable_duet, disable_stitch and video_cover_timestamp_ms are for videos",
                ));
            }
        } else {
            check_text(&info.title, "title", MAX_VIDEO_TITLE)?;
            if info.description.is_some() || info.auto_add_music.is_some() {
                return Err(invalid(
                    "post_info.description and auto_add_music are for photo posts",
                ));
            }
            if info
                .video_cover_timestamp_ms
                .is_some_and(|ms| ms > 36_000_000)
            {
                return Err(invalid("post_info.video_cover_timestamp_ms is too large"));
            }
        }
        Ok(())
    }

    /// The init call TikTok gets. Interactions are off unless the request turns them on.
    pub fn init(&self) -> PostInit {
        let info = self.post_info.clone().unwrap_or_default();
        let off = |flag: Option<bool>| flag.unwrap_or(true);
        let on = |flag: Option<bool>| flag.unwrap_or(false);
        let video_source = match (&self.source, self.source.plan()) {
            (_, Some(plan)) => json!({
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            }),
            (Source::Url { video_url }, None) => {
                json!({"source": "PULL_FROM_URL", "video_url": video_url})
            }
            _ => Value::Null,
        };
        match (&self.source, self.mode) {
            (
                Source::Photos {
                    photo_urls,
                    photo_cover_index,
                },
                mode,
            ) => {
                let mut post_info = json!({});
                if mode == Mode::Direct {
                    post_info = json!({
                        "privacy_level": info.privacy_level,
                        "disable_comment": off(info.disable_comment),
                        "auto_add_music": on(info.auto_add_music),
                        "brand_content_toggle": on(info.brand_content_toggle),
                        "brand_organic_toggle": on(info.brand_organic_toggle),
                    });
                    if let Some(title) = &info.title {
                        post_info["title"] = title.as_str().into();
                    }
                    if let Some(description) = &info.description {
                        post_info["description"] = description.as_str().into();
                    }
                }
                let post_mode = match mode {
                    Mode::Direct => "DIRECT_POST",
                    Mode::Inbox => "MEDIA_UPLOAD",
                };
                PostInit {
                    target: InitTarget::Photos,
                    body: json!({
                        "media_type": "PHOTO",
                        "post_mode": post_mode,
                        "post_info": post_info,
                        "source_info": {
                            "source": "PULL_FROM_URL",
                            "photo_images": photo_urls,
                            "photo_cover_index": photo_cover_index,
                        },
                    }),
                }
            }
            (_, Mode::Inbox) => PostInit {
                target: InitTarget::InboxVideo,
                body: json!({ "source_info": video_source }),
            },
            (_, Mode::Direct) => {
                let mut post_info = json!({
                    "privacy_level": info.privacy_level,
                    "disable_comment": off(info.disable_comment),
                    "disable_duet": off(info.disable_duet),
                    "disable_stitch": off(info.disable_stitch),
                    "brand_content_toggle": on(info.brand_content_toggle),
                    "brand_organic_toggle": on(info.brand_organic_toggle),
                    "is_aigc": on(info.is_aigc),
                });
                if let Some(title) = &info.title {
                    post_info["title"] = title.as_str().into();
                }
                if let Some(ms) = info.video_cover_timestamp_ms {
                    post_info["video_cover_timestamp_ms"] = ms.into();
                }
                PostInit {
                    target: InitTarget::DirectVideo,
                    body: json!({ "post_info": post_info, "source_info": video_source }),
                }
            }
        }
    }
}

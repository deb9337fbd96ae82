//! Pre-flight: what TikTok would refuse about a post, known when it is made rather than
//! when it is sent (TikTok's content rules: MP4/MOV/WebM in H.264, H.265, VP8 or VP9,
//! 3 s to the creator's longest, 23-60 fps, 360-4096 px a side; an unaudited app posts
//! only SELF_ONLY). Each problem names its code, what is wrong and the request field.

use serde::Serialize;

use super::request::{Mode, Publish};
use crate::error::{code, ApiError};
use crate::media::facts::MediaFacts;
use crate::media::photos::{Photo, PhotoProbe, MAX_PHOTO_BYTES, MAX_PHOTO_SIDE};
use crate::store::{Capacity, MediaRow};

/// The shortest video TikTok takes.
pub const MIN_VIDEO_MS: u64 = 3000;
/// TikTok's frame rates and picture sides.
pub const FRAME_RATES: std::ops::RangeInclusive<f64> = 23.0..=60.0;
pub const SIDES: std::ops::RangeInclusive<u32> = 360..=4096;
const CONTAINERS: [&str; 3] = ["mp4", "mov", "webm"];
const CODECS: [&str; 4] = ["h264", "hevc", "vp8", "vp9"];

/// One thing TikTok would refuse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub detail: String,
    /// The request field it is about (`source.media_id`, `post_info.privacy_level`...).
    pub field: Option<String>,
}

impl Problem {
    fn new(code: &'static str, field: &str, detail: String) -> Problem {
        Problem {
            code,
            detail,
            field: Some(field.to_owned()),
        }
    }

    /// The error a post with this problem is refused with.
    pub fn refusal(&self) -> ApiError {
        match self.code {
            code::TIKTOK_APP_UNAUDITED => ApiError::conflict(self.code, self.detail.clone()),
            _ => ApiError::bad_request(self.code, self.detail.clone()),
        }
    }
}

const MEDIA_FIELD: &str = "source.media_id";

/// A media source's problems: its file unreadable, or a video TikTok would refuse
/// (`max_duration_sec`: the creator's longest, when known). A media whose header was
/// never read (ready before facts were kept) has none known: TikTok's own checks apply.
pub fn media(row: &MediaRow, max_duration_sec: Option<i64>) -> Vec<Problem> {
    match (&row.facts, &row.facts_error) {
        (Some(facts), _) => video(facts, max_duration_sec),
        (None, Some(error)) => vec![Problem::new(
            code::MEDIA_UNREADABLE,
            MEDIA_FIELD,
            format!("The media is not a video TikTok can take: {error}"),
        )],
        (None, None) => Vec::new(),
    }
}

/// A video's problems by TikTok's rules.
pub fn video(facts: &MediaFacts, max_duration_sec: Option<i64>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let seconds = facts.duration_ms as f64 / 1000.0;
    if !CONTAINERS.contains(&facts.container.as_str()) || !CODECS.contains(&facts.codec.as_str()) {
        problems.push(Problem::new(
            code::VIDEO_FORMAT,
            MEDIA_FIELD,
            format!(
                "TikTok takes MP4, MOV or WebM in H.264, H.265, VP8 or VP9; this is {} in {}",
                facts.container,
                if facts.codec.is_empty() {
                    "an unknown codec"
                } else {
                    &facts.codec
                }
            ),
        ));
    }
    if facts.duration_ms < MIN_VIDEO_MS {
        problems.push(Problem::new(
            code::VIDEO_TOO_SHORT,
            MEDIA_FIELD,
            format!("The video is {seconds:.1} s long; TikTok takes 3 s at least"),
        ));
    }
    if let Some(max) = max_duration_sec.filter(|max| *max > 0) {
        if facts.duration_ms > max as u64 * 1000 {
            problems.push(Problem::new(
                code::VIDEO_TOO_LONG,
                MEDIA_FIELD,
                format!(
                    "The video is {seconds:.1} s long; this creator may post {max} s at most \
                     (creator-info's max_video_post_duration_sec)"
                ),
            ));
        }
    }
    if let Some(fps) = facts.frame_rate.filter(|fps| !FRAME_RATES.contains(fps)) {
        problems.push(Problem::new(
            code::VIDEO_FRAME_RATE,
            MEDIA_FIELD,
            format!("The video has {fps} frames a second; TikTok takes 23 to 60"),
        ));
    }
    let (short, long) = (facts.width.min(facts.height), facts.width.max(facts.height));
    if !SIDES.contains(&short) || !SIDES.contains(&long) {
        problems.push(Problem::new(
            code::VIDEO_RESOLUTION,
            MEDIA_FIELD,
            format!(
                "The video is {}x{} px; TikTok takes 360 to 4096 px a side",
                facts.width, facts.height
            ),
        ));
    }
    problems
}

/// Something not checked, and why (a post is never refused for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unchecked {
    pub field: String,
    pub reason: String,
}

/// Photo sources' problems (TikTok takes JPEG and WebP, at most 20 MB and 1080 px a
/// side), each photo read from its URL at once; what could not be read is said so.
pub async fn photos(probe: Option<&PhotoProbe>, urls: &[String]) -> (Vec<Problem>, Vec<Unchecked>) {
    let Some(probe) = probe else {
        let note = Unchecked {
            field: "source.photo_urls".into(),
            reason: "photos are not checked: MEDIA_URL_PREFIXES is not set".into(),
        };
        return (Vec::new(), vec![note]);
    };
    let read = futures_util::future::join_all(urls.iter().map(|url| probe.read(url))).await;
    let (mut problems, mut unchecked) = (Vec::new(), Vec::new());
    for (i, photo) in read.into_iter().enumerate() {
        let field = format!("source.photo_urls[{i}]");
        match photo {
            Photo::Skipped(reason) => unchecked.push(Unchecked { field, reason }),
            Photo::Read { format, .. } if format != "jpeg" && format != "webp" => {
                problems.push(Problem::new(
                    code::PHOTO_FORMAT,
                    &field,
                    format!("photo_urls[{i}] is {format}: TikTok takes JPEG or WebP photos"),
                ))
            }
            Photo::Read {
                width,
                height,
                size,
                ..
            } => {
                if size.is_some_and(|s| s > MAX_PHOTO_BYTES) || width.max(height) > MAX_PHOTO_SIDE {
                    problems.push(Problem::new(
                        code::PHOTO_TOO_LARGE,
                        &field,
                        format!(
                            "photo_urls[{i}] is {width}x{height} px{}: TikTok takes at most \
                             1080 px a side and 20 MB",
                            size.map(|s| format!(", {s} bytes")).unwrap_or_default()
                        ),
                    ))
                }
            }
        }
    }
    (problems, unchecked)
}

/// An unaudited app's post that is not SELF_ONLY: TikTok would refuse it.
pub fn audit(publish: &Publish, app_audited: bool) -> Option<Problem> {
    let privacy = publish
        .post_info
        .as_ref()
        .and_then(|i| i.privacy_level.as_deref());
    (!app_audited && publish.mode == Mode::Direct && privacy != Some("SELF_ONLY")).then(|| {
        Problem::new(
            code::TIKTOK_APP_UNAUDITED,
            "post_info.privacy_level",
            "Until TikTok audits this app, it can only post SELF_ONLY, to private TikTok \
             accounts: choose SELF_ONLY"
                .to_owned(),
        )
    })
}

/// An immediate post over a known cap: 429 `tiktok_post_limit` until its next slot.
pub fn over_cap(capacity: &Capacity, now: time::OffsetDateTime) -> Option<ApiError> {
    if capacity.can_post_now {
        return None;
    }
    let wait = capacity
        .next_slot_at
        .map(|at| (at - now).whole_seconds().max(1) as u64)
        .unwrap_or(crate::error::DAILY_CAP_RETRY_SECS);
    Some(ApiError::Limited {
        code: code::TIKTOK_POST_LIMIT,
        detail: format!(
            "TikTok would refuse this post now ({}): try again after the next slot",
            capacity.blocked_by.join(", ")
        ),
        retry_after: wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> MediaFacts {
        MediaFacts {
            container: "mp4".into(),
            codec: "h264".into(),
            duration_ms: 10_000,
            width: 1080,
            height: 1920,
            frame_rate: Some(30.0),
        }
    }

    fn codes(f: MediaFacts, max: Option<i64>) -> Vec<&'static str> {
        video(&f, max).into_iter().map(|p| p.code).collect()
    }

    #[test]
    fn a_video_within_every_rule_has_no_problem() {
        assert!(codes(facts(), Some(600)).is_empty());
        assert!(codes(
            MediaFacts {
                duration_ms: 3000,
                width: 360,
                height: 4096,
                frame_rate: Some(23.0),
                ..facts()
            },
            Some(3)
        )
        .is_empty());
    }

    #[test]
    fn each_rule_has_its_code() {
        assert_eq!(codes(facts(), Some(9)), [code::VIDEO_TOO_LONG]);
        assert_eq!(
            codes(
                MediaFacts {
                    duration_ms: 2999,
                    ..facts()
                },
                None
            ),
            [code::VIDEO_TOO_SHORT]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    frame_rate: Some(15.0),
                    ..facts()
                },
                None
            ),
            [code::VIDEO_FRAME_RATE]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    frame_rate: Some(60.01),
                    ..facts()
                },
                None
            ),
            [code::VIDEO_FRAME_RATE]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    width: 4100,
                    ..facts()
                },
                None
            ),
            [code::VIDEO_RESOLUTION]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    height: 359,
                    ..facts()
                },
                None
            ),
            [code::VIDEO_RESOLUTION]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    codec: "av1".into(),
                    ..facts()
                },
                None
            ),
            [code::VIDEO_FORMAT]
        );
        assert_eq!(
            codes(
                MediaFacts {
                    container: "mkv".into(),
                    ..facts()
                },
                None
            ),
            [code::VIDEO_FORMAT]
        );
        // An unknown frame rate or creator limit is not guessed at.
        assert!(codes(
            MediaFacts {
                frame_rate: None,
                ..facts()
            },
            None
        )
        .is_empty());
    }
}

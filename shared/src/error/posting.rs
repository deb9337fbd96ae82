//! TikTok's Content Posting refusals as contract errors.

use super::{code, ApiError};
use crate::tiktok::posting::PostRefusal;

/// TikTok's posting refusals, as the contract names them.
pub(super) fn refused(refusal: PostRefusal) -> ApiError {
    let limited = |detail: &str| ApiError::Limited {
        code: code::TIKTOK_POST_LIMIT,
        detail: detail.to_owned(),
        retry_after: super::DAILY_CAP_RETRY_SECS,
    };
    match refusal {
        PostRefusal::PrivacyLevelMismatch => ApiError::bad_request(
            code::INVALID_PRIVACY_LEVEL,
            "privacy_level is not one of the creator's privacy_level_options (see creator-info)",
        ),
        PostRefusal::TooManyPosts => {
            limited("spam_risk_too_many_posts: this TikTok account reached its daily post limit")
        }
        PostRefusal::TooManyPendingShares => limited(
            "spam_risk_too_many_pending_share: five uploads already wait in this account's \
             TikTok inbox (24 hours)",
        ),
        PostRefusal::ActiveUserCap => limited(
            "reached_active_user_cap: the app reached TikTok's daily limit of posting users",
        ),
        PostRefusal::UserBanned => ApiError::Forbidden {
            code: code::TIKTOK_POSTING_BLOCKED,
            detail: "TikTok does not let this account post at the moment".into(),
        },
        PostRefusal::UnauditedApp => ApiError::conflict(
            code::TIKTOK_APP_UNAUDITED,
            "Until TikTok audits this app, it can only post to private TikTok accounts: make \
             the account private, or post as SELF_ONLY from a private account",
        ),
        PostRefusal::InvalidParams => ApiError::invalid_request(
            "TikTok did not accept the post (invalid_params): check the video and post_info \
             against creator-info (e.g. the cover time within the video)",
        ),
        // Logged where it was read (its code and log_id); to the client, TikTok's failure.
        PostRefusal::Unrecognized => ApiError::TikTokUnavailable,
        PostRefusal::UrlUnverified => ApiError::bad_request(
            code::VIDEO_URL_NOT_VERIFIED,
            "The media URL's domain or prefix is not verified for this app in TikTok's \
             developer portal",
        ),
    }
}

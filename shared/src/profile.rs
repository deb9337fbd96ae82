//! The TikTok profile as the frontend sees it and as it is cached in a connection's
//! `metadata.profile`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::store::Connection;
use crate::tiktok::UserInfo;

pub const SOURCE_TIKTOK: &str = "tiktok";
pub const SOURCE_CLIENT: &str = "client";
/// Longest string field accepted from a client-supplied profile.
const MAX_TEXT: usize = 4096;

/// Fields a granted scope does not allow are `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub open_id: Option<String>,
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub follower_count: Option<u64>,
    pub following_count: Option<u64>,
    pub likes_count: Option<u64>,
    pub video_count: Option<u64>,
    pub bio_description: Option<String>,
    pub is_verified: Option<bool>,
    #[serde(default)]
    pub fetched_at: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl Profile {
    pub fn from_tiktok(info: UserInfo, open_id: &str, now: OffsetDateTime) -> Profile {
        Profile {
            open_id: Some(info.open_id.unwrap_or_else(|| open_id.to_owned())),
            display_name: info.display_name,
            username: info.username,
            avatar_url: info.avatar_url,
            follower_count: info.follower_count,
            following_count: info.following_count,
            likes_count: info.likes_count,
            video_count: info.video_count,
            bio_description: info.bio_description,
            is_verified: info.is_verified,
            fetched_at: Some(crate::timestamp::format(now)),
            source: Some(SOURCE_TIKTOK.to_owned()),
        }
    }

    /// The cached profile of a connection, if readable and fetched within `ttl`.
    pub fn fresh_cached(
        conn: &Connection,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Option<Profile> {
        let value = conn.metadata.as_ref()?.get("profile")?.clone();
        let profile: Profile = serde_json::from_value(value).ok()?;
        let fetched = crate::timestamp::parse(profile.fetched_at.as_deref()?)?;
        let age = now - fetched;
        (age >= time::Duration::ZERO && age < ttl).then_some(profile)
    }

    /// Validates a client-supplied profile: typed fields checked (counts are
    /// non-negative integers), unknown fields dropped.
    pub fn from_client(
        value: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Profile, ApiError> {
        let object = value
            .as_object()
            .ok_or_else(|| ApiError::invalid_request("profile must be an object"))?;
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            match object.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid_request(format!(
                    "profile.{name} must be a string of at most {MAX_TEXT} bytes"
                ))),
            }
        };
        let count = |name: &str| -> Result<Option<u64>, ApiError> {
            match object.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                    ApiError::invalid_request(format!(
                        "profile.{name} must be a non-negative integer"
                    ))
                }),
            }
        };
        let open_id = text("open_id")?
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| ApiError::BadRequest {
                code: "open_id_required",
                detail: "profile.open_id is required".into(),
            })?;
        if open_id.len() > 256 || open_id.chars().any(char::is_control) {
            return Err(ApiError::invalid_request(
                "profile.open_id is not a TikTok open_id",
            ));
        }
        let is_verified = match object.get("is_verified") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "profile.is_verified must be a boolean",
                ))
            }
        };
        Ok(Profile {
            open_id: Some(open_id),
            display_name: text("display_name")?,
            username: text("username")?,
            avatar_url: text("avatar_url")?,
            follower_count: count("follower_count")?,
            following_count: count("following_count")?,
            likes_count: count("likes_count")?,
            video_count: count("video_count")?,
            bio_description: text("bio_description")?,
            is_verified,
            fetched_at: Some(crate::timestamp::format(now)),
            source: Some(SOURCE_CLIENT.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_profiles_are_typed() {
        let now = OffsetDateTime::now_utc();
        let ok = Profile::from_client(
            &json!({"open_id": "o", "follower_count": 5, "is_verified": true, "extra": 1}),
            now,
        )
        .unwrap();
        assert_eq!(ok.follower_count, Some(5));
        assert_eq!(ok.source.as_deref(), Some("client"));
        for bad in [
            json!({"open_id": "o", "follower_count": -1}),
            json!({"open_id": "o", "likes_count": 1.5}),
            json!({"open_id": "o", "video_count": "3"}),
            json!({"open_id": "o", "is_verified": "yes"}),
            json!({"open_id": "o", "display_name": 7}),
            json!({"open_id": 7}),
            json!({"follower_count": 1}),
            json!("profile"),
        ] {
            assert!(Profile::from_client(&bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_freshness_follows_fetched_at() {
        let now = OffsetDateTime::now_utc();
        let conn = |fetched: OffsetDateTime| -> Connection {
            serde_json::from_value(json!({
                "id": 1, "user_id": 1, "provider": "tiktok", "provider_account_id": "o",
                "metadata": {"profile": {"open_id": "o", "fetched_at": crate::timestamp::format(fetched)}}
            }))
            .unwrap()
        };
        let ttl = std::time::Duration::from_secs(3600);
        assert!(
            Profile::fresh_cached(&conn(now - time::Duration::minutes(10)), ttl, now).is_some()
        );
        assert!(Profile::fresh_cached(&conn(now - time::Duration::hours(2)), ttl, now).is_none());
    }
}

//! A media object as the media endpoints answer it, and the media id of a request's path.

use serde::Serialize;

use super::prelude::*;
use crate::store::MediaRow;

#[derive(Serialize)]
pub struct MediaView {
    id: String,
    content_type: String,
    size: i64,
    /// `pending` until the object is in the bucket with the declared size, then `ready`.
    status: String,
    #[serde(with = "crate::timestamp::option")]
    created_at: Option<time::OffsetDateTime>,
}

impl From<MediaRow> for MediaView {
    fn from(m: MediaRow) -> Self {
        MediaView {
            id: m.id,
            content_type: m.content_type,
            size: m.size,
            status: m.status,
            created_at: m.created_at,
        }
    }
}

/// 404 `media_not_found`: unknown, or another user's.
pub fn not_found() -> ApiError {
    ApiError::NotFound {
        code: code::MEDIA_NOT_FOUND,
        detail: "No such media".into(),
    }
}

/// A media id as the create answer gives it (a UUID); anything else cannot be one.
pub fn media_id(req: &Request) -> Result<String, ApiError> {
    super::path_uuid(req, 1, not_found)
}

/// Media is deleted from the bucket this long after it was made (template.yaml's
/// lifecycle rule is 30 days): a post of it must be due before, with a day to spare.
pub const MEDIA_KEPT: time::Duration = time::Duration::days(29);

/// 400 unless a post of media made at `made` can be published at `at`.
pub fn check_kept(
    made: Option<time::OffsetDateTime>,
    at: time::OffsetDateTime,
) -> Result<(), ApiError> {
    match made {
        Some(made) if at > made + MEDIA_KEPT => Err(ApiError::invalid_request(
            "scheduled_at must be within 29 days of the media's upload: media is deleted 30 \
             days after it was made (upload it again for a later post)",
        )),
        _ => Ok(()),
    }
}

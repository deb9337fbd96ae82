//! A media object as the media endpoints answer it, and the media id of a request's path.

use serde::Serialize;

use super::prelude::*;
use crate::media::facts::{self, FactsError, MediaFacts};
use crate::store::{FactsRead, MediaRow, MediaStore};

#[derive(Serialize)]
pub struct MediaView {
    id: String,
    content_type: String,
    size: i64,
    /// `pending` until the object is in the bucket with the declared size, then `ready`.
    status: String,
    #[serde(with = "crate::timestamp::option")]
    created_at: Option<time::OffsetDateTime>,
    /// What the file's header says (null until `ready`, or when it cannot be read).
    facts: Option<MediaFacts>,
    /// Why a ready file's header could not be read (it cannot be posted).
    #[serde(skip_serializing_if = "Option::is_none")]
    facts_error: Option<String>,
}

impl From<MediaRow> for MediaView {
    fn from(m: MediaRow) -> Self {
        MediaView {
            id: m.id,
            content_type: m.content_type,
            size: m.size,
            status: m.status,
            created_at: m.created_at,
            facts: m.facts,
            facts_error: m.facts_error,
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

/// A ready media row with its facts read (from the bucket, once) and stored; the row as
/// it is when they were read before. 503 `storage_unavailable` when the bucket does not
/// answer (nothing is stored then: the next read tries again).
pub async fn ensure_facts<P: Ports>(app: &App<P>, row: MediaRow) -> Result<MediaRow, ApiError> {
    if row.facts.is_some() || row.facts_error.is_some() {
        return Ok(row);
    }
    let read = match facts::read(app.media()?, &row.object_key, row.size as u64).await {
        Ok(facts) => FactsRead::Facts(facts),
        Err(FactsError::Unreadable(reason)) => FactsRead::Unreadable(reason),
        Err(FactsError::Storage(reason)) => {
            tracing::warn!(error = %reason, "media bucket unavailable");
            return Err(ApiError::StorageUnavailable);
        }
    };
    Ok(app
        .store
        .mark_media_ready(&row.id, &read)
        .await?
        .unwrap_or(row))
}

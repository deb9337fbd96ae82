//! `POST /api/v1/social-connections/tiktok/media` with `{"content_type", "size"}`: a
//! media object of the caller's, to upload once: 201 with a presigned S3 PUT (valid an
//! hour) to `media/<user>/<id>` in the media bucket. The browser PUTs the file there with
//! the answer's headers, then asks `GET .../media/{id}` until it is `ready`. The URL is a
//! credential: it is never logged.

use serde::{Deserialize, Serialize};

use super::media_view::MediaView;
use super::prelude::*;
use crate::media::{MediaStorage, UPLOAD_URL_TTL};
use crate::store::{MediaStore, NewMedia};

/// What the bucket takes (and TikTok posts).
const CONTENT_TYPES: [&str; 3] = ["video/mp4", "video/quicktime", "video/webm"];
/// TikTok's largest video: 4 GiB.
const MAX_SIZE: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Deserialize)]
struct NewUpload {
    content_type: String,
    size: u64,
}

#[derive(Serialize)]
struct Upload {
    url: String,
    method: &'static str,
    headers: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "crate::timestamp::option")]
    expires_at: Option<time::OffsetDateTime>,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    media: MediaView,
    upload: Upload,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.authenticate_writer(req).await?;
    let upload: NewUpload = json_body(req)?;
    let content_type = upload.content_type.trim().to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::invalid_request(
            "content_type must be video/mp4, video/quicktime or video/webm",
        ));
    }
    if upload.size == 0 || upload.size > MAX_SIZE {
        return Err(ApiError::invalid_request("size must be 1 byte to 4 GiB"));
    }
    let media = app.media()?;
    let row = app
        .store
        .create_media(&NewMedia {
            firebase_uid: caller.firebase_uid.clone(),
            content_type: content_type.clone(),
            size: upload.size as i64,
        })
        .await?;
    let presigned = media
        .presign_put(&row.object_key, &content_type, upload.size)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "a media upload URL could not be made");
            ApiError::StorageUnavailable
        })?;
    let expires_at = Some(time::OffsetDateTime::now_utc() + UPLOAD_URL_TTL);
    let headers = presigned
        .headers
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect();
    let created = Created {
        media: MediaView::from(row),
        upload: Upload {
            url: presigned.url,
            method: "PUT",
            headers,
            expires_at,
        },
    };
    Ok(json_response(StatusCode::CREATED, &created))
}

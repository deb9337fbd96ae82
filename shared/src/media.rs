//! Scheduled posts' media in S3 (`MEDIA_BUCKET`): the browser PUTs a file once to a
//! presigned URL; the media function checks it is there with a HEAD; the dispatcher
//! reads it back in ranges and streams it to TikTok. The port ([`MediaStorage`]) has the
//! S3 adapter ([`S3Media`]) and an in-memory one for tests of the logic.

use std::future::Future;
use std::time::Duration;

pub mod facts;
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;
pub mod photos;

/// How long a presigned upload URL works.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Unreachable, timed out, or an answer that cannot be read: an outage.
    #[error("media storage unavailable: {0}")]
    Unavailable(String),
    /// The object is not there (or not the range asked for).
    #[error("media object not found")]
    NotFound,
}

/// A presigned PUT: where and with which headers the browser sends the file. `Debug`
/// leaves the URL (a credential for an hour) out.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    /// Headers the signature covers, which the PUT must carry as they are.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for PresignedPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedPut")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// What the use cases need from the media bucket.
pub trait MediaStorage: Send + Sync {
    /// A URL to PUT the object `key` once: `content_type`, exactly `size` bytes.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
    ) -> impl Future<Output = Result<PresignedPut, MediaError>> + Send;

    /// The object's size, if it exists.
    fn size_of(&self, key: &str) -> impl Future<Output = Result<Option<u64>, MediaError>> + Send;

    /// Bytes `start..=end` of the object.
    fn read_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> impl Future<Output = Result<bytes::Bytes, MediaError>> + Send;
}

/// The media bucket through the AWS SDK's S3 client.
pub struct S3Media {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Media {
    /// The client for `bucket` from what Lambda gives every function (the region and
    /// the role's credentials in the environment), on the one HTTP client of every AWS
    /// client here. `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`) points it elsewhere,
    /// with path-style addressing, as a local S3 needs. Nothing is asked at build time.
    pub fn from_env(bucket: &str) -> Result<S3Media, String> {
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        S3Media::at(bucket, endpoint)
    }

    /// As [`S3Media::from_env`], at this endpoint (`None`: AWS's own).
    pub fn at(bucket: &str, endpoint: Option<String>) -> Result<S3Media, String> {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .map_err(|_| "AWS_REGION is not set".to_owned())?;
        // A chunk (10 MB) per ranged GET: more time than a secret's read.
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(30))
            .operation_timeout(Duration::from_secs(90))
            .build();
        let mut config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .http_client(crate::config::aws_http_client())
            .timeout_config(timeouts)
            .force_path_style(endpoint.is_some());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(S3Media {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: bucket.to_owned(),
        })
    }
}

fn unavailable(err: impl std::fmt::Display) -> MediaError {
    MediaError::Unavailable(err.to_string())
}

impl MediaStorage for S3Media {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
    ) -> Result<PresignedPut, MediaError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(UPLOAD_URL_TTL)
            .map_err(unavailable)?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .presigned(config)
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        // The browser sets Host and Content-Length itself (and may not set them).
        let headers = presigned
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers,
        })
    }

    async fn size_of(&self, key: &str) -> Result<Option<u64>, MediaError> {
        let answer = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match answer {
            Ok(head) => Ok(head.content_length().map(|n| n.max(0) as u64)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(unavailable(aws_sdk_s3::error::DisplayErrorContext(err))),
        }
    }

    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<bytes::Bytes, MediaError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .send()
            .await;
        let object = match answer {
            Ok(object) => object,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(MediaError::NotFound)
            }
            Err(err) => return Err(unavailable(aws_sdk_s3::error::DisplayErrorContext(err))),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(unavailable)?
            .into_bytes();
        if bytes.len() as u64 != end - start + 1 {
            return Err(MediaError::NotFound);
        }
        Ok(bytes)
    }
}

/// The media bucket in memory (tests of the logic): objects by key.
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub struct MemoryMedia {
    objects: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryMedia {
    /// Puts an object, as a browser's PUT would.
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
    }
}

#[cfg(any(test, feature = "testing"))]
impl MediaStorage for MemoryMedia {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        _size: u64,
    ) -> Result<PresignedPut, MediaError> {
        Ok(PresignedPut {
            url: format!("memory://media/{key}"),
            headers: vec![("content-type".into(), content_type.to_owned())],
        })
    }

    async fn size_of(&self, key: &str) -> Result<Option<u64>, MediaError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|b| b.len() as u64))
    }

    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<bytes::Bytes, MediaError> {
        let objects = self.objects.lock().unwrap();
        let object = objects.get(key).ok_or(MediaError::NotFound)?;
        object
            .get(start as usize..=end as usize)
            .map(bytes::Bytes::copy_from_slice)
            .ok_or(MediaError::NotFound)
    }
}

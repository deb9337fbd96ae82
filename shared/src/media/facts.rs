//! What a video in the media bucket is, read from its container header with ranged
//! reads, never the whole file: duration, size, frame rate, codec, container.
//!
//! MP4 and MOV (ISO base media): the top-level boxes are walked by their headers (one
//! small read per box past the first 64 KiB), the `moov` box is read wherever it is
//! (at the head, or at the end after `mdat`), and parsed by `mp4parse`. WebM (Matroska):
//! the `Info` and `Tracks` elements before the first `Cluster`, read by the small EBML
//! reader in [`webm`].

use std::borrow::Cow;

use super::{MediaError, MediaStorage};
pub use crate::store::MediaFacts;

mod iso;
mod webm;

/// What is read first: the head of the file.
const HEAD: u64 = 64 * 1024;
/// The largest `moov` read (a two-hour video's sample tables are a few MB).
const MAX_HEADER: u64 = 32 * 1024 * 1024;
/// Reads per file at most (a few top-level boxes, then the header).
const MAX_READS: u32 = 32;

/// Why there are no facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    /// The file is not a video this code can read (its reason, for the answer).
    #[error("{0}")]
    Unreadable(String),
    /// The bucket did not answer: nothing is known yet.
    #[error("media storage unavailable: {0}")]
    Storage(String),
}

fn unreadable(reason: impl Into<String>) -> FactsError {
    FactsError::Unreadable(reason.into())
}

/// A file read in ranges: its head kept, anything else fetched when asked for.
pub(crate) struct Ranged<'a, M> {
    storage: &'a M,
    key: &'a str,
    size: u64,
    head: bytes::Bytes,
    reads: u32,
}

impl<'a, M: MediaStorage> Ranged<'a, M> {
    /// `len` bytes at `start`, cut at the end of the file.
    pub(crate) async fn at(&mut self, start: u64, len: u64) -> Result<Cow<'_, [u8]>, FactsError> {
        let end = start.saturating_add(len).min(self.size);
        if start >= end {
            return Ok(Cow::Borrowed(&[]));
        }
        if end <= self.head.len() as u64 {
            return Ok(Cow::Borrowed(&self.head[start as usize..end as usize]));
        }
        self.reads += 1;
        if self.reads > MAX_READS {
            return Err(unreadable(
                "the file's header is spread over too many boxes",
            ));
        }
        let bytes = self
            .storage
            .read_range(self.key, start, end - 1)
            .await
            .map_err(storage)?;
        Ok(Cow::Owned(bytes.to_vec()))
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

fn storage(err: MediaError) -> FactsError {
    match err {
        MediaError::NotFound => unreadable("the file is not in storage"),
        MediaError::Unavailable(reason) => FactsError::Storage(reason),
    }
}

/// Reads the facts of the object `key` (`size` bytes) in the bucket.
pub async fn read<M: MediaStorage>(
    storage_: &M,
    key: &str,
    size: u64,
) -> Result<MediaFacts, FactsError> {
    if size < 16 {
        return Err(unreadable("the file is too small to be a video"));
    }
    let head = storage_
        .read_range(key, 0, size.min(HEAD) - 1)
        .await
        .map_err(storage)?;
    let mut file = Ranged {
        storage: storage_,
        key,
        size,
        head,
        reads: 1,
    };
    if file.head.starts_with(&webm::MAGIC) {
        webm::read(&mut file).await
    } else {
        iso::read(&mut file).await
    }
}

/// Frames a second to two decimals.
fn rate(frames: f64, seconds: f64) -> Option<f64> {
    (frames > 0.0 && seconds > 0.0).then(|| (frames / seconds * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests;

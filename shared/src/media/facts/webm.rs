//! WebM (Matroska): the EBML elements before the first `Cluster`, read for the segment's
//! `Info` (timestamp scale, duration) and the first video track (codec, pixel size,
//! frame duration). Only what the facts need; anything else is skipped by its size.

use super::{rate, unreadable, FactsError, MediaFacts, Ranged, MAX_HEADER};
use crate::media::MediaStorage;

/// The EBML header's id, the first bytes of every WebM file.
pub(super) const MAGIC: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

const SEGMENT: u64 = 0x1853_8067;
const INFO: u64 = 0x1549_a966;
const TRACKS: u64 = 0x1654_ae6b;
const CLUSTER: u64 = 0x1f43_b675;
const DOC_TYPE: u64 = 0x4282;
const TIMESTAMP_SCALE: u64 = 0x2a_d7b1;
const DURATION: u64 = 0x4489;
const TRACK_ENTRY: u64 = 0xae;
const TRACK_TYPE: u64 = 0x83;
const CODEC_ID: u64 = 0x86;
const DEFAULT_DURATION: u64 = 0x23_e383;
const VIDEO: u64 = 0xe0;
const PIXEL_WIDTH: u64 = 0xb0;
const PIXEL_HEIGHT: u64 = 0xba;

/// An element's id and size (`None`: unknown size) and its header's length.
fn element(bytes: &[u8]) -> Option<(u64, Option<u64>, usize)> {
    let (id, id_len) = vint(bytes, true)?;
    let (size, size_len) = vint(bytes.get(id_len..)?, false)?;
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    Some((id, (!unknown).then_some(size), id_len + size_len))
}

/// An EBML variable-length integer (ids keep their length marker).
fn vint(bytes: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || bytes.len() < len {
        return None;
    }
    let mut value = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & (0xff >> len)
    };
    for b in &bytes[1..len] {
        value = (value << 8) | u64::from(*b);
    }
    Some((value, len))
}

/// Elements of a master element's content: (id, content).
fn children(content: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = content.get(at..)?;
        let (id, size, len) = element(rest)?;
        let end = len.checked_add(usize::try_from(size?).ok()?)?;
        let body = rest.get(len..end)?;
        at += end;
        Some((id, body))
    })
}

fn uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0, |v, b| (v << 8) | u64::from(*b))
}

fn float(bytes: &[u8]) -> Option<f64> {
    match bytes.len() {
        4 => Some(f64::from(f32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

#[derive(Default)]
struct Video {
    codec: String,
    width: u32,
    height: u32,
    frame_ns: Option<u64>,
}

fn video_track(tracks: &[u8]) -> Option<Video> {
    children(tracks)
        .filter(|(id, _)| *id == TRACK_ENTRY)
        .find_map(|(_, entry)| {
            let mut video = Video::default();
            let mut is_video = false;
            for (id, body) in children(entry) {
                match id {
                    TRACK_TYPE => is_video = uint(body) == 1,
                    CODEC_ID => {
                        video.codec = String::from_utf8_lossy(body).trim_end_matches('\0').into()
                    }
                    DEFAULT_DURATION => video.frame_ns = Some(uint(body)).filter(|n| *n > 0),
                    VIDEO => {
                        for (id, body) in children(body) {
                            match id {
                                PIXEL_WIDTH => video.width = uint(body) as u32,
                                PIXEL_HEIGHT => video.height = uint(body) as u32,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            is_video.then_some(video)
        })
}

fn codec_name(id: &str) -> String {
    match id {
        "V_VP8" => "vp8".into(),
        "V_VP9" => "vp9".into(),
        "V_AV1" => "av1".into(),
        "V_MPEG4/ISO/AVC" => "h264".into(),
        "V_MPEGH/ISO/HEVC" => "hevc".into(),
        other => other.to_ascii_lowercase(),
    }
}

pub(super) async fn read<M: MediaStorage>(
    file: &mut Ranged<'_, M>,
) -> Result<MediaFacts, FactsError> {
    let broken = || unreadable("not a WebM file (an element header is broken)");
    let first = file.at(0, 16).await?.into_owned();
    let (_, size, len) = element(&first).ok_or_else(broken)?;
    let size = size.ok_or_else(broken)?;
    if size > 4096 {
        return Err(broken());
    }
    let ebml = file.at(len as u64, size).await?.into_owned();
    let doc_type = children(&ebml)
        .find(|(id, _)| *id == DOC_TYPE)
        .map(|(_, b)| String::from_utf8_lossy(b).trim_end_matches('\0').to_owned())
        .unwrap_or_default();
    let container = match doc_type.as_str() {
        "webm" => "webm",
        "matroska" => "mkv",
        _ => return Err(unreadable("an EBML file that is not WebM")),
    };
    let segment_at = len as u64 + size;
    let bytes = file.at(segment_at, 16).await?.into_owned();
    let (id, _, len) = element(&bytes).ok_or_else(broken)?;
    if id != SEGMENT {
        return Err(unreadable("the WebM file has no segment"));
    }
    // The segment's top-level elements, up to the first cluster.
    let mut at = segment_at + len as u64;
    let (mut info, mut tracks) = (None, None);
    while at < file.size() && (info.is_none() || tracks.is_none()) {
        let bytes = file.at(at, 16).await?.into_owned();
        let (id, size, len) = element(&bytes).ok_or_else(broken)?;
        if id == CLUSTER {
            break;
        }
        let size = size.ok_or_else(broken)?;
        if (id == INFO || id == TRACKS) && size > MAX_HEADER {
            return Err(unreadable("the WebM header is too large"));
        }
        match id {
            INFO => info = Some(file.at(at + len as u64, size).await?.into_owned()),
            TRACKS => tracks = Some(file.at(at + len as u64, size).await?.into_owned()),
            _ => {}
        }
        at += len as u64 + size;
    }
    let info = info.ok_or_else(|| unreadable("the WebM file has no Info element"))?;
    let video = tracks
        .as_deref()
        .and_then(video_track)
        .ok_or_else(|| unreadable("the file has no video track"))?;
    let scale = children(&info)
        .find(|(id, _)| *id == TIMESTAMP_SCALE)
        .map(|(_, b)| uint(b))
        .unwrap_or(1_000_000);
    let seconds = children(&info)
        .find(|(id, _)| *id == DURATION)
        .and_then(|(_, b)| float(b))
        .map(|ticks| ticks * scale as f64 / 1e9)
        .ok_or_else(|| unreadable("the WebM file does not say its duration"))?;
    Ok(MediaFacts {
        container: container.into(),
        codec: codec_name(&video.codec),
        duration_ms: (seconds * 1000.0).round() as u64,
        width: video.width,
        height: video.height,
        frame_rate: video.frame_ns.and_then(|ns| rate(1e9, ns as f64)),
    })
}

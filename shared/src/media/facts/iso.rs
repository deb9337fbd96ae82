//! MP4 and MOV (ISO base media file format): the top-level boxes walked by their headers
//! to find `moov`, which `mp4parse` parses.

use super::{rate, unreadable, FactsError, MediaFacts, Ranged, MAX_HEADER};
use crate::media::MediaStorage;

/// Top-level boxes a file may start with.
const FIRST_BOXES: [&[u8; 4]; 7] = [
    b"ftyp", b"moov", b"wide", b"free", b"skip", b"mdat", b"pnot",
];

/// A box header: its whole size, its header's length, its type.
fn header(bytes: &[u8], left: u64) -> Result<(u64, u64, [u8; 4]), FactsError> {
    let broken = || unreadable("not an MP4, MOV or WebM file (a box header is broken)");
    let small: [u8; 4] = bytes
        .get(0..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(broken)?;
    let kind: [u8; 4] = bytes
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(broken)?;
    if !kind
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b' ' || *b == 0xa9)
    {
        return Err(broken());
    }
    let (size, len) = match u32::from_be_bytes(small) {
        0 => (left, 8),
        1 => {
            let large: [u8; 8] = bytes
                .get(8..16)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(broken)?;
            (u64::from_be_bytes(large), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < len {
        return Err(broken());
    }
    Ok((size, len, kind))
}

/// Child boxes of a box's content: (type, content).
fn children(content: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = content.get(at..)?;
        let (size, len, kind) = header(rest, rest.len() as u64).ok()?;
        let size = usize::try_from(size).ok().filter(|s| *s <= rest.len())?;
        at += size;
        Some((kind, &rest[len as usize..size]))
    })
}

fn child<'a>(content: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(content).find(|(k, _)| k == kind).map(|(_, c)| c)
}

/// The sample entry type of the first video track (`avc1`, `hvc1`, ...).
fn video_entry(moov: &[u8]) -> Option<[u8; 4]> {
    children(moov)
        .filter(|(kind, _)| kind == b"trak")
        .find_map(|(_, trak)| {
            let mdia = child(trak, b"mdia")?;
            // hdlr: version and flags (4), pre_defined (4), handler type (4).
            let handler = child(mdia, b"hdlr")?.get(8..12)?;
            if handler != b"vide" {
                return None;
            }
            let stsd = child(child(child(mdia, b"minf")?, b"stbl")?, b"stsd")?;
            // stsd: version and flags (4), entry count (4), then the first entry's box.
            stsd.get(12..16)?.try_into().ok()
        })
}

fn codec_name(entry: &[u8; 4]) -> String {
    match entry {
        b"avc1" | b"avc3" => "h264".into(),
        b"hvc1" | b"hev1" => "hevc".into(),
        b"vp08" => "vp8".into(),
        b"vp09" => "vp9".into(),
        b"av01" => "av1".into(),
        b"mp4v" => "mpeg4".into(),
        other => String::from_utf8_lossy(other).trim().to_owned(),
    }
}

pub(super) async fn read<M: MediaStorage>(
    file: &mut Ranged<'_, M>,
) -> Result<MediaFacts, FactsError> {
    let mut offset = 0u64;
    let mut ftyp: Option<Vec<u8>> = None;
    while offset + 8 <= file.size() {
        let bytes = file.at(offset, 16).await?.into_owned();
        let (size, _, kind) = header(&bytes, file.size() - offset)?;
        if offset == 0 && !FIRST_BOXES.contains(&&kind) {
            return Err(unreadable("not an MP4, MOV or WebM file"));
        }
        if offset + size > file.size() {
            return Err(unreadable(
                "the file is cut short (a box runs past its end)",
            ));
        }
        match &kind {
            b"ftyp" if size <= 4096 => ftyp = Some(file.at(offset, size).await?.into_owned()),
            b"moov" if size > MAX_HEADER => {
                return Err(unreadable("the file's header (moov) is too large"))
            }
            b"moov" => {
                let moov = file.at(offset, size).await?.into_owned();
                return parse(ftyp.as_deref(), &moov);
            }
            _ => {}
        }
        offset += size;
    }
    Err(unreadable(
        "the file has no header (moov box): not a complete MP4 or MOV",
    ))
}

/// The facts of a file from its `ftyp` (if any) and `moov` boxes.
fn parse(ftyp: Option<&[u8]>, moov: &[u8]) -> Result<MediaFacts, FactsError> {
    // ftyp: header (8), major brand (4).
    let container = match ftyp.and_then(|f| f.get(8..12)) {
        Some(b"qt  ") | None => "mov",
        Some(_) => "mp4",
    };
    let mut header_only = ftyp.unwrap_or_default().to_vec();
    header_only.extend_from_slice(moov);
    let context = mp4parse::read_mp4(&mut std::io::Cursor::new(header_only))
        .map_err(|err| unreadable(format!("the header does not parse: {err}")))?;
    let track = context
        .tracks
        .iter()
        .find(|t| t.track_type == mp4parse::TrackType::Video)
        .ok_or_else(|| unreadable("the file has no video track"))?;
    let seconds = match (track.duration, track.timescale) {
        (Some(d), Some(t)) if t.0 > 0 => d.0 as f64 / t.0 as f64,
        _ => match (&track.tkhd, context.timescale) {
            (Some(tkhd), Some(t)) if t.0 > 0 => tkhd.duration as f64 / t.0 as f64,
            _ => return Err(unreadable("the video track has no duration")),
        },
    };
    let entry = track.stsd.as_ref().and_then(|stsd| {
        stsd.descriptions.iter().find_map(|d| match d {
            mp4parse::SampleEntry::Video(v) => Some((u32::from(v.width), u32::from(v.height))),
            _ => None,
        })
    });
    let (width, height) = match (entry, &track.tkhd) {
        (Some(dims), _) => dims,
        (None, Some(tkhd)) => (tkhd.width >> 16, tkhd.height >> 16),
        (None, None) => return Err(unreadable("the video track has no picture size")),
    };
    let frames: u64 = track
        .stts
        .as_ref()
        .map(|stts| stts.samples.iter().map(|s| u64::from(s.sample_count)).sum())
        .unwrap_or(0);
    let (_, len, _) = header(moov, moov.len() as u64)?;
    let codec = video_entry(&moov[len as usize..])
        .map(|e| codec_name(&e))
        .unwrap_or_default();
    Ok(MediaFacts {
        container: container.into(),
        codec,
        duration_ms: (seconds * 1000.0).round() as u64,
        width,
        height,
        frame_rate: rate(frames as f64, seconds),
    })
}

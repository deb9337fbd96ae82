//! Media files made in tests: MP4/MOV and WebM videos with the header of a real one
//! (any size, frame rate, length, codec; `moov` before or after the media data) and the
//! headers of photos. The media data is zeros: only headers are ever read here.

/// A video to make.
#[derive(Debug, Clone)]
pub struct Video {
    pub width: u16,
    pub height: u16,
    pub fps: u32,
    pub seconds: u32,
    /// The sample entry (`avc1`, `hvc1`, `vp09`, `mp4v`...).
    pub codec: [u8; 4],
    /// `isom` for MP4, `qt  ` for MOV.
    pub brand: [u8; 4],
    /// The header after the media data, as most cameras write it.
    pub moov_at_end: bool,
    /// Bytes of media data (at least one per frame is not needed).
    pub data: usize,
}

impl Default for Video {
    fn default() -> Self {
        Video {
            width: 1080,
            height: 1920,
            fps: 30,
            seconds: 5,
            codec: *b"avc1",
            brand: *b"isom",
            moov_at_end: false,
            data: 4096,
        }
    }
}

fn mp4_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut out = ((content.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(content);
    out
}

fn full(version_flags: u32, rest: &[u8]) -> Vec<u8> {
    let mut out = version_flags.to_be_bytes().to_vec();
    out.extend_from_slice(rest);
    out
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn be(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// An MP4 (or MOV) file of `video`.
pub fn mp4(video: &Video) -> Vec<u8> {
    const TIMESCALE: u32 = 90_000;
    let frames = video.fps * video.seconds;
    let delta = TIMESCALE / video.fps.max(1);
    let duration = frames * delta;
    let movie_ms = video.seconds * 1000;

    let mut mvhd = be(&[0, 0, 1000, movie_ms, 0x0001_0000]);
    mvhd.extend_from_slice(&[0x01, 0x00]);
    mvhd.extend_from_slice(&[0; 10]);
    mvhd.extend(be(&MATRIX));
    mvhd.extend_from_slice(&[0; 24]);
    mvhd.extend(be(&[2]));
    let mvhd = mp4_box(b"mvhd", &full(0, &mvhd));

    let mut tkhd = be(&[0, 0, 1, 0, movie_ms, 0, 0]);
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend(be(&MATRIX));
    tkhd.extend(be(&[
        u32::from(video.width) << 16,
        u32::from(video.height) << 16,
    ]));
    let tkhd = mp4_box(b"tkhd", &full(3, &tkhd));

    let mut mdhd = be(&[0, 0, TIMESCALE, duration]);
    mdhd.extend_from_slice(&[0x55, 0xc4, 0, 0]);
    let mdhd = mp4_box(b"mdhd", &full(0, &mdhd));
    let mut hdlr = be(&[0]);
    hdlr.extend_from_slice(b"vide");
    hdlr.extend_from_slice(&[0; 12]);
    hdlr.extend_from_slice(b"VideoHandler\0");
    let hdlr = mp4_box(b"hdlr", &full(0, &hdlr));

    let vmhd = mp4_box(b"vmhd", &full(1, &[0; 8]));
    let dref = mp4_box(
        b"dref",
        &full(0, &[be(&[1]), mp4_box(b"url ", &full(1, &[]))].concat()),
    );
    let dinf = mp4_box(b"dinf", &dref);

    let mut entry = vec![0u8; 6];
    entry.extend_from_slice(&[0, 1]);
    entry.extend_from_slice(&[0; 16]);
    entry.extend_from_slice(&video.width.to_be_bytes());
    entry.extend_from_slice(&video.height.to_be_bytes());
    entry.extend(be(&[0x0048_0000, 0x0048_0000, 0]));
    entry.extend_from_slice(&[0, 1]);
    entry.extend_from_slice(&[0; 32]);
    entry.extend_from_slice(&[0, 0x18, 0xff, 0xff]);
    if &video.codec == b"avc1" {
        // avcC: version, profile, compatibility, level, length size, one SPS, one PPS.
        let sps = [0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9];
        let pps = [0x68, 0xeb, 0xe3, 0xcb];
        let mut avcc = vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, sps.len() as u8];
        avcc.extend_from_slice(&sps);
        avcc.extend_from_slice(&[1, 0, pps.len() as u8]);
        avcc.extend_from_slice(&pps);
        entry.extend(mp4_box(b"avcC", &avcc));
    }
    let stsd = mp4_box(
        b"stsd",
        &full(0, &[be(&[1]), mp4_box(&video.codec, &entry)].concat()),
    );
    let stts = mp4_box(b"stts", &full(0, &be(&[1, frames, delta])));
    let stsc = mp4_box(b"stsc", &full(0, &be(&[1, 1, frames.max(1), 1])));
    let stsz = mp4_box(b"stsz", &full(0, &be(&[1, frames])));
    let stco = mp4_box(b"stco", &full(0, &be(&[1, 48])));
    let stbl = mp4_box(b"stbl", &[stsd, stts, stsc, stsz, stco].concat());
    let minf = mp4_box(b"minf", &[vmhd, dinf, stbl].concat());
    let mdia = mp4_box(b"mdia", &[mdhd, hdlr, minf].concat());
    let trak = mp4_box(b"trak", &[tkhd, mdia].concat());
    let moov = mp4_box(b"moov", &[mvhd, trak].concat());

    let mut ftyp = video.brand.to_vec();
    ftyp.extend(be(&[0x200]));
    ftyp.extend_from_slice(b"isomiso2avc1mp41");
    let ftyp = mp4_box(b"ftyp", &ftyp);
    let mdat = mp4_box(b"mdat", &vec![0u8; video.data]);
    if video.moov_at_end {
        [ftyp, mdat, moov].concat()
    } else {
        [ftyp, moov, mdat].concat()
    }
}

fn ebml(id: u32, content: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = id
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    out.push(0x01);
    out.extend_from_slice(&(content.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(content);
    out
}

fn ebml_uint(id: u32, value: u64) -> Vec<u8> {
    ebml(id, &value.to_be_bytes())
}

/// A WebM file of `video` (`codec` as Matroska names it: `V_VP9`, `V_VP8`...).
pub fn webm(video: &Video, codec: &str) -> Vec<u8> {
    let header = ebml(
        0x1a45_dfa3,
        &[ebml_uint(0x4286, 1), ebml(0x4282, b"webm")].concat(),
    );
    let info = ebml(
        0x1549_a966,
        &[
            ebml_uint(0x2a_d7b1, 1_000_000),
            ebml(0x4489, &(f64::from(video.seconds) * 1000.0).to_be_bytes()),
        ]
        .concat(),
    );
    let picture = ebml(
        0xe0,
        &[
            ebml_uint(0xb0, u64::from(video.width)),
            ebml_uint(0xba, u64::from(video.height)),
        ]
        .concat(),
    );
    let entry = ebml(
        0xae,
        &[
            ebml_uint(0xd7, 1),
            ebml_uint(0x83, 1),
            ebml(0x86, codec.as_bytes()),
            ebml_uint(0x23_e383, 1_000_000_000 / u64::from(video.fps.max(1))),
            picture,
        ]
        .concat(),
    );
    let tracks = ebml(0x1654_ae6b, &entry);
    let cluster = ebml(0x1f43_b675, &vec![0u8; video.data]);
    let segment = ebml(0x1853_8067, &[info, tracks, cluster].concat());
    [header, segment].concat()
}

/// A PNG's first bytes (signature and IHDR) at this size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(be(&[13]));
    out.extend_from_slice(b"IHDR");
    out.extend(be(&[width, height]));
    out.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend(be(&[0]));
    out.extend_from_slice(&[0; 64]);
    out
}

/// A baseline JPEG's header at this size.
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
    out.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    out.extend_from_slice(&[0xff, 0xc0, 0, 17, 8]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0; 64]);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

/// An extended (VP8X) WebP's header at this size.
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = vec![0u8; 4];
    chunk.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunk.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut body = b"WEBPVP8X".to_vec();
    body.extend_from_slice(&10u32.to_le_bytes());
    body.extend_from_slice(&chunk);
    body.extend_from_slice(&[0; 64]);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

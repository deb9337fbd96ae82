use super::*;
use crate::media::fixtures::{self, Video};
use crate::media::MemoryMedia;

async fn facts_of(bytes: Vec<u8>) -> Result<MediaFacts, FactsError> {
    let media = MemoryMedia::default();
    let size = bytes.len() as u64;
    media.put("k", bytes);
    read(&media, "k", size).await
}

#[tokio::test]
async fn an_mp4_with_its_header_first() {
    let facts = facts_of(fixtures::mp4(&Video::default())).await.unwrap();
    assert_eq!(
        facts,
        MediaFacts {
            container: "mp4".into(),
            codec: "h264".into(),
            duration_ms: 5000,
            width: 1080,
            height: 1920,
            frame_rate: Some(30.0),
        }
    );
}

#[tokio::test]
async fn an_mp4_with_its_header_after_the_media_data_is_read_from_the_tail() {
    let video = Video {
        moov_at_end: true,
        data: 3 * HEAD as usize,
        fps: 15,
        ..Video::default()
    };
    let facts = facts_of(fixtures::mp4(&video)).await.unwrap();
    assert_eq!(facts.frame_rate, Some(15.0));
    assert_eq!(facts.duration_ms, 5000);
}

#[tokio::test]
async fn a_mov_an_hevc_and_odd_rates() {
    let video = Video {
        brand: *b"qt  ",
        codec: *b"hvc1",
        fps: 24,
        width: 4100,
        seconds: 2,
        ..Video::default()
    };
    let facts = facts_of(fixtures::mp4(&video)).await.unwrap();
    assert_eq!(facts.container, "mov");
    assert_eq!(facts.codec, "hevc");
    assert_eq!((facts.width, facts.duration_ms), (4100, 2000));
    assert_eq!(facts.frame_rate, Some(24.0));
}

#[tokio::test]
async fn a_webm() {
    let video = Video {
        fps: 25,
        seconds: 7,
        width: 720,
        height: 1280,
        ..Video::default()
    };
    let facts = facts_of(fixtures::webm(&video, "V_VP9")).await.unwrap();
    assert_eq!(
        facts,
        MediaFacts {
            container: "webm".into(),
            codec: "vp9".into(),
            duration_ms: 7000,
            width: 720,
            height: 1280,
            frame_rate: Some(25.0),
        }
    );
}

#[tokio::test]
async fn files_that_are_no_video_are_unreadable() {
    let text = b"this is not a video at all, only some text in a file".repeat(10);
    assert!(matches!(
        facts_of(text).await,
        Err(FactsError::Unreadable(_))
    ));
    let mut cut = fixtures::mp4(&Video {
        moov_at_end: true,
        ..Video::default()
    });
    cut.truncate(cut.len() - 100);
    assert!(matches!(
        facts_of(cut).await,
        Err(FactsError::Unreadable(_))
    ));
    assert!(matches!(
        facts_of(fixtures::png(100, 100)).await,
        Err(FactsError::Unreadable(_))
    ));
    assert!(matches!(
        facts_of(vec![0; 10]).await,
        Err(FactsError::Unreadable(_))
    ));
}

/// `testdata/media/clip.mp4`, for the clients' tests and the benchmark (which pad it to
/// any size: its header comes first), is this module's default video.
/// `WRITE_FIXTURES=1 cargo test -p shared clip_file` writes it again.
#[test]
fn clip_file_is_the_default_video() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/media/clip.mp4");
    let made = fixtures::mp4(&Video::default());
    if std::env::var("WRITE_FIXTURES").is_ok() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &made).unwrap();
    }
    assert_eq!(std::fs::read(path).expect("testdata/media/clip.mp4"), made);
}

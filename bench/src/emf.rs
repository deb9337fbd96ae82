//! What the metric lines cost a request: a request's lines (its own, and one per TikTok
//! call: two here, as a refresh and a call) made and written as the functions write
//! them, timed over many, against the warm requests' median.

use std::io::Write;
use std::time::{Duration, Instant};

use shared::metrics::{Line, Unit};

/// Lines timed.
const LINES: u32 = 20_000;
/// The most of a warm request the lines may take.
pub const LIMIT_PERCENT: f64 = 2.0;

/// Microseconds one request's metric lines take.
pub fn request_cost_us() -> f64 {
    let mut out = std::io::sink();
    let started = Instant::now();
    for i in 0..LINES {
        let lines = [
            Line::new(&[("status_class", "2xx"), ("code", "ok")])
                .by(&[&[], &["status_class"], &["code"]])
                .count("Requests", 1)
                .count("Errors5xx", 0)
                .value("Latency", Unit::Milliseconds, f64::from(i % 97)),
            Line::new(&[("endpoint", "/v2/oauth/token/"), ("outcome", "ok")])
                .count("TikTokCalls", 1)
                .value("TikTokLatency", Unit::Milliseconds, 41.5),
            Line::new(&[("endpoint", "/v2/user/info/"), ("outcome", "ok")])
                .count("TikTokCalls", 1)
                .value("TikTokLatency", Unit::Milliseconds, 38.25),
        ];
        for line in lines {
            let text = line.to_json(1_796_000_000_000).to_string();
            let _ = out.write_all(format!("{text}\n").as_bytes());
        }
    }
    duration_us(started.elapsed()) / f64::from(LINES)
}

fn duration_us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

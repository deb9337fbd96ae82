//! TikTok's webhook signatures: `TikTok-Signature: t=<unix seconds>,s=<hex>`, where `s`
//! is HMAC-SHA256 keyed with the app's client secret over `"<t>.<raw body>"`. Compared
//! in constant time. TikTok retries a failed delivery with backoff for up to 72 hours,
//! and does not document whether a retry is signed anew: a signature up to 72 hours old
//! (and 5 minutes of clock skew) is accepted, one more than 5 minutes in the future is
//! not. A replayed delivery is caught by its body's hash, which the webhook keeps a
//! week.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signature's timestamp may be ahead of our clock (skew).
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// How old a signature may be: TikTok's 72 hours of retries, and the skew.
pub const MAX_AGE_SECS: i64 = 72 * 3600 + TOLERANCE_SECS;

/// A webhook's `create_time` in Unix seconds, before any ordering rule uses it: TikTok
/// sends seconds, but one event was seen in milliseconds (a value above 10^11, which in
/// seconds is the year 5138).
pub fn create_time_seconds(value: i64) -> i64 {
    if value > 100_000_000_000 {
        value / 1000
    } else {
        value
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no TikTok-Signature header")]
    Missing,
    #[error("malformed TikTok-Signature header")]
    Malformed,
    #[error("signature older than 72 hours or ahead of our clock")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header TikTok would send for this body at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},s={hex}")
}

/// Checks a delivery's signature header against its raw body.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut timestamp, mut signature) = (None, None);
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        let slot = match key {
            "t" => &mut timestamp,
            "s" => &mut signature,
            _ => continue,
        };
        // Each part once: a repeated `t` or `s` is not a header TikTok sends.
        if slot.replace(value.trim()).is_some() {
            return Err(SignatureError::Malformed);
        }
    }
    let timestamp = timestamp.and_then(|t| t.parse::<i64>().ok());
    let signature = signature.and_then(decode_hex);
    let (timestamp, signature) = timestamp.zip(signature).ok_or(SignatureError::Malformed)?;
    let age = now.saturating_sub(timestamp);
    if !(-TOLERANCE_SECS..=MAX_AGE_SECS).contains(&age) {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_times_in_milliseconds_become_seconds() {
        assert_eq!(create_time_seconds(1_765_000_000), 1_765_000_000);
        assert_eq!(create_time_seconds(1_765_000_000_123), 1_765_000_000);
        assert_eq!(create_time_seconds(0), 0);
    }

    #[test]
    fn a_signed_body_verifies_and_nothing_else_does() {
        let (secret, body, now) = (b"client-secret", br#"{"event":"x"}"#, 1_800_000_000);
        let header = sign(secret, now, body);
        assert_eq!(verify(Some(&header), body, secret, now + 10), Ok(()));
        assert_eq!(
            verify(Some(&header), br#"{"event":"y"}"#, secret, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, b"other-secret", now),
            Err(SignatureError::Mismatch)
        );
        // TikTok's retries come for 72 hours, maybe with the first signature.
        assert_eq!(verify(Some(&header), body, secret, now + 3600), Ok(()));
        assert_eq!(verify(Some(&header), body, secret, now + 72 * 3600), Ok(()));
        assert_eq!(
            verify(Some(&header), body, secret, now + 73 * 3600),
            Err(SignatureError::Stale)
        );
        // Ahead of our clock: 5 minutes of skew, no more.
        assert_eq!(verify(Some(&header), body, secret, now - 4 * 60), Ok(()));
        assert_eq!(
            verify(Some(&header), body, secret, now - 6 * 60),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(None, body, secret, now),
            Err(SignatureError::Missing)
        );
        let valid_s = header.split_once(",s=").unwrap().1;
        let repeated = [
            format!("t={now},s={},s={valid_s}", "0".repeat(64)),
            format!("t=1,t={now},s={valid_s}"),
            format!("{header},t={now}"),
        ];
        for bad in ["", "t=1", "s=00", "t=x,s=zz", "t=1,s=abc", "garbage"]
            .into_iter()
            .chain(repeated.iter().map(String::as_str))
        {
            assert_eq!(
                verify(Some(bad), body, secret, now),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}

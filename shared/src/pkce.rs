//! OAuth states and PKCE (RFC 7636): random values from the operating system's CSPRNG,
//! the S256 code challenge in either encoding TikTok asks for, and the hash a state is
//! stored as.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// How the S256 challenge is written: the lowercase hex of the SHA-256 that TikTok's
/// Login Kit compares (a base64url challenge is refused at the code exchange with
/// `invalid_request`), or RFC 7636's base64url without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeEncoding {
    Base64Url,
    Hex,
}

impl ChallengeEncoding {
    /// `TIKTOK_PKCE_CHALLENGE_ENCODING`: `base64url` or `hex`.
    pub fn parse(value: &str) -> Option<ChallengeEncoding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "base64url" => Some(ChallengeEncoding::Base64Url),
            "hex" => Some(ChallengeEncoding::Hex),
            _ => None,
        }
    }
}

/// `bytes` random bytes, base64url without padding (URL-safe, RFC 7636's unreserved
/// characters only).
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buffer = vec![0u8; bytes];
    getrandom::getrandom(&mut buffer)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// A new OAuth state: 256 random bits, 43 characters.
pub fn new_state() -> Result<String, getrandom::Error> {
    random_token(32)
}

/// A new code verifier: 384 random bits, 64 characters (RFC 7636 asks for 43 to 128).
pub fn new_verifier() -> Result<String, getrandom::Error> {
    random_token(48)
}

/// The S256 code challenge of a verifier.
pub fn challenge(verifier: &str, encoding: ChallengeEncoding) -> String {
    let digest = Sha256::digest(verifier.as_bytes());
    match encoding {
        ChallengeEncoding::Base64Url => URL_SAFE_NO_PAD.encode(digest),
        ChallengeEncoding::Hex => hex(&digest),
    }
}

/// What a state is stored as: its SHA-256, hex. A leaked table row cannot be replayed.
pub fn state_hash(state: &str) -> String {
    hex(&Sha256::digest(state.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_challenge() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            challenge(verifier, ChallengeEncoding::Base64Url),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let hex = challenge(verifier, ChallengeEncoding::Hex);
        assert_eq!(hex.len(), 64);
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn states_and_verifiers_are_long_random_and_url_safe() {
        let (a, b) = (new_state().unwrap(), new_state().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits");
        let verifier = new_verifier().unwrap();
        assert!((43..=128).contains(&verifier.len()));
        let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        assert!(verifier.chars().all(unreserved) && a.chars().all(unreserved));
        assert_ne!(state_hash(&a), a);
        assert_eq!(state_hash(&a).len(), 64);
    }

    #[test]
    fn encodings_are_read_from_the_setting() {
        assert_eq!(
            ChallengeEncoding::parse("HEX"),
            Some(ChallengeEncoding::Hex)
        );
        assert_eq!(
            ChallengeEncoding::parse("base64url"),
            Some(ChallengeEncoding::Base64Url)
        );
        assert_eq!(ChallengeEncoding::parse("plain"), None);
    }
}

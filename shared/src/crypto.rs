//! Fernet encryption of stored TikTok tokens, compatible with Python's
//! `cryptography.fernet` (rows the earlier backend wrote stay readable).
//!
//! `ENCRYPTION_KEY` may hold several comma-separated keys: the first encrypts, any
//! decrypts, so keys can be rotated without a migration.

use fernet::Fernet;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no key given")]
    Empty,
    #[error("key #{0} is not 32 url-safe base64-encoded bytes")]
    Malformed(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("token does not decrypt with any configured key")]
pub struct DecryptError;

#[derive(Clone)]
pub struct TokenCipher {
    /// Never empty; `keys[0]` encrypts.
    keys: Vec<Fernet>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenCipher({} key(s), redacted)", self.keys.len())
    }
}

impl TokenCipher {
    /// Parses a comma-separated list of Fernet keys.
    pub fn from_keys(keys: &str) -> Result<Self, KeyError> {
        let keys = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(i, k)| Fernet::new(k).ok_or(KeyError::Malformed(i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(TokenCipher { keys })
    }

    /// Encrypts with the first key. The result is a Fernet token (version 0x80).
    pub fn encrypt(&self, plaintext: &str) -> String {
        self.keys[0].encrypt(plaintext.as_bytes())
    }

    /// Decrypts with any configured key. Stored tokens carry no TTL, like the earlier
    /// backend's.
    pub fn decrypt(&self, token: &str) -> Result<String, DecryptError> {
        let plaintext = self
            .keys
            .iter()
            .find_map(|key| key.decrypt(token).ok())
            .ok_or(DecryptError)?;
        String::from_utf8(plaintext).map_err(|_| DecryptError)
    }

    #[cfg(test)]
    fn decrypt_at(&self, token: &str, ttl: Option<u64>, now: u64) -> Result<Vec<u8>, DecryptError> {
        self.keys
            .iter()
            .find_map(|key| key.decrypt_at_time(token, ttl, now).ok())
            .ok_or(DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine;
    use serde::Deserialize;

    fn vectors<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
        let path = format!(
            "{}/../testdata/fernet-spec/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn unix(rfc3339: &str) -> u64 {
        let t =
            time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
                .unwrap();
        u64::try_from(t.unix_timestamp()).unwrap()
    }

    #[derive(Deserialize)]
    struct Generate {
        token: String,
        now: String,
        iv: Vec<u8>,
        src: String,
        secret: String,
    }

    #[derive(Deserialize)]
    struct Verify {
        token: String,
        now: String,
        ttl_sec: u64,
        src: String,
        secret: String,
    }

    #[derive(Deserialize)]
    struct Invalid {
        desc: String,
        token: String,
        now: String,
        ttl_sec: u64,
        secret: String,
    }

    /// Builds a token from its parts with the RustCrypto primitives, as the spec
    /// describes, because the `fernet` crate has no way to fix the IV.
    fn spec_token(secret: &str, now: u64, iv: &[u8], src: &[u8]) -> String {
        use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
        use hmac::Mac;
        let key = URL_SAFE.decode(secret).unwrap();
        let (signing, encryption) = key.split_at(16);
        let ciphertext = cbc::Encryptor::<aes::Aes128>::new(encryption.into(), iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(src);
        let mut message = vec![0x80];
        message.extend_from_slice(&now.to_be_bytes());
        message.extend_from_slice(iv);
        message.extend_from_slice(&ciphertext);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(signing).unwrap();
        mac.update(&message);
        message.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(message)
    }

    #[test]
    fn spec_generate_vectors_are_reproduced_and_decrypt() {
        let cases: Vec<Generate> = vectors("generate.json");
        assert!(!cases.is_empty());
        for case in cases {
            let now = unix(&case.now);
            assert_eq!(
                spec_token(&case.secret, now, &case.iv, case.src.as_bytes()),
                case.token
            );
            let cipher = TokenCipher::from_keys(&case.secret).unwrap();
            assert_eq!(
                cipher.decrypt_at(&case.token, None, now).unwrap(),
                case.src.as_bytes()
            );
        }
    }

    #[test]
    fn spec_verify_vectors_decrypt() {
        let cases: Vec<Verify> = vectors("verify.json");
        assert!(!cases.is_empty());
        for case in cases {
            let cipher = TokenCipher::from_keys(&case.secret).unwrap();
            let plain = cipher
                .decrypt_at(&case.token, Some(case.ttl_sec), unix(&case.now))
                .unwrap();
            assert_eq!(plain, case.src.as_bytes());
        }
    }

    #[test]
    fn spec_invalid_vectors_are_all_refused() {
        let cases: Vec<Invalid> = vectors("invalid.json");
        assert_eq!(cases.len(), 8);
        for case in cases {
            let cipher = TokenCipher::from_keys(&case.secret).unwrap();
            let result = cipher.decrypt_at(&case.token, Some(case.ttl_sec), unix(&case.now));
            assert_eq!(result, Err(DecryptError), "{}", case.desc);
        }
    }

    #[test]
    fn round_trip_and_rotation() {
        let old = Fernet::generate_key();
        let new = Fernet::generate_key();
        let before = TokenCipher::from_keys(&old).unwrap();
        let stored = before.encrypt("act.example");
        assert!(stored.starts_with("gAAAAA"), "version byte 0x80");
        let rotated = TokenCipher::from_keys(&format!("{new}, {old}")).unwrap();
        assert_eq!(rotated.decrypt(&stored).unwrap(), "act.example");
        let fresh = rotated.encrypt("rft.example");
        assert_eq!(
            TokenCipher::from_keys(&new)
                .unwrap()
                .decrypt(&fresh)
                .unwrap(),
            "rft.example"
        );
        assert_eq!(before.decrypt(&fresh), Err(DecryptError));
    }

    #[test]
    fn malformed_keys_are_named_by_position() {
        let good = Fernet::generate_key();
        assert_eq!(TokenCipher::from_keys("").unwrap_err(), KeyError::Empty);
        assert_eq!(TokenCipher::from_keys(" , ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            TokenCipher::from_keys(&format!("{good},short")).unwrap_err(),
            KeyError::Malformed(2)
        );
    }

    #[test]
    fn debug_never_shows_keys() {
        let key = Fernet::generate_key();
        let cipher = TokenCipher::from_keys(&key).unwrap();
        assert!(!format!("{cipher:?}").contains(&key));
    }
}

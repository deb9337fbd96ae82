//! Tokens stay readable across the Rust functions and the earlier Python backend
//! (`cryptography.fernet`, as `tests/fixtures/legacy_fernet.py` uses it), both ways,
//! including with rotated keys.

use integration_tests::legacy_fernet;
use shared::crypto::TokenCipher;

#[test]
fn python_tokens_decrypt_in_rust_and_rust_tokens_in_python() {
    let key = legacy_fernet(&["keys", "1"]);
    let cipher = TokenCipher::from_keys(&key).unwrap();

    let from_python = legacy_fernet(&["encrypt", &key, "act.from-python"]);
    assert_eq!(cipher.decrypt(&from_python).unwrap(), "act.from-python");

    let from_rust = cipher.encrypt("rft.from-rust");
    let decrypted = legacy_fernet(&["decrypt", &from_rust, &key]);
    assert_eq!(decrypted, "rft.from-rust");
}

#[test]
fn rotation_matches_python_multifernet() {
    let keys = legacy_fernet(&["keys", "2"]);
    let mut lines = keys.lines();
    let (new, old) = (lines.next().unwrap(), lines.next().unwrap());
    let old_token = legacy_fernet(&["encrypt", old, "old"]);
    let cipher = TokenCipher::from_keys(&format!("{new},{old}")).unwrap();
    assert_eq!(cipher.decrypt(&old_token).unwrap(), "old");
    // Python's MultiFernet with the same list reads what Rust wrote with the first key,
    // and so does the first key alone.
    let ours = cipher.encrypt("new");
    let read = legacy_fernet(&["decrypt", &ours, &format!("{new},{old}"), new]);
    assert_eq!(read, "new\nnew");
}

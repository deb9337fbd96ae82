//! Tokens stay readable across the Rust functions and the earlier Python backend
//! (`cryptography.fernet`), both ways, including with rotated keys.

use integration_tests::python;
use shared::crypto::TokenCipher;

#[test]
fn python_tokens_decrypt_in_rust_and_rust_tokens_in_python() {
    let key = python(
        "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())",
        &[],
    );
    let cipher = TokenCipher::from_keys(&key).unwrap();

    let from_python = python(
        "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).encrypt(b'act.from-python').decode())",
        &[&key],
    );
    assert_eq!(cipher.decrypt(&from_python).unwrap(), "act.from-python");

    let from_rust = cipher.encrypt("rft.from-rust");
    let decrypted = python(
        "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).decrypt(sys.argv[2].encode()).decode())",
        &[&key, &from_rust],
    );
    assert_eq!(decrypted, "rft.from-rust");
}

#[test]
fn rotation_matches_python_multifernet() {
    let keys = python(
        "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode()); print(Fernet.generate_key().decode())",
        &[],
    );
    let mut lines = keys.lines();
    let (new, old) = (lines.next().unwrap(), lines.next().unwrap());
    let old_token = python(
        "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).encrypt(b'old').decode())",
        &[old],
    );
    let cipher = TokenCipher::from_keys(&format!("{new},{old}")).unwrap();
    assert_eq!(cipher.decrypt(&old_token).unwrap(), "old");
    // Python's MultiFernet with the same list reads what Rust wrote with the first key.
    let ours = cipher.encrypt("new");
    let read = python(
        "import sys; from cryptography.fernet import Fernet, MultiFernet; \
         m = MultiFernet([Fernet(sys.argv[1].encode()), Fernet(sys.argv[2].encode())]); \
         print(m.decrypt(sys.argv[3].encode()).decode()); print(Fernet(sys.argv[1].encode()).decrypt(sys.argv[3].encode()).decode())",
        &[new, old, &ours],
    );
    assert_eq!(read, "new\nnew");
}

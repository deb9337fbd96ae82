//! Firebase: users at the Auth emulator, and ID tokens of our own making (signed with a
//! local RSA key as Google signs them, or unsigned as the emulator's).

use serde_json::{json, Value};

use crate::fault_proxy::StaticServer;
use crate::stack::{http, record_secret, stack_var, unique};

pub struct FirebaseUser {
    pub uid: String,
    pub id_token: String,
    pub email: String,
}

/// An Identity Toolkit URL at the emulator.
fn emulator_url(path: &str) -> String {
    let host = stack_var("FIREBASE_AUTH_EMULATOR_HOST");
    format!("http://{host}/identitytoolkit.googleapis.com/v1/{path}")
}

/// An Identity Toolkit URL of the stack's project at the emulator.
fn project_url(path: &str) -> String {
    let project = stack_var("FIREBASE_PROJECT_ID");
    emulator_url(&format!("projects/{project}/{path}"))
}

/// Signs a new email/password user up at the emulator and returns its ID token.
pub async fn firebase_user() -> FirebaseUser {
    let email = format!("{}@example.com", unique("user"));
    let answer: Value = http()
        .post(emulator_url("accounts:signUp?key=local"))
        .json(&json!({"email": email, "password": "password-123", "returnSecureToken": true}))
        .send()
        .await
        .expect("emulator signUp")
        .json()
        .await
        .expect("signUp answer");
    let id_token = answer["idToken"].as_str().expect("idToken").to_owned();
    record_secret(&id_token);
    FirebaseUser {
        uid: answer["localId"].as_str().expect("localId").to_owned(),
        id_token,
        email,
    }
}

/// Creates a user with this uid at the emulator, as the Admin SDK would; the status.
pub async fn firebase_create_user(uid: &str) -> reqwest::StatusCode {
    http()
        .post(project_url("accounts"))
        .bearer_auth("owner")
        .json(&json!({"localId": uid}))
        .send()
        .await
        .expect("create user")
        .status()
}

/// Exchanges a custom token at the emulator, as the frontend's `signInWithCustomToken`
/// does; returns the ID token.
pub async fn sign_in_with_custom_token(custom_token: &str) -> Result<String, String> {
    let answer: Value = http()
        .post(emulator_url("accounts:signInWithCustomToken?key=local"))
        .json(&json!({"token": custom_token, "returnSecureToken": true}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    answer["idToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| answer.to_string())
}

/// A Firebase user as the emulator holds it, or `None`.
pub async fn firebase_lookup(uid: &str) -> Option<Value> {
    let answer: Value = http()
        .post(project_url("accounts:lookup"))
        .bearer_auth("owner")
        .json(&json!({"localId": [uid]}))
        .send()
        .await
        .expect("lookup")
        .json()
        .await
        .expect("lookup answer");
    answer["users"].as_array().and_then(|u| u.first().cloned())
}

/// The claims of a JWT, unverified (for checking what a test received).
pub fn jwt_claims(token: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("JWT");
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .expect("base64"),
    )
    .expect("claims")
}

/// An ID token of `user` (shaped as the emulator's) whose sign-in was `secs_ago` ago.
pub fn session_signed_in(user: &FirebaseUser, secs_ago: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let project = stack_var("FIREBASE_PROJECT_ID");
    let token = unsigned_token(json!({
        "aud": project, "iss": format!("https://securetoken.google.com/{project}"),
        "sub": user.uid, "iat": now - 10, "exp": now + 3600, "auth_time": now - secs_ago,
        "email": user.email, "email_verified": false
    }));
    record_secret(&token);
    token
}

/// An unsigned token shaped like the emulator's, with claims of our choosing.
pub fn unsigned_token(claims: Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A JWT signed RS256 with `private_pem`, as Google signs ID tokens, with `kid` (if
/// any) naming the key in its header.
pub fn sign_rs256(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA key"),
    )
    .expect("signed JWT")
}

/// Google's x509 certificate endpoint: serves `certs` (key id to certificate PEM) with
/// this `Cache-Control`.
pub async fn certificate_server(certs: Value, cache_control: &str) -> StaticServer {
    let headers = vec![("Cache-Control".to_owned(), cache_control.to_owned())];
    StaticServer::start(200, headers, certs.to_string()).await
}

/// A fresh RSA key and a self-signed certificate for it, made by the `openssl` CLI:
/// (private key PEM, certificate PEM).
pub fn rsa_key_and_certificate() -> (String, String) {
    let dir = std::env::temp_dir().join(unique("rsa"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=securetoken-test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req failed");
    let pair = (
        std::fs::read_to_string(&key).expect("key"),
        std::fs::read_to_string(&cert).expect("cert"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    pair
}

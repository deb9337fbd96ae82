//! Helpers for tests against the local stack started by `scripts/with-stack.sh`:
//! PostgreSQL behind postrust, the Firebase Auth emulator, moto, and the TikTok fake.
//! Each test makes its own users and TikTok accounts, so tests run in parallel.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use shared::config::Config;
use shared::LiveApp;

/// A setting of the running stack; tests cannot run without it.
pub fn stack_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through scripts/test.sh (or scripts/with-stack.sh)"
        )
    })
}

/// The functions' settings as the stack gives them.
pub fn function_env() -> HashMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("SUPABASE_")
                || k.starts_with("TIKTOK_")
                || k.starts_with("FIREBASE_")
                || k == "ENCRYPTION_KEY"
                || k == "PROFILE_CACHE_TTL_SECONDS"
        })
        .collect()
}

pub fn config() -> Config {
    let env = function_env();
    assert!(
        env.contains_key("SUPABASE_REST_URL"),
        "run the tests through scripts/test.sh"
    );
    Config::from_sources(&env, HashMap::new()).expect("stack configuration")
}

/// An app wired to the stack exactly as a function's cold start wires it.
pub fn live_app() -> LiveApp {
    init_test_logging();
    LiveApp::from_config(&config()).expect("app")
}

/// Every log line of the test process, at the most verbose level, goes to a file under
/// the stack's run directory; `tests/check_leaks.py` then fails the run if a token or a
/// key appears in any of them.
pub fn init_test_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(dir) = std::env::var("STACK_DIR") else {
            return;
        };
        let dir = std::path::Path::new(&dir).join("logs");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("test-{}.log", std::process::id()));
        if let Ok(file) = std::fs::File::create(path) {
            let writer = std::sync::Mutex::new(file);
            shared::runtime::init_logging_with(
                writer,
                lambda_http::tracing::subscriber::filter::LevelFilter::TRACE,
                true,
            );
        }
    });
}

/// Records a credential the tests made, for the log leak check.
pub fn record_secret(value: &str) {
    let Ok(dir) = std::env::var("STACK_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join("secrets");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(unique("secret")), value);
}

pub fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// An `events/` file as an API Gateway request, with the placeholders replaced.
pub fn event(name: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let json = event_json(name, replacements);
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// An `events/` file as JSON text, with the placeholders replaced: the body as the
/// client sent it (decoded, when base64), the rest as text.
pub fn event_json(name: &str, replacements: &[(&str, &str)]) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let path = workspace_path(&format!("events/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let replace = |mut text: String| {
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        text
    };
    let mut value: Value = serde_json::from_str(&text).expect("event JSON");
    let body = value.as_object_mut().and_then(|o| o.remove("body"));
    let mut value: Value = serde_json::from_str(&replace(value.to_string())).expect("event JSON");
    if let Some(Value::String(body)) = body {
        let base64 = value["isBase64Encoded"] == true;
        let decoded = if base64 {
            String::from_utf8(STANDARD.decode(&body).expect("base64 body")).expect("utf-8")
        } else {
            body
        };
        let replaced = replace(decoded);
        value["body"] = Value::String(if base64 {
            STANDARD.encode(replaced)
        } else {
            replaced
        });
    }
    value.to_string()
}

/// An event with the `authorization` header removed or set to `value`.
pub fn with_authorization(
    mut req: lambda_http::Request,
    value: Option<&str>,
) -> lambda_http::Request {
    match value {
        Some(v) => {
            req.headers_mut()
                .insert("authorization", v.parse().expect("header"));
        }
        None => {
            req.headers_mut().remove("authorization");
        }
    }
    req
}

pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

pub fn reply(response: lambda_http::Response<lambda_http::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

// --- Firebase Auth emulator ---------------------------------------------------------

pub struct FirebaseUser {
    pub uid: String,
    pub id_token: String,
    pub email: String,
}

/// Signs a new email/password user up at the emulator and returns its ID token.
pub async fn firebase_user() -> FirebaseUser {
    let host = stack_var("FIREBASE_AUTH_EMULATOR_HOST");
    let email = format!("{}@example.com", unique("user"));
    let answer: Value = http()
        .post(format!(
            "http://{host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=local"
        ))
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

// --- TikTok fake --------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct TikTokAccount {
    pub open_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub scope: String,
}

pub struct TikTokFake {
    base: String,
    http: reqwest::Client,
}

impl Default for TikTokFake {
    fn default() -> Self {
        Self::new()
    }
}

impl TikTokFake {
    pub fn new() -> Self {
        TikTokFake {
            base: stack_var("STACK_TIKTOK_URL"),
            http: http(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("fake");
        assert!(
            response.status().is_success(),
            "fake {path}: {}",
            response.status()
        );
        response.json().await.expect("fake answer")
    }

    /// A new TikTok user who authorised the app with `scope`.
    pub async fn account(&self, scope: &str) -> TikTokAccount {
        let open_id = unique("-000open");
        let grant = self
            .post(
                "/_fake/accounts",
                json!({"open_id": open_id, "scope": scope}),
            )
            .await;
        TikTokAccount {
            open_id,
            access_token: grant["access_token"].as_str().expect("access").to_owned(),
            refresh_token: grant["refresh_token"].as_str().expect("refresh").to_owned(),
            scope: scope.to_owned(),
        }
    }

    pub async fn expire_access(&self, open_id: &str) {
        self.post("/_fake/expire_access", json!({"open_id": open_id}))
            .await;
    }

    /// The user removed the app in TikTok's settings: every token of theirs is dead.
    pub async fn deauthorize(&self, open_id: &str) {
        self.post("/_fake/deauthorize", json!({"open_id": open_id}))
            .await;
    }

    pub async fn invalidate_refresh(&self, open_id: &str) {
        self.post("/_fake/invalidate_refresh", json!({"open_id": open_id}))
            .await;
    }

    /// The next responses of `endpoint` (`user_info`, `token`, `revoke`) for this account.
    pub async fn script(&self, open_id: &str, endpoint: &str, responses: Value) {
        self.post(
            "/_fake/faults",
            json!({"open_id": open_id, "endpoint": endpoint, "responses": responses}),
        )
        .await;
    }

    pub async fn refresh_token_valid(&self, open_id: &str, refresh_token: &str) -> bool {
        let answer = self
            .post(
                "/_fake/check_refresh",
                json!({"open_id": open_id, "refresh_token": refresh_token}),
            )
            .await;
        answer["valid"].as_bool().unwrap_or(false)
    }

    /// Calls the account received, by endpoint name.
    pub async fn calls(&self, open_id: &str) -> Vec<Value> {
        let answer: Value = self
            .http
            .get(format!("{}/_fake/calls", self.base))
            .query(&[("open_id", open_id)])
            .send()
            .await
            .expect("fake calls")
            .json()
            .await
            .expect("calls answer");
        answer["calls"].as_array().cloned().unwrap_or_default()
    }

    pub async fn count(&self, open_id: &str, endpoint: &str) -> usize {
        self.calls(open_id)
            .await
            .iter()
            .filter(|c| c["endpoint"] == endpoint)
            .count()
    }
}

// --- Database through PostgREST, as the service role ---------------------------------

pub struct Db {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            base: stack_var("SUPABASE_REST_URL"),
            key: stack_var("SUPABASE_SERVICE_KEY"),
            http: http(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .header("apikey", &self.key)
            .bearer_auth(&self.key)
    }

    pub async fn rpc(&self, function: &str, args: Value) -> Value {
        let response = self
            .request(reqwest::Method::POST, &format!("rpc/{function}"))
            .json(&args)
            .send()
            .await
            .expect("rpc");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "rpc {function}: {status} {body}");
        body
    }

    /// The `users.id` of a Firebase uid, creating the row.
    pub async fn user_id(&self, firebase_uid: &str) -> i64 {
        self.rpc("ensure_app_user", json!({"p_firebase_uid": firebase_uid}))
            .await
            .as_i64()
            .expect("user id")
    }

    pub async fn insert_connection(&self, row: Value) -> Value {
        let response = self
            .request(reqwest::Method::POST, "social_connections")
            .header("Prefer", "return=representation")
            .json(&row)
            .send()
            .await
            .expect("insert");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "insert: {status} {body}");
        body[0].clone()
    }

    pub async fn connections_of(&self, user_id: i64) -> Vec<Value> {
        self.request(reqwest::Method::GET, "social_connections")
            .query(&[("user_id", format!("eq.{user_id}")), ("order", "id".into())])
            .send()
            .await
            .expect("select")
            .json()
            .await
            .expect("rows")
    }

    pub async fn connection(&self, id: i64) -> Value {
        let rows: Vec<Value> = self
            .request(reqwest::Method::GET, "social_connections")
            .query(&[("id", format!("eq.{id}"))])
            .send()
            .await
            .expect("select")
            .json()
            .await
            .expect("rows");
        rows.into_iter().next().unwrap_or(Value::Null)
    }
}

/// Runs `psql` against the stack's PostgreSQL as the superuser.
pub fn psql(sql: &str) -> String {
    let output = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            &stack_var("STACK_PG_URL"),
            "-c",
            sql,
        ])
        .output()
        .expect("psql");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Python with `cryptography`, as the earlier backend used.
pub fn python(script: &str, args: &[&str]) -> String {
    let python = std::env::var("STACK_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

// --- A tiny local HTTP server (certificate endpoints and the like) -------------------

/// Serves every request with the same answer, counting requests. HTTP/1.1, one request
/// per connection.
pub struct StaticServer {
    pub url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl StaticServer {
    pub async fn start(status: u16, headers: Vec<(String, String)>, body: String) -> StaticServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen_requests = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (headers, body) = (headers.clone(), body.clone());
                let seen_requests = seen_requests.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    // Read a body announced by Content-Length, then keep the request.
                    let text = String::from_utf8_lossy(&seen).to_string();
                    let head_len = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(seen.len());
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    while seen.len() < head_len + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    if let Ok(mut all) = seen_requests.lock() {
                        all.push(String::from_utf8_lossy(&seen).to_string());
                    }
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in &headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        StaticServer {
            url,
            hits,
            requests,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The raw requests received so far (head and body).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
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

/// Exchanges a custom token at the emulator, as the frontend's `signInWithCustomToken`
/// does; returns the ID token.
pub async fn sign_in_with_custom_token(custom_token: &str) -> Result<String, String> {
    let host = stack_var("FIREBASE_AUTH_EMULATOR_HOST");
    let answer: Value = http()
        .post(format!("http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=local"))
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
    let host = stack_var("FIREBASE_AUTH_EMULATOR_HOST");
    let project = stack_var("FIREBASE_PROJECT_ID");
    let answer: Value = http()
        .post(format!(
            "http://{host}/identitytoolkit.googleapis.com/v1/projects/{project}/accounts:lookup"
        ))
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

impl TikTokFake {
    /// The user authorises the app again (a new sign-in): a new grant for the account.
    pub async fn reauthorize(&self, account: &TikTokAccount) -> TikTokAccount {
        let grant = self
            .post(
                "/_fake/accounts",
                json!({"open_id": account.open_id, "scope": account.scope}),
            )
            .await;
        TikTokAccount {
            open_id: account.open_id.clone(),
            access_token: grant["access_token"].as_str().expect("access").to_owned(),
            refresh_token: grant["refresh_token"].as_str().expect("refresh").to_owned(),
            scope: account.scope.clone(),
        }
    }

    /// Refreshes at the fake as a TikTok client would: the account's next token pair.
    pub async fn rotate(&self, account: &TikTokAccount) -> TikTokAccount {
        let grant: Value = self
            .http
            .post(format!("{}/v2/oauth/token/", self.base))
            .form(&[
                ("client_key", stack_var("TIKTOK_CLIENT_KEY")),
                ("client_secret", stack_var("TIKTOK_CLIENT_SECRET")),
                ("grant_type", "refresh_token".into()),
                ("refresh_token", account.refresh_token.clone()),
            ])
            .send()
            .await
            .expect("refresh")
            .json()
            .await
            .expect("grant");
        TikTokAccount {
            open_id: account.open_id.clone(),
            access_token: grant["access_token"].as_str().expect("access").to_owned(),
            refresh_token: grant["refresh_token"].as_str().expect("refresh").to_owned(),
            scope: account.scope.clone(),
        }
    }
}

/// Calls the handler of the named function, as its Lambda binary would.
pub async fn dispatch<P: shared::Ports>(
    function: &str,
    app: &shared::App<P>,
    req: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    shared::testing::dispatch(function, app, &req)
        .await
        .unwrap_or_else(|| panic!("unknown function {function}"))
}

pub use shared::error::code::ALL as CONTRACT_CODES;
pub use shared::testing::FUNCTIONS;

/// Replaces a request's body (text, or base64 bytes as API Gateway sends binary).
pub fn with_raw_body(
    mut req: lambda_http::Request,
    body: lambda_http::Body,
) -> lambda_http::Request {
    *req.body_mut() = body;
    req
}

/// Replaces a request's method.
pub fn with_method(mut req: lambda_http::Request, method: &str) -> lambda_http::Request {
    *req.method_mut() = method.parse().expect("method");
    req
}

/// Replaces a request's query string parameters.
pub fn with_query(req: lambda_http::Request, params: &[(&str, &str)]) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let map: std::collections::HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    req.with_query_string_parameters(map)
}

// --- A fault-injecting HTTP proxy (PostgREST, the Firebase emulator) -----------------

/// What the proxy does instead of forwarding.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a short JSON body.
    Status(u16),
    /// Answer 200 with a body that is not what the client expects.
    Garbage,
    /// Wait this long, then forward.
    Slow(std::time::Duration),
    /// Close the connection without answering.
    Drop,
}

/// An HTTP/1.1 proxy in front of a real service that forwards every request unless a
/// fault rule matches its path. Keeps connections alive as the clients expect.
pub struct FaultProxy {
    pub url: String,
    rules: std::sync::Arc<std::sync::Mutex<Vec<(String, Fault)>>>,
    forwarded: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

struct ProxyRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn read_request(
    socket: &mut tokio::net::TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<ProxyRequest> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(ProxyRequest {
        method,
        path,
        headers,
        body,
    })
}

async fn write_response(
    socket: &mut tokio::net::TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> bool {
    use tokio::io::AsyncWriteExt;
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.is_ok() && socket.write_all(body).await.is_ok()
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let rules: std::sync::Arc<std::sync::Mutex<Vec<(String, Fault)>>> = Default::default();
        let forwarded: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let (upstream, rules2, forwarded2) = (
            upstream.trim_end_matches('/').to_owned(),
            rules.clone(),
            forwarded.clone(),
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (upstream, rules, forwarded, client) = (
                    upstream.clone(),
                    rules2.clone(),
                    forwarded2.clone(),
                    client.clone(),
                );
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    while let Some(req) = read_request(&mut socket, &mut buffer).await {
                        let fault = rules.lock().ok().and_then(|r| {
                            r.iter()
                                .find(|(p, _)| rule_matches(p, &req.path))
                                .map(|(_, f)| f.clone())
                        });
                        let json = vec![("Content-Type".to_owned(), "application/json".to_owned())];
                        match fault {
                            Some(Fault::Status(status)) => {
                                let body = format!(
                                    "{{\"code\":\"FAULT\",\"message\":\"injected {status}\"}}"
                                );
                                if !write_response(&mut socket, status, &json, body.as_bytes())
                                    .await
                                {
                                    return;
                                }
                                continue;
                            }
                            Some(Fault::Garbage) => {
                                let html =
                                    vec![("Content-Type".to_owned(), "text/html".to_owned())];
                                if !write_response(
                                    &mut socket,
                                    200,
                                    &html,
                                    b"<html>upstream garbage",
                                )
                                .await
                                {
                                    return;
                                }
                                continue;
                            }
                            Some(Fault::Drop) => return,
                            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
                            None => {}
                        }
                        if let Ok(mut f) = forwarded.lock() {
                            f.push(format!("{} {}", req.method, req.path));
                        }
                        let method = reqwest::Method::from_bytes(req.method.as_bytes())
                            .unwrap_or(reqwest::Method::GET);
                        let mut outbound = client
                            .request(method, format!("{upstream}{}", req.path))
                            .body(req.body);
                        for (k, v) in &req.headers {
                            if !matches!(
                                k.as_str(),
                                "host" | "content-length" | "connection" | "transfer-encoding"
                            ) {
                                outbound = outbound.header(k, v);
                            }
                        }
                        let Ok(response) = outbound.send().await else {
                            return;
                        };
                        let status = response.status().as_u16();
                        let headers: Vec<(String, String)> = response
                            .headers()
                            .iter()
                            .filter(|(k, _)| {
                                !matches!(
                                    k.as_str(),
                                    "content-length" | "connection" | "transfer-encoding"
                                )
                            })
                            .filter_map(|(k, v)| {
                                v.to_str().ok().map(|v| (k.to_string(), v.to_owned()))
                            })
                            .collect();
                        let body = response.bytes().await.unwrap_or_default();
                        if !write_response(&mut socket, status, &headers, &body).await {
                            return;
                        }
                    }
                });
            }
        });
        FaultProxy {
            url,
            rules,
            forwarded,
        }
    }

    /// Requests whose path contains `path` get `fault` until [`FaultProxy::heal`].
    pub fn fail(&self, path: &str, fault: Fault) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push((path.to_owned(), fault));
        }
    }

    pub fn heal(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
        }
    }

    /// Requests forwarded to the real service so far, as "METHOD /path?query".
    pub fn forwarded(&self) -> Vec<String> {
        self.forwarded.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// A rule matches a path containing it, or, written `=suffix`, a path ending with it.
fn rule_matches(rule: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    match rule.strip_prefix('=') {
        Some(suffix) => path.ends_with(suffix),
        None => path.contains(rule),
    }
}

/// A loopback port nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// An app whose settings differ from the stack's as given.
pub fn app_with(overrides: &[(&str, &str)]) -> LiveApp {
    init_test_logging();
    let mut env = function_env();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_sources(&env, HashMap::new()).expect("config");
    LiveApp::from_config(&config).expect("app")
}

/// A good request for the function, for this user and TikTok account (the events/
/// files with their placeholders filled in).
pub fn good_request(
    function: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
) -> lambda_http::Request {
    lambda_http::request::from_str(&good_request_json(function, user, account)).expect("event")
}

/// [`good_request`] as the JSON event the Lambda runtime delivers.
pub fn good_request_json(function: &str, user: &FirebaseUser, account: &TikTokAccount) -> String {
    let expires =
        shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::hours(2));
    let email = format!("{}@example.com", account.open_id.trim_start_matches('-'));
    let replacements = [
        ("REPLACE_WITH_FIREBASE_ID_TOKEN", user.id_token.as_str()),
        ("REPLACE_WITH_OPEN_ID", account.open_id.as_str()),
        ("REPLACE_WITH_ACCESS_TOKEN", account.access_token.as_str()),
        ("REPLACE_WITH_REFRESH_TOKEN", account.refresh_token.as_str()),
        ("REPLACE_WITH_EXPIRES_AT", expires.as_str()),
        ("REPLACE_WITH_EMAIL", email.as_str()),
        ("REPLACE_WITH_PROVIDER", "tiktok"),
        ("REPLACE_WITH_ACCOUNT_ID", account.open_id.as_str()),
    ];
    let file = match function {
        "oauth-tiktok" => "oauth-tiktok/link.json".to_owned(),
        "update-connection" => "update-connection/relabel.json".to_owned(),
        other => format!("{other}/ok.json"),
    };
    event_json(&file, &replacements)
}

/// Runs futures concurrently on the current task and returns their outputs in order
/// (the requests of a test borrow its app, so they are not spawned).
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, result) in pending.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *result = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

// --- A minimal Lambda Runtime API (runs the real function binaries) ------------------

/// The few routes of the Lambda Runtime API a function binary uses: it asks for the
/// next event, posts a response or an error. Events are queued by the test.
pub struct RuntimeApi {
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: std::sync::Arc<RuntimeState>,
}

#[derive(Default)]
struct RuntimeState {
    events: std::sync::Mutex<std::collections::VecDeque<(String, String)>>,
    responses: std::sync::Mutex<Vec<(String, String)>>,
    next_requests: std::sync::atomic::AtomicUsize,
    first_next: std::sync::Mutex<Option<std::time::Instant>>,
    changed: tokio::sync::Notify,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let state: std::sync::Arc<RuntimeState> = Default::default();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    while let Some(req) = read_request(&mut socket, &mut buffer).await {
                        let ok = if req.method == "GET"
                            && req.path.ends_with("/runtime/invocation/next")
                        {
                            state
                                .next_requests
                                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            if let Ok(mut first) = state.first_next.lock() {
                                first.get_or_insert_with(std::time::Instant::now);
                            }
                            state.changed.notify_waiters();
                            let (id, event) = loop {
                                let notified = state.changed.notified();
                                if let Some(e) =
                                    state.events.lock().ok().and_then(|mut q| q.pop_front())
                                {
                                    break e;
                                }
                                notified.await;
                            };
                            let deadline = (std::time::SystemTime::now()
                                + std::time::Duration::from_secs(30))
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0);
                            let headers = vec![
                                ("Content-Type".to_owned(), "application/json".to_owned()),
                                ("Lambda-Runtime-Aws-Request-Id".to_owned(), id),
                                (
                                    "Lambda-Runtime-Deadline-Ms".to_owned(),
                                    deadline.to_string(),
                                ),
                                (
                                    "Lambda-Runtime-Invoked-Function-Arn".to_owned(),
                                    "arn:aws:lambda:us-east-1:000000000000:function:local"
                                        .to_owned(),
                                ),
                                (
                                    "Lambda-Runtime-Trace-Id".to_owned(),
                                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                                ),
                            ];
                            write_response(&mut socket, 200, &headers, event.as_bytes()).await
                        } else if req.method == "POST"
                            && (req.path.ends_with("/response") || req.path.ends_with("/error"))
                        {
                            let id = req
                                .path
                                .split('/')
                                .rev()
                                .nth(1)
                                .unwrap_or_default()
                                .to_owned();
                            if let Ok(mut r) = state.responses.lock() {
                                r.push((id, String::from_utf8_lossy(&req.body).to_string()));
                            }
                            state.changed.notify_waiters();
                            write_response(&mut socket, 202, &[], b"{}").await
                        } else {
                            write_response(&mut socket, 202, &[], b"{}").await
                        };
                        if !ok {
                            return;
                        }
                    }
                });
            }
        });
        RuntimeApi { address, state }
    }

    /// Queues an event; returns its request id.
    pub fn invoke(&self, event: &str) -> String {
        let id = unique("invocation");
        if let Ok(mut q) = self.state.events.lock() {
            q.push_back((id.clone(), event.to_owned()));
        }
        self.state.changed.notify_waiters();
        id
    }

    /// Waits for the response to `id` (the function's answer, as JSON).
    pub async fn response(&self, id: &str, timeout: std::time::Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.changed.notified();
            if let Some((_, body)) = self
                .state
                .responses
                .lock()
                .ok()?
                .iter()
                .find(|(i, _)| i == id)
            {
                return serde_json::from_str(body).ok();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// When the function first asked for an event: it is ready.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        self.state.first_next.lock().ok().and_then(|f| *f)
    }

    pub async fn wait_ready(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.changed.notified();
            if self.first_next().is_some() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }
}

/// A function binary of this workspace (built by `cargo build`).
pub fn function_binary(name: &str, profile: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_path("target"));
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

// --- Configuration from a Secrets Manager secret, as in staging -----------------------

/// Creates a secret in the stack's Secrets Manager (moto) holding the secret settings,
/// as staging's app secret does.
pub async fn create_app_secret(name: &str) {
    let stack = function_env();
    let secret: serde_json::Map<String, Value> = shared::config::SECRET_SETTINGS
        .iter()
        .filter_map(|n| stack.get(*n).map(|v| (n.to_string(), json!(v))))
        .collect();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(name)
        .secret_string(Value::Object(secret).to_string())
        .send()
        .await
        .expect("create secret");
}

/// A function's environment with the secret settings left out and `APP_SECRET_ID`
/// pointing at `secret_id`, reached at `secrets_endpoint`.
pub fn secret_config_env(secret_id: &str, secrets_endpoint: &str) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = function_env()
        .into_iter()
        .filter(|(k, _)| !shared::config::SECRET_SETTINGS.contains(&k.as_str()))
        .collect();
    for name in [
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        env.insert(name.into(), stack_var(name));
    }
    env.insert("APP_SECRET_ID".into(), secret_id.into());
    env.insert(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        secrets_endpoint.into(),
    );
    env
}

/// What the Lambda service sets for a function, plus its settings.
pub fn lambda_env(
    settings: &HashMap<String, String>,
    runtime_api: &str,
    function: &str,
) -> HashMap<String, String> {
    let mut env = settings.clone();
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.into());
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), function.into());
    env.insert("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into());
    env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into());
    env.insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
    env
}

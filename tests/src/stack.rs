//! The local stack started by `scripts/with-stack.sh`: its settings, apps wired to it,
//! the test process's logging, and small utilities every suite uses.

use std::collections::HashMap;
use std::path::PathBuf;

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
                || k == "MEDIA_BUCKET"
                || k == "MEDIA_URL_PREFIXES"
                || k == "EXTRA_CA_CERTS"
                // The region, the role's credentials and the endpoints Lambda's
                // environment (and the local stack) gives every function.
                || k.starts_with("AWS_")
        })
        .collect()
}

/// What the tests' apps read: every secret, and the media bucket.
const NEEDS: shared::config::Needs = shared::config::Needs::BOTH.with_media();

pub fn config() -> Config {
    let env = function_env();
    assert!(
        env.contains_key("SUPABASE_REST_URL"),
        "run the tests through scripts/test.sh"
    );
    Config::from_sources_for(NEEDS, &env, HashMap::new()).expect("stack configuration")
}

/// An app wired to the stack exactly as a function's cold start wires it.
pub fn live_app() -> LiveApp {
    init_test_logging();
    LiveApp::from_config(&config()).expect("app")
}

/// An app whose settings differ from the stack's as given.
pub fn app_with(overrides: &[(&str, &str)]) -> LiveApp {
    let mut env = function_env();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    app_from(&env)
}

/// An app verifying ID tokens as in production (no emulator), against Google-style
/// x509 certificates served at `certs_url`.
pub fn production_app(certs_url: &str) -> LiveApp {
    let mut env = function_env();
    env.remove("FIREBASE_AUTH_EMULATOR_HOST");
    env.insert("FIREBASE_CERTS_URL".into(), certs_url.to_owned());
    app_from(&env)
}

fn app_from(env: &HashMap<String, String>) -> LiveApp {
    init_test_logging();
    let config = Config::from_sources_for(NEEDS, env, HashMap::new()).expect("config");
    LiveApp::from_config(&config).expect("app")
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

/// A file of this workspace, by its path from the workspace root.
pub fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A file under `tests/fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    workspace_path("tests/fixtures").join(name)
}

/// A loopback port nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A name no other test, process or run uses.
/// A new open_id in TikTok's format: `-` or `_`, `000`, then 32 URL-safe characters
/// with `-` and `_` among them (like `-000sr6ziSORMWi9D4IFqm6ADJtH4KS3gO6e`). Every
/// account of the tests has one, so every route that takes an open_id is tested with
/// ids that start with `-` or `_`.
pub fn tiktok_open_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let lead = if n % 2 == 0 { '-' } else { '_' };
    let id = format!("{lead}000{:0>10}-{nanos:0>10}_{n:0>10}", std::process::id());
    debug_assert_eq!(id.len(), 36);
    id
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

/// Now plus `secs` seconds (negative: in the past), as the API writes timestamps.
pub fn from_now(secs: i64) -> String {
    shared::timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
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

//! A minimal Lambda Runtime API, to run the real function binaries: a binary asks for
//! the next event and posts a response or an error; the test queues the events.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::http1::{headers, read_request, write_response};
use crate::stack::{unique, workspace_path};

/// The few routes of the Lambda Runtime API a function binary uses. Events are queued
/// by the test.
pub struct RuntimeApi {
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: Arc<RuntimeState>,
}

#[derive(Default)]
struct RuntimeState {
    events: Mutex<VecDeque<(String, String)>>,
    responses: Mutex<Vec<(String, String)>>,
    next_requests: AtomicUsize,
    first_next: Mutex<Option<Instant>>,
    changed: tokio::sync::Notify,
    /// How long an invocation may take (its deadline); default 30 s.
    timeout: Option<Duration>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        RuntimeApi::start_with_timeout(Duration::from_secs(30)).await
    }

    /// As [`RuntimeApi::start`], each invocation given `timeout` (a function's
    /// configured timeout: a scheduled run works until shortly before it).
    pub async fn start_with_timeout(timeout: Duration) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(RuntimeState {
            timeout: Some(timeout),
            ..Default::default()
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(shared.clone().serve(socket));
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
    pub async fn response(&self, id: &str, timeout: Duration) -> Option<Value> {
        let body = self
            .state
            .wait_for(timeout, |state| {
                state
                    .responses
                    .lock()
                    .ok()?
                    .iter()
                    .find(|(i, _)| i == id)
                    .map(|(_, body)| body.clone())
            })
            .await?;
        serde_json::from_str(&body).ok()
    }

    /// When the function first asked for an event: it is ready.
    pub fn first_next(&self) -> Option<Instant> {
        self.state.first_next.lock().ok().and_then(|f| *f)
    }

    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.state
            .wait_for(timeout, |state| *state.first_next.lock().ok()?)
            .await
            .is_some()
    }
}

impl RuntimeState {
    /// Waits until `found` finds something, or `timeout` passes.
    async fn wait_for<T>(
        &self,
        timeout: Duration,
        found: impl Fn(&Self) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(value) = found(self) {
                return Some(value);
            }
            tokio::time::timeout_at(deadline, notified).await.ok()?;
        }
    }

    /// Serves one connection of a function binary until it closes.
    async fn serve(self: Arc<Self>, mut socket: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(req) = read_request(&mut socket, &mut buffer).await {
            let ok = if req.method == "GET" && req.path.ends_with("/runtime/invocation/next") {
                let (id, event) = self.next_event().await;
                let timeout = self.timeout.unwrap_or(Duration::from_secs(30));
                let deadline = (std::time::SystemTime::now() + timeout)
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0)
                    .to_string();
                let headers = headers(&[
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", &id),
                    ("Lambda-Runtime-Deadline-Ms", &deadline),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:000000000000:function:local",
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0",
                    ),
                ]);
                write_response(&mut socket, 200, &headers, event.as_bytes()).await
            } else {
                if req.method == "POST"
                    && (req.path.ends_with("/response") || req.path.ends_with("/error"))
                {
                    let id = req.path.split('/').rev().nth(1).unwrap_or_default();
                    if let Ok(mut r) = self.responses.lock() {
                        r.push((
                            id.to_owned(),
                            String::from_utf8_lossy(&req.body).to_string(),
                        ));
                    }
                    self.changed.notify_waiters();
                }
                write_response(&mut socket, 202, &[], b"{}").await
            };
            if !ok {
                return;
            }
        }
    }

    /// The function asked for the next event: noted, then the next queued one when
    /// there is one.
    async fn next_event(&self) -> (String, String) {
        self.next_requests.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut first) = self.first_next.lock() {
            first.get_or_insert_with(Instant::now);
        }
        self.changed.notify_waiters();
        loop {
            let notified = self.changed.notified();
            if let Some(e) = self.events.lock().ok().and_then(|mut q| q.pop_front()) {
                return e;
            }
            notified.await;
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

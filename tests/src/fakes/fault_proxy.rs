//! Local HTTP servers that stand in for an upstream: a fault-injecting proxy in front of
//! a real service (PostgREST, the Firebase emulator), and a server answering every
//! request the same way (certificate and token endpoints).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

use super::http1::{headers, read_request, write_response, HttpRequest};

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

type Rules = Arc<Mutex<Vec<(String, Fault)>>>;

/// An HTTP/1.1 proxy in front of a real service that forwards every request unless a
/// fault rule matches its path. Keeps connections alive as the clients expect.
pub struct FaultProxy {
    pub url: String,
    rules: Rules,
    forwarded: Arc<Mutex<Vec<String>>>,
    spans: Spans,
}

/// When each forwarded request started and its answer was written back.
type Spans = Arc<Mutex<Vec<(std::time::Instant, std::time::Instant)>>>;

/// Where a proxy forwards to, and what it has forwarded.
#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    rules: Rules,
    forwarded: Arc<Mutex<Vec<String>>>,
    spans: Spans,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            rules: Default::default(),
            forwarded: Default::default(),
            spans: Default::default(),
        };
        let (rules, forwarded) = (upstream.rules.clone(), upstream.forwarded.clone());
        let spans = upstream.spans.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(upstream.clone().serve(socket));
            }
        });
        FaultProxy {
            url,
            rules,
            forwarded,
            spans,
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

    /// When each forwarded request started and ended, in order.
    pub fn spans(&self) -> Vec<(std::time::Instant, std::time::Instant)> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Requests forwarded to the real service so far, as "METHOD /path?query".
    pub fn forwarded(&self) -> Vec<String> {
        self.forwarded.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

impl Upstream {
    /// Serves one client connection until it closes or a fault drops it.
    async fn serve(self, mut socket: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(req) = read_request(&mut socket, &mut buffer).await {
            let fault = self.rules.lock().ok().and_then(|r| {
                r.iter()
                    .find(|(p, _)| rule_matches(p, &req.path))
                    .map(|(_, f)| f.clone())
            });
            let answered = match fault {
                Some(Fault::Status(status)) => {
                    let body = format!("{{\"code\":\"FAULT\",\"message\":\"injected {status}\"}}");
                    let json = headers(&[("Content-Type", "application/json")]);
                    write_response(&mut socket, status, &json, body.as_bytes()).await
                }
                Some(Fault::Garbage) => {
                    let html = headers(&[("Content-Type", "text/html")]);
                    write_response(&mut socket, 200, &html, b"<html>upstream garbage").await
                }
                Some(Fault::Drop) => return,
                Some(Fault::Slow(delay)) => {
                    tokio::time::sleep(delay).await;
                    self.forward(&mut socket, req).await
                }
                None => self.forward(&mut socket, req).await,
            };
            if !answered {
                return;
            }
        }
    }

    /// Sends the request on to the real service and its answer back.
    async fn forward(&self, socket: &mut TcpStream, req: HttpRequest) -> bool {
        let started = std::time::Instant::now();
        let answered = self.forward_timed(socket, req).await;
        if let Ok(mut spans) = self.spans.lock() {
            spans.push((started, std::time::Instant::now()));
        }
        answered
    }

    async fn forward_timed(&self, socket: &mut TcpStream, req: HttpRequest) -> bool {
        if let Ok(mut f) = self.forwarded.lock() {
            f.push(format!("{} {}", req.method, req.path));
        }
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut outbound = self
            .client
            .request(method, format!("{}{}", self.base, req.path))
            .body(req.body);
        for (k, v) in &req.headers {
            if !hop_by_hop(k) && k != "host" {
                outbound = outbound.header(k, v);
            }
        }
        let Ok(response) = outbound.send().await else {
            return false;
        };
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(k, _)| !hop_by_hop(k.as_str()))
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.to_string(), v.to_owned())))
            .collect();
        let body = response.bytes().await.unwrap_or_default();
        write_response(socket, status, &headers, &body).await
    }
}

/// Headers the proxy sets itself rather than passing on.
fn hop_by_hop(name: &str) -> bool {
    matches!(name, "content-length" | "connection" | "transfer-encoding")
}

/// A rule matches a path containing it, or, written `=suffix`, a path ending with it.
fn rule_matches(rule: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    match rule.strip_prefix('=') {
        Some(suffix) => path.ends_with(suffix),
        None => path.contains(rule),
    }
}

/// Serves every request with the same answer, counting requests. HTTP/1.1, one request
/// per connection.
pub struct StaticServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl StaticServer {
    pub async fn start(status: u16, headers: Vec<(String, String)>, body: String) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (counter, seen) = (hits.clone(), requests.clone());
        let mut answer_headers = super::http1::headers(&[
            ("Content-Type", "application/json"),
            ("Connection", "close"),
        ]);
        answer_headers.extend(headers);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (headers, body, seen) = (answer_headers.clone(), body.clone(), seen.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut socket, &mut Vec::new()).await else {
                        return;
                    };
                    if let Ok(mut all) = seen.lock() {
                        all.push(String::from_utf8_lossy(&req.raw).to_string());
                    }
                    write_response(&mut socket, status, &headers, body.as_bytes()).await;
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut socket).await;
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
        self.hits.load(Ordering::SeqCst)
    }

    /// The raw requests received so far (head and body).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// How [`StreamingServer`] frames its answer: never with a `Content-Length`, so the
/// client learns the body's size only by reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length at all: the body ends when the connection closes.
    UntilClose,
}

/// Serves every request with the same answer, its body sent in pieces without a
/// `Content-Length` (for a client's cap on what it reads while streaming), counting
/// requests. HTTP/1.1, one request per connection.
pub struct StreamingServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl StreamingServer {
    pub async fn start(status: u16, body: String, framing: Framing) -> StreamingServer {
        use tokio::io::AsyncWriteExt;
        const PIECE: usize = 16 * 1024;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let body = Arc::new(body.into_bytes());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    if read_request(&mut socket, &mut Vec::new()).await.is_none() {
                        return;
                    }
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    );
                    if framing == Framing::Chunked {
                        head.push_str("Transfer-Encoding: chunked\r\n");
                    }
                    head.push_str("\r\n");
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    for piece in body.chunks(PIECE) {
                        let written = match framing {
                            Framing::Chunked => {
                                let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                                framed.extend_from_slice(piece);
                                framed.extend_from_slice(b"\r\n");
                                socket.write_all(&framed).await
                            }
                            Framing::UntilClose => socket.write_all(piece).await,
                        };
                        // The client stopped reading (a cap): nothing more to send.
                        if written.is_err() {
                            return;
                        }
                    }
                    if framing == Framing::Chunked {
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        StreamingServer { url, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

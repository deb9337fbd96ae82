//! Outbound HTTP, written once for every upstream (TikTok, Google, PostgREST): the one
//! shared client, how a transport failure is described, and how an answer is read.
//!
//! Every body read is capped at [`MAX_ANSWER_BYTES`]: a larger answer is that upstream's
//! "unavailable" error, never a 128 MB function running out of memory. The client
//! follows no redirects, so a 307 can never re-post a client secret to another host.

use std::time::Duration;

use tokio::time::Instant;

/// The most of an upstream answer that is ever read.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Connecting must succeed within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole exchange (a Lambda must answer well before API Gateway's 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);

/// The HTTP client every upstream shares: rustls, short timeouts, no redirects.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(50))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Why an exchange produced no readable answer. Never carries a URL or a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Transport {
    /// Too little of the request's time was left to send it: it never left.
    #[error("not started: the request's time is spent")]
    NotStarted,
    #[error("timed out")]
    TimedOut,
    #[error("connection failed")]
    ConnectFailed,
    #[error("answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("transport error")]
    Other,
}

impl Transport {
    /// Whether the request may have reached the upstream (which may have acted on it).
    pub fn was_sent(&self) -> bool {
        !matches!(self, Transport::NotStarted | Transport::ConnectFailed)
    }
}

impl From<reqwest::Error> for Transport {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Transport::TimedOut
        } else if err.is_connect() {
            Transport::ConnectFailed
        } else {
            Transport::Other
        }
    }
}

/// An upstream answer: status, `Retry-After` (seconds), `Cache-Control`, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub cache_control: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

tokio::task_local! {
    /// When the request being served must have its answer.
    static DEADLINE: Instant;
}

/// Below this much time left, an upstream call is not started.
const MIN_CALL_TIME: Duration = Duration::from_millis(50);

/// Runs `work` with every upstream call in it bounded by `deadline` (an inner scope
/// may give a part of the work, such as storing rotated tokens, its own).
pub async fn with_deadline<F: std::future::Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// Runs `work` with at least `time` before its deadline, even if the request's own
/// deadline is nearer (work that must not be cut short, such as storing rotated tokens).
pub async fn with_at_least<F: std::future::Future>(time: Duration, work: F) -> F::Output {
    let floor = Instant::now() + time;
    let deadline = DEADLINE.try_with(|d| (*d).max(floor)).unwrap_or(floor);
    with_deadline(deadline, work).await
}

/// The time an upstream call may take: its own limit, or what is left before the
/// request's deadline. `None`: too little is left to start one.
fn call_budget(own: Duration) -> Option<Duration> {
    match DEADLINE.try_with(|d| d.saturating_duration_since(Instant::now())) {
        Ok(left) if left < MIN_CALL_TIME => None,
        Ok(left) => Some(own.min(left)),
        Err(_) => Some(own),
    }
}

/// Sends the request and reads the answer, at most [`MAX_ANSWER_BYTES`] of it.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, Transport> {
    send_within(request, REQUEST_TIMEOUT).await
}

/// As [`send`], with a limit of its own (an upload's chunk takes longer than a call).
pub async fn send_within(
    request: reqwest::RequestBuilder,
    own: Duration,
) -> Result<Answer, Transport> {
    let budget = call_budget(own).ok_or(Transport::NotStarted)?;
    read(request.timeout(budget).send().await?).await
}

/// Sends a request built elsewhere (the `postgrest` crate builds, this client sends).
pub async fn execute(
    client: &reqwest::Client,
    mut request: reqwest::Request,
) -> Result<Answer, Transport> {
    let own = request.timeout().copied().unwrap_or(REQUEST_TIMEOUT);
    *request.timeout_mut() = Some(call_budget(own).ok_or(Transport::NotStarted)?);
    read(client.execute(request).await?).await
}

async fn read(mut response: reqwest::Response) -> Result<Answer, Transport> {
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| v.parse().ok());
    let cache_control = header(reqwest::header::CACHE_CONTROL);
    let status = response.status().as_u16();
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err(Transport::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Transport::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        retry_after,
        cache_control,
        body,
    })
}

/// An upstream base URL: `https://`, or `http://` to a loopback host only (the local
/// stack), so no setting can send a key or a token in clear over a network. The URL
/// without a trailing slash, or what is wrong with it.
pub fn upstream_url(value: &str) -> Result<String, &'static str> {
    let value = value.trim_end_matches('/');
    let (rest, plain) = match value.strip_prefix("https://") {
        Some(rest) => (rest, false),
        None => (
            value
                .strip_prefix("http://")
                .ok_or("expected an https URL")?,
            true,
        ),
    };
    // No userinfo (`user@host`): `http://localhost:1@evil.example` names evil.example.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if rest.is_empty()
        || rest.starts_with('/')
        || rest.chars().any(char::is_whitespace)
        || authority.contains('@')
    {
        return Err("expected an https URL");
    }
    if plain && !is_loopback(rest.split('/').next().unwrap_or_default()) {
        return Err("must be https (http only for 127.0.0.1, ::1 or localhost)");
    }
    Ok(value.to_owned())
}

/// `authority` (host[:port]) names the local machine.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_builds() {
        assert!(client().is_ok());
    }

    #[tokio::test]
    async fn calls_are_bounded_by_the_deadline() {
        assert_eq!(call_budget(REQUEST_TIMEOUT), Some(REQUEST_TIMEOUT));
        let soon = Instant::now() + Duration::from_secs(1);
        let budget = with_deadline(soon, async { call_budget(REQUEST_TIMEOUT) }).await;
        assert!(budget.is_some_and(|b| b <= Duration::from_secs(1)));
        let past = Instant::now();
        assert_eq!(
            with_deadline(past, async { call_budget(REQUEST_TIMEOUT) }).await,
            None
        );
        let refused = with_deadline(past, send(client().unwrap().get("http://127.0.0.1:9/"))).await;
        assert_eq!(refused, Err(Transport::NotStarted), "not even started");
        assert!(!Transport::NotStarted.was_sent() && !Transport::ConnectFailed.was_sent());
        assert!(Transport::TimedOut.was_sent() && Transport::Other.was_sent());
    }

    #[test]
    fn transport_failures_name_no_url() {
        for t in [
            Transport::NotStarted,
            Transport::TimedOut,
            Transport::ConnectFailed,
            Transport::TooLarge,
            Transport::Other,
        ] {
            assert!(!t.to_string().contains("http"));
        }
    }
}

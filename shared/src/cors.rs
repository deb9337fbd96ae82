//! Cross-origin access for the frontend's origins. The API is a REST API stage (it takes
//! a WAF; see the README's "Per-client limits"), whose CORS support allows one origin
//! only, so the functions answer for it: every response to an allowed `Origin` names it
//! back, and the catch-all function answers the preflights (`OPTIONS` on any path goes
//! to it). The origins are `ALLOWED_ORIGINS` (comma-separated, compared exactly; unset:
//! none), read once per container.

use std::sync::OnceLock;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// What a preflight allows: every method and request header the API reads.
pub const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key";
/// What the frontend may read of an answer: the wait of a 429/503, and whether a
/// publish answer is a replay.
pub const EXPOSE_HEADERS: &str = "retry-after, idempotent-replayed";
/// How long a browser keeps a preflight's answer (seconds).
pub const MAX_AGE: &str = "600";

/// The origins the API answers cross-origin requests from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Vec<String>);

impl Origins {
    /// A comma-separated list; blanks and a trailing `/` are dropped (an origin has no
    /// path, and a browser never sends one).
    pub fn parse(list: &str) -> Self {
        Origins(
            list.split(',')
                .map(|o| o.trim().trim_end_matches('/'))
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// `ALLOWED_ORIGINS`, read on first use.
    pub fn configured() -> &'static Origins {
        static ORIGINS: OnceLock<Origins> = OnceLock::new();
        ORIGINS
            .get_or_init(|| Origins::parse(&std::env::var("ALLOWED_ORIGINS").unwrap_or_default()))
    }

    /// The request's `Origin` when it is one of these.
    pub fn allowed(&self, req: &Request) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.0.iter().any(|o| o == text).then(|| origin.clone())
    }
}

/// Marks `response` readable by `origin` (an allowed one, or none). Every answer varies
/// by `Origin`, so a cache never hands one origin's answer to another.
pub fn decorate(origin: Option<HeaderValue>, response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// Whether `req` is an `OPTIONS` request (a browser's preflight, or a client asking
/// what a path allows).
pub fn is_options(req: &Request) -> bool {
    req.method() == Method::OPTIONS
}

/// The answer to an `OPTIONS` request for a path serving `methods`: 204 with `Allow`;
/// for an allowed origin also what the preflight asks (methods, headers, how long to
/// keep the answer). [`decorate`] adds the origin itself.
pub fn preflight(allowed: bool, methods: &[&str]) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ALLOW, format!("{}, OPTIONS", methods.join(", ")));
    if allowed {
        builder = builder
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS)
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    }
    builder.body(Body::Empty).expect("static headers")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, origin: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri("https://api.example.com/api/v1/social-connections/connections");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn only_listed_origins_are_named_back() {
        let origins = Origins::parse(" https://app.example.com/, ,http://localhost:3000");
        assert_eq!(
            origins,
            Origins(vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into()
            ])
        );
        let ok = request("GET", Some("https://app.example.com"));
        assert_eq!(origins.allowed(&ok).unwrap(), "https://app.example.com");
        for other in [
            "https://app.example.com.evil.test",
            "http://app.example.com",
            "https://APP.example.com",
            "null",
            "*",
        ] {
            assert_eq!(
                origins.allowed(&request("GET", Some(other))),
                None,
                "{other}"
            );
        }
        assert_eq!(origins.allowed(&request("GET", None)), None);
        // Unset: nothing is allowed, "*" included.
        assert_eq!(Origins::parse("").allowed(&ok), None);
        assert_eq!(
            Origins::parse("*").allowed(&request("GET", Some("https://x.test"))),
            None
        );
    }

    #[test]
    fn answers_vary_by_origin_and_expose_the_retry_wait() {
        let mut response = Response::new(Body::Empty);
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        decorate(
            Some(HeaderValue::from_static("https://app.example.com")),
            &mut response,
        );
        let h = response.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(h[header::ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSE_HEADERS);
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", "origin"]);

        let mut refused = Response::new(Body::Empty);
        decorate(None, &mut refused);
        assert!(refused
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        assert_eq!(refused.headers()[header::VARY], "origin");
    }

    #[test]
    fn a_preflight_allows_only_for_an_allowed_origin() {
        let allowed = preflight(true, &["PATCH", "DELETE"]);
        assert_eq!(allowed.status(), 204);
        assert_eq!(allowed.headers()[header::ALLOW], "PATCH, DELETE, OPTIONS");
        assert_eq!(
            allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            ALLOW_HEADERS
        );
        assert_eq!(allowed.headers()[header::ACCESS_CONTROL_MAX_AGE], MAX_AGE);
        let refused = preflight(false, &["GET"]);
        assert_eq!(refused.status(), 204);
        assert!(refused
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_METHODS)
            .is_none());
        assert!(is_options(&request("OPTIONS", None)));
    }
}

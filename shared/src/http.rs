//! API Gateway request parsing and the contract's JSON responses.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;

/// Bodies above this size are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The id that ties a response to its log lines: the Lambda request id, or API
/// Gateway's when the handler runs outside the Lambda runtime (handler tests).
pub fn request_id(req: &Request) -> String {
    if let Some(ctx) = req.lambda_context_ref() {
        if !ctx.request_id.is_empty() {
            return ctx.request_id.clone();
        }
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The client's address as API Gateway saw it (`sourceIp`), if any.
pub fn client_address(req: &Request) -> Option<String> {
    let ip = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    ip.filter(|ip| !ip.is_empty() && ip.len() <= 64)
}

/// The group a client address is counted in: an IPv4 address itself, an IPv6 address by
/// its /64 (one subscriber's whole prefix: a client changes addresses inside it at
/// will). Anything else as given.
pub fn client_group(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
        Ok(ip) => ip.to_string(),
        Err(_) => address.to_owned(),
    }
}

/// Refuses methods the route does not serve.
pub fn require_method(req: &Request, allowed: &Method) -> Result<(), ApiError> {
    if req.method() == allowed {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

/// The bearer token of the `Authorization` header, if one is present at all.
/// `Ok(None)`: no header. `Err`: a header that is not a bearer token.
pub fn bearer_token(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    Ok(Some(token))
}

/// A query parameter, first value, with surrounding whitespace removed; empty counts as absent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    let params = req.query_string_parameters_ref()?;
    let value = params.first(name)?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A path parameter: API Gateway's (decoded once, as `pathParameters`), else segment
/// `from_end` (1 = last) of the path, for routers that do not name parameters.
pub fn path_param(req: &Request, name: &str, from_end: usize) -> Option<String> {
    if let Some(value) = req.path_parameters_ref().and_then(|p| p.first(name)) {
        return Some(value.to_owned()).filter(|v| !v.is_empty());
    }
    let mut segments = last_path_segments(req, from_end)?;
    (!segments.is_empty()).then(|| segments.remove(0))
}

/// The last `n` segments of the request path, percent-decoded (path parameters such as
/// `{provider}/{account_id}`). Read from the path itself, so API Gateway and the local
/// router agree. `None` if a segment is empty or not UTF-8.
pub fn last_path_segments(req: &Request, n: usize) -> Option<Vec<String>> {
    let segments: Vec<&str> = req
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .take(n)
        .collect();
    if segments.len() < n {
        return None;
    }
    segments
        .into_iter()
        .rev()
        .map(|s| percent_decode(s).filter(|d| !d.is_empty()))
        .collect()
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `true`/`1` in any case.
pub fn query_flag(req: &Request, name: &str) -> bool {
    query_param(req, name).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The raw body bytes (API Gateway's base64 bodies already decoded).
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Parses the body as a JSON object, then into `T`. Unknown fields are ignored by `T`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    parse_json_object(body_bytes(req))
}

pub fn parse_json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson("Request body is empty".into()));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidJson("Request body is not UTF-8".into()))?;
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| ApiError::InvalidJson("Request body is not valid JSON".into()))?;
    if !value.is_object() {
        return Err(ApiError::InvalidJson(
            "Request body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|err| ApiError::InvalidRequest(describe_shape_error(&err)))
}

/// serde's message names the field (in backticks) and the expected type; a value the
/// client sent appears in double quotes and is cut out, escaped quotes and all, so a
/// misplaced secret is never echoed back.
fn describe_shape_error(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let message = match (message.find('"'), message.rfind('"')) {
        (Some(first), Some(last)) if last > first => {
            format!("{}\"…\"{}", &message[..first], &message[last + 1..])
        }
        (Some(first), _) => format!("{}…", &message[..first]),
        _ => message,
    };
    format!("Invalid request body: {message}")
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_vec(body) {
        Ok(bytes) => build(status, bytes, &[]),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            error_response(&ApiError::Internal, "")
        }
    }
}

/// The contract's error body: `detail`, `status_code`, `code`, `request_id`.
pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let status = err.status_code();
    let body = serde_json::json!({
        "detail": err.to_string(),
        "status_code": status.as_u16(),
        "code": err.code(),
        "request_id": request_id,
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    build(status, bytes, &err.headers())
}

fn build(status: StatusCode, bytes: Vec<u8>, extra: &[(&'static str, String)]) -> Response<Body> {
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}

/// Turns a handler's outcome into the response, logging failures with the request id.
pub fn respond(result: Result<Response<Body>, ApiError>, request_id: &str) -> Response<Body> {
    match result {
        Ok(response) => response,
        Err(err) => {
            let status = err.status_code();
            if status.is_server_error() {
                tracing::warn!(
                    code = err.code(),
                    status = status.as_u16(),
                    "request failed"
                );
            } else {
                tracing::info!(
                    code = err.code(),
                    status = status.as_u16(),
                    "request refused"
                );
            }
            error_response(&err, request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        count: Option<u32>,
    }

    #[test]
    fn parses_objects_and_ignores_unknown_fields() {
        let parsed: Sample = parse_json_object(br#"{"name":"a","extra":[1,2]}"#).unwrap();
        assert_eq!(parsed.name, "a");
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        for body in [
            &b""[..],
            b"  ",
            b"nope",
            b"[1]",
            b"\"s\"",
            b"null",
            b"\xff\xfe",
        ] {
            let err = parse_json_object::<Sample>(body).unwrap_err();
            assert_eq!(err.code(), "invalid_json", "{body:?}");
        }
    }

    #[test]
    fn wrong_shapes_are_invalid_request_without_echoing_values() {
        let err =
            parse_json_object::<Sample>(br#"{"name":"act.secret-token","count":"act.other"}"#)
                .unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(!err.to_string().contains("act."), "{err}");
        let err =
            parse_json_object::<Sample>(br#"{"name":1,"count":"a\\"act.x\\"b"}"#).unwrap_err();
        assert!(!err.to_string().contains("act."), "{err}");
        let err = parse_json_object::<Sample>(br#"{"name":"n","count":"a\\"act.x"}"#).unwrap_err();
        assert!(!err.to_string().contains("act."), "{err}");
        let err = parse_json_object::<Sample>(br#"{"count":1}"#).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
    }

    #[test]
    fn path_segments_are_decoded() {
        let req = lambda_http::http::Request::builder()
            .uri("https://api.example.com/api/v1/social-connections/tiktok/a%2Cb%20c")
            .body(Body::Empty)
            .unwrap();
        let req = Request::from(req);
        assert_eq!(
            last_path_segments(&req, 2),
            Some(vec!["tiktok".to_owned(), "a,b c".to_owned()])
        );
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%"), None);
    }

    #[test]
    fn oversized_bodies_are_413() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_json_object::<Sample>(&body).unwrap_err(),
            ApiError::PayloadTooLarge
        );
    }

    #[test]
    fn error_body_has_the_contract_fields() {
        let response = error_response(&ApiError::Unauthorized, "req-1");
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["status_code"], 401);
        assert_eq!(body["code"], "unauthorized");
        assert_eq!(body["request_id"], "req-1");
        assert!(body["detail"].is_string());
    }
}

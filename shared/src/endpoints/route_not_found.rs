//! The catch-all route (`ANY` on every path the API has, and on `/{proxy+}`): any path or
//! method the API does not serve gets the contract's error body, not API Gateway's own
//! `{"message":"Missing Authentication Token"}`. `OPTIONS` on a path the API has: the
//! CORS preflight's answer (204). Another method there: 405 `method_not_allowed` with
//! `Allow`. Anything else: 404 `route_not_found`. No session, no settings, no upstream
//! call.

use super::prelude::*;
use lambda_http::http::{header, HeaderValue};

use crate::cors;
use crate::http::{error_response, request_id};
use crate::routes::methods_at;

/// The use case: say which routes exist.
pub fn run(req: &Request) -> Outcome {
    // The path as the routes name it: a REST API's stage is not part of it.
    let raw = lambda_http::RequestExt::raw_http_path(req);
    let path = if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    };
    let methods = methods_at(path);
    // A method the path has arrives here only through a path API Gateway does not match
    // (a trailing slash): no such route either.
    if methods.is_empty() || methods.contains(&req.method().as_str()) {
        return Err(ApiError::NotFound {
            code: code::ROUTE_NOT_FOUND,
            detail: "No such route: see the API's paths in openapi.yaml".to_owned(),
        });
    }
    if cors::is_options(req) {
        let allowed = cors::Origins::configured().allowed(req).is_some();
        return Ok(cors::preflight(allowed, &methods));
    }
    let allow = format!("{}, OPTIONS", methods.join(", "));
    let mut response = error_response(&ApiError::MethodNotAllowed, &request_id(req));
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Ok(response)
}

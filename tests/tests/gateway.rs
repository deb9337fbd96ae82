//! What the deployed REST API stage hands the functions, and what they answer for it:
//! its events (payload 1.0, the stage in the request context), the catch-all's ANY
//! methods (404, 405, the CORS preflight), and CORS on every function's answer.

use integration_tests::*;
use lambda_http::http::{header, HeaderValue};

/// The origin the events carry, one of the stack's `ALLOWED_ORIGINS`.
const FRONTEND: &str = "http://localhost:3000";

fn with_origin(mut req: lambda_http::Request, origin: &str) -> lambda_http::Request {
    req.headers_mut()
        .insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
    req
}

#[tokio::test]
async fn the_catch_all_answers_unknown_paths_other_methods_and_preflights() {
    let app = live_app();
    let r = send(
        CATCH_ALL,
        &app,
        event("route-not-found/unknown-path.json", &[]),
    )
    .await;
    r.assert_error(404, "route_not_found");
    let r = send(
        CATCH_ALL,
        &app,
        event("route-not-found/trailing-slash.json", &[]),
    )
    .await;
    r.assert_error(404, "route_not_found");
    let r = send(
        CATCH_ALL,
        &app,
        event("route-not-found/wrong-method.json", &[]),
    )
    .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.headers[header::ALLOW], "GET, OPTIONS");

    // The stage is not part of the path the functions see (the template sets
    // AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH, as the stack does).
    let wrong = event("route-not-found/wrong-method.json", &[]);
    assert_eq!(wrong.uri().path(), "/api/v1/social-connections/connections");

    // An account whose open_id reads like a literal path is that path, as a REST API
    // routes it: DELETE there is not the disconnect.
    let req = with_method(
        event(
            "route-not-found/unknown-path.json",
            &[("tiktok/nothing/here", "tiktok/profile")],
        ),
        "DELETE",
    );
    let r = send(CATCH_ALL, &app, req).await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.headers[header::ALLOW], "GET, OPTIONS");

    // The browser's preflight for the frontend's origin: what it may send, for how long.
    let r = send(
        CATCH_ALL,
        &app,
        event("route-not-found/preflight.json", &[]),
    )
    .await;
    assert_eq!(r.status, 204);
    let h = &r.headers;
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
    assert!(h[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("PATCH"));
    let allowed_headers = h[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(name), "{allowed_headers}");
    }
    assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
    // Another origin's preflight is answered without a grant.
    let req = with_origin(
        event("route-not-found/preflight.json", &[]),
        "https://attacker.example",
    );
    let r = send(CATCH_ALL, &app, req).await;
    assert_eq!(r.status, 204);
    assert!(r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(r
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_METHODS)
        .is_none());
    // A preflight of a path the API does not have: 404.
    let req = event(
        "route-not-found/preflight.json",
        &[(
            "social-connections/REPLACE_WITH_PROVIDER/REPLACE_WITH_ACCOUNT_ID",
            "nothing",
        )],
    );
    send(CATCH_ALL, &app, req)
        .await
        .assert_error(404, "route_not_found");
}

#[tokio::test]
async fn every_function_names_back_only_the_frontends_origin() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(ALL_SCOPES).await;
    for function in FUNCTIONS {
        // Another origin first (disconnect-tiktok, last, ends the account).
        let other = with_origin(
            good_request(function, &user, &account),
            "https://attacker.example",
        );
        let r = send(function, &app, other).await;
        assert!(
            r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{function} granted another origin"
        );
        assert!(
            r.headers
                .get_all(header::VARY)
                .iter()
                .any(|v| v == "origin"),
            "{function}"
        );
        // The frontend's, success or refusal alike: it can read why.
        let r = send(function, &app, good_request(function, &user, &account)).await;
        assert_eq!(
            r.headers
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.to_str().unwrap()),
            Some(FRONTEND),
            "{function}"
        );
        assert!(r.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .contains("retry-after"));
    }
}

#[test]
fn the_client_address_is_the_rest_apis_source_ip() {
    let req = event("tiktok-authorize/sign-in.json", &[]);
    assert_eq!(
        shared::http::client_address(&req).as_deref(),
        Some("203.0.113.10")
    );
    assert_eq!(shared::http::request_id(&req), "req-tiktok-authorize");
}

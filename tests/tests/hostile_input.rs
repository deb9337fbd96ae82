//! Hostile input, table-driven over every function: each case must get a 4xx JSON
//! answer from the contract's error table and change no row, and each function must
//! still serve a good request afterwards. Unknown query parameters and body fields are
//! ignored. The suite prints how many cases each function got.

use integration_tests::*;
use lambda_http::Body;
use serde_json::{json, Value};

/// Ids that would be PostgREST filter syntax, SQL, or control characters if they ever
/// reached a query string.
const HOSTILE_IDS: [&str; 8] = [
    "x,provider.eq.tiktok",
    "*",
    "eq.1",
    "'; drop table social_connections; --",
    "or=(user_id.gt.0)",
    "open\u{0}id",
    "open\nid",
    "%2A",
];

struct Fixture {
    app: shared::LiveApp,
    user: FirebaseUser,
    account: TikTokAccount,
    spare: TikTokAccount,
}

fn encode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn body_cases(function: &str) -> Vec<(String, Body)> {
    let long = "x".repeat(10_000);
    let mut cases: Vec<(String, Body)> = vec![
        ("not JSON".into(), Body::Text("{not json".into())),
        ("array".into(), Body::Text("[1,2,3]".into())),
        ("string".into(), Body::Text("\"text\"".into())),
        ("number".into(), Body::Text("12".into())),
        ("null".into(), Body::Text("null".into())),
        ("empty".into(), Body::Empty),
        ("whitespace".into(), Body::Text("  \n ".into())),
        (
            "over 64 KiB".into(),
            Body::Text(format!("{{\"pad\":\"{}\"}}", "a".repeat(70 * 1024))),
        ),
        (
            "invalid UTF-8".into(),
            Body::Binary(vec![0x7b, 0xff, 0xfe, 0x7d]),
        ),
        ("empty object".into(), Body::Text("{}".into())),
    ];
    let fields: &[&str] = match function {
        "oauth-tiktok" => &[
            "provider",
            "provider_account_id",
            "access_token",
            "refresh_token",
            "expires_in",
            "refresh_expires_in",
            "scope",
            "email",
            "user_session_email",
            "name",
            "picture",
            "metadata",
        ],
        "store-token" => &[
            "provider",
            "provider_account_id",
            "access_token",
            "refresh_token",
            "expires_at",
            "account_label",
            "account_type",
            "is_primary",
            "profile_metadata",
            "scope",
        ],
        "store-tiktok-profile" => &["profile"],
        "update-connection" => &["account_label", "account_type", "is_primary"],
        "tiktok-authorize" => &["redirect_uri", "scopes"],
        "tiktok-callback" => &["code", "state", "email"],
        _ => &[],
    };
    if !fields.is_empty() {
        let all_null: serde_json::Map<String, Value> = fields
            .iter()
            .map(|f| (f.to_string(), Value::Null))
            .collect();
        cases.push((
            "null everywhere".into(),
            Body::Text(Value::Object(all_null).to_string()),
        ));
        let wrong: serde_json::Map<String, Value> = fields
            .iter()
            .map(|f| {
                let v = match *f {
                    "expires_in" | "refresh_expires_in" => json!("soon"),
                    "is_primary" => json!("yes"),
                    "metadata" | "profile" => json!([1, 2]),
                    _ => json!({"nested": true}),
                };
                (f.to_string(), v)
            })
            .collect();
        cases.push((
            "wrong types".into(),
            Body::Text(Value::Object(wrong).to_string()),
        ));
    }
    match function {
        "oauth-tiktok" => {
            cases.push((
                "huge number".into(),
                Body::Text(
                    r#"{"provider_account_id":"o","access_token":"a","expires_in":1e400}"#.into(),
                ),
            ));
            cases.push(("huge integer".into(), Body::Text(r#"{"provider_account_id":"o","access_token":"a","expires_in":18446744073709551616}"#.into())));
            cases.push((
                "negative expires_in".into(),
                Body::Text(
                    r#"{"provider_account_id":"o","access_token":"a","expires_in":-3600}"#.into(),
                ),
            ));
            cases.push((
                "very long id".into(),
                Body::Text(json!({"provider_account_id": long, "access_token": "a"}).to_string()),
            ));
            for id in HOSTILE_IDS {
                cases.push((format!("id {id:?}"), Body::Text(json!({"provider_account_id": id, "access_token": "act.none", "email": "a@example.com"}).to_string())));
            }
        }
        "store-token" => {
            cases.push(("huge number".into(), Body::Text(r#"{"provider":"tiktok","provider_account_id":"o","access_token":"a","is_primary":1e400}"#.into())));
            cases.push(("very long label".into(), Body::Text(json!({"provider": "youtube", "provider_account_id": "c", "access_token": "a", "account_label": long}).to_string())));
            cases.push(("past-9999 expires_at".into(), Body::Text(json!({"provider": "youtube", "provider_account_id": "c", "access_token": "a", "expires_at": "9999-12-31T23:59:59-01:00"}).to_string())));
            for id in HOSTILE_IDS {
                cases.push((format!("id {id:?}"), Body::Text(json!({"provider": "tiktok", "provider_account_id": id, "access_token": "act.none"}).to_string())));
            }
        }
        "store-tiktok-profile" => {
            cases.push((
                "huge count".into(),
                Body::Text(r#"{"profile":{"open_id":"o","follower_count":1e30}}"#.into()),
            ));
            cases.push((
                "negative count".into(),
                Body::Text(r#"{"profile":{"open_id":"o","likes_count":-1}}"#.into()),
            ));
            cases.push((
                "very long name".into(),
                Body::Text(json!({"profile": {"open_id": "o", "display_name": long}}).to_string()),
            ));
            for id in HOSTILE_IDS {
                cases.push((
                    format!("id {id:?}"),
                    Body::Text(json!({"profile": {"open_id": id}}).to_string()),
                ));
            }
        }
        "update-connection" => {
            cases.push((
                "is_primary false".into(),
                Body::Text(r#"{"is_primary":false}"#.into()),
            ));
            cases.push((
                "very long label".into(),
                Body::Text(json!({"account_label": long}).to_string()),
            ));
            cases.push((
                "control characters".into(),
                Body::Text(json!({"account_label": "a\u{7}b"}).to_string()),
            ));
        }
        _ => {}
    }
    cases
}

fn check(function: &str, case: &str, r: &Reply) {
    assert!(
        (400..500).contains(&r.status),
        "{function} / {case}: {} {}",
        r.status,
        r.body
    );
    assert_eq!(
        r.headers["content-type"], "application/json",
        "{function} / {case}"
    );
    let code = r.body["code"].as_str().unwrap_or_default();
    assert!(
        CONTRACT_CODES.contains(&code),
        "{function} / {case}: code {code:?}"
    );
    assert_eq!(r.body["status_code"], r.status, "{function} / {case}");
    assert!(
        r.body["detail"].is_string() && r.body["request_id"].is_string(),
        "{function} / {case}"
    );
}

#[tokio::test]
async fn hostile_input_is_refused_with_4xx_and_changes_nothing() {
    let (db, app) = (Db::new(), live_app());
    // The user has two connections: the main one and a spare for disconnect-tiktok.
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let spare = TikTokFake::new().account(ALL_SCOPES).await;
    given::connection(&user, &spare)
        .through_store_token(&app)
        .await;
    let f = Fixture {
        app,
        user,
        account,
        spare,
    };
    let before = db.connections_of_uid(&f.user.uid).await;
    let mut counts = Vec::new();

    for function in FUNCTIONS {
        let mut n = 0;
        let base = || good_request(function, &f.user, &f.account);
        let served = base().method().clone();
        // Bodies: for GET and DELETE they are ignored, so only the methods that read one.
        if served == "POST" || served == "PATCH" {
            for (case, body) in body_cases(function) {
                let r = send(function, &f.app, with_raw_body(base(), body)).await;
                check(function, &case, &r);
                n += 1;
            }
        }
        // Ids in the query string or the path.
        for id in HOSTILE_IDS.iter().copied().chain([&*"y".repeat(5000)]) {
            let req = match function {
                "tiktok-test" | "tiktok-profile" => with_query(base(), &[("account_id", id)]),
                "update-connection" | "disconnect-tiktok" => {
                    let mut req = base();
                    let path = req.uri().path().to_owned();
                    let (head, _) = path.rsplit_once('/').unwrap();
                    *req.uri_mut() = format!("https://api.example.com{head}/{}", encode_path(id))
                        .parse()
                        .unwrap();
                    // As API Gateway would name them for that path.
                    let params: std::collections::HashMap<String, String> =
                        if function == "update-connection" {
                            [("provider", "tiktok"), ("account_id", id)]
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect()
                        } else {
                            [("open_id".to_owned(), id.to_owned())]
                                .into_iter()
                                .collect()
                        };
                    lambda_http::RequestExt::with_path_parameters(req, params)
                }
                _ => continue,
            };
            let r = send(function, &f.app, req).await;
            check(function, &format!("id {id:?}"), &r);
            n += 1;
        }
        // Methods the route does not serve.
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
            if method == served {
                continue;
            }
            let r = send(function, &f.app, with_method(base(), method)).await;
            assert_eq!(r.status, 405, "{function} {method}");
            check(function, method, &r);
            n += 1;
        }
        counts.push((function, n));
    }

    assert_eq!(
        db.connections_of_uid(&f.user.uid).await,
        before,
        "no row changed"
    );
    let hostile_rows = psql(&format!(
        "select count(*) from social_connections where provider_account_id in ({})",
        HOSTILE_IDS
            .iter()
            .map(|id| format!("'{}'", id.replace('\'', "''").replace('\0', "")))
            .collect::<Vec<_>>()
            .join(",")
    ));
    assert_eq!(hostile_rows, "0");

    // Still serving, and unknown parameters and fields are ignored.
    for function in FUNCTIONS
        .iter()
        .copied()
        .filter(|f| answers_good_request(f))
    {
        let account = if function == "disconnect-tiktok" {
            &f.spare
        } else {
            &f.account
        };
        let mut req = with_query(
            good_request(function, &f.user, account),
            &[("utm_source", "x"), ("debug", "1")],
        );
        // (A webhook's body is signed: a field added to it is a forgery, tested above.)
        if let (Body::Text(text), true) = (req.body().clone(), firebase_authenticated(function)) {
            let mut value: Value = serde_json::from_str(&text).unwrap();
            value["unexpected_field"] = json!({"ignored": true});
            req = with_raw_body(req, Body::Text(value.to_string()));
        }
        if function == "tiktok-profile" || function == "tiktok-test" {
            req = with_query(
                req,
                &[("account_id", &account.open_id), ("utm_source", "x")],
            );
        }
        let r = send(function, &f.app, req).await;
        assert!(
            r.status == 200 || r.status == 201,
            "{function} after the hostile cases: {} {}",
            r.status,
            r.body
        );
    }

    let total: usize = counts.iter().map(|(_, n)| n).sum();
    println!("hostile-input cases per function ({total} in all):");
    for (function, n) in &counts {
        println!("  {function:<22} {n}");
    }
}

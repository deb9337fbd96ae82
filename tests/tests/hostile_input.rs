//! Hostile input, table-driven over every function: each case must get a 4xx JSON
//! answer from the contract's error table and change no row, and each function must
//! still serve a good request afterwards. Unknown query parameters and body fields are
//! ignored. The suite prints how many cases each function got.

use integration_tests::*;
use lambda_http::http::HeaderValue;
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

/// The tests of this file run one at a time: they count every call the TikTok fake
/// received and every webhook delivery recorded.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many calls the TikTok fake has received, for any account or none.
async fn fake_calls() -> usize {
    TikTokFake::new().all_calls().await.len()
}

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
        "tiktok-callback" => &["code", "state", "binding", "email"],
        "update-tiktok-post" => &["scheduled_at", "post_info"],
        "retry-tiktok-post" => &["confirm"],
        "tiktok-media" => &["content_type", "size"],
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
    let _serial = SERIAL.lock().await;
    let (db, app) = (Db::new(), live_app());
    // The user has two connections: the main one and a spare for disconnect-tiktok.
    let given::Connected { user, account, .. } = Box::pin(given::connected_user(&app)).await;
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
                "tiktok-test" | "tiktok-profile" | "tiktok-videos" => {
                    with_query(base(), &[("account_id", id)])
                }
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

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A webhook delivery of `body` with these `TikTok-Signature` headers (none: no header).
fn delivery_with(body: Body, signatures: Vec<HeaderValue>) -> lambda_http::Request {
    let mut req = with_raw_body(event("tiktok-webhook/no-signature.json", &[]), body);
    for signature in signatures {
        req.headers_mut().append("tiktok-signature", signature);
    }
    req
}

/// TikTok's `TikTok-Signature` for these bytes at `at`, with `secret`.
fn signature(secret: &str, at: i64, bytes: &[u8]) -> String {
    shared::webhook::sign(secret.as_bytes(), at, bytes)
}

/// A webhook delivery of `body`, correctly signed now with the stack's client secret.
fn signed(body: Body) -> lambda_http::Request {
    let bytes = match &body {
        Body::Text(text) => text.as_bytes().to_vec(),
        Body::Binary(bytes) => bytes.clone(),
        _ => Vec::new(),
    };
    let header = signature(&stack_var("TIKTOK_CLIENT_SECRET"), now(), &bytes);
    delivery_with(body, vec![HeaderValue::from_str(&header).expect("header")])
}

fn count(sql: &str) -> i64 {
    psql(sql).parse().expect("a count")
}

/// Every delivery recorded, and every revoked connection.
fn webhook_state() -> (i64, i64) {
    (
        count("select count(*) from tiktok_webhook_events"),
        count("select count(*) from social_connections where revoked_at is not null"),
    )
}

#[tokio::test]
async fn the_webhook_answers_signed_hostile_bodies_and_bad_headers_by_the_contract() {
    let _serial = SERIAL.lock().await;
    let (db, app, fake) = (Db::new(), live_app(), TikTokFake::new());
    let given::Connected { user, account, id } = Box::pin(given::connected_user(&app)).await;
    let key = stack_var("TIKTOK_CLIENT_KEY");
    let secret = stack_var("TIKTOK_CLIENT_SECRET");
    let open_id = account.open_id.as_str();
    let before = db.connection(id).await;
    let calls = fake_calls().await;
    let envelope = |fields: Value| {
        let mut value = json!({"client_key": key, "event": "authorization.removed",
                               "create_time": now(), "user_openid": open_id,
                               "content": json!({"reason": 1}).to_string()});
        for (k, v) in fields.as_object().expect("fields") {
            if v == "<absent>" {
                value.as_object_mut().unwrap().remove(k);
            } else {
                value[k] = v.clone();
            }
        }
        Body::Text(value.to_string())
    };
    let text = |t: &str| Body::Text(t.to_owned());
    let long = "x".repeat(10_000);

    // Signed correctly, refused before anything is recorded: (case, body, status, code).
    let mut refused: Vec<(String, Body, u16, &str)> = vec![
        ("not JSON".into(), text("{not json"), 400, "invalid_json"),
        ("array".into(), text("[1,2,3]"), 400, "invalid_json"),
        (
            "the envelope as an array".into(),
            Body::Text(
                json!([key, "authorization.removed", now(), open_id, "{\"reason\":1}"])
                    .to_string(),
            ),
            400,
            "invalid_json",
        ),
        ("string".into(), text("\"text\""), 400, "invalid_json"),
        ("number".into(), text("12"), 400, "invalid_json"),
        ("null".into(), text("null"), 400, "invalid_json"),
        ("empty".into(), text(""), 400, "invalid_json"),
        ("whitespace".into(), text("  \n "), 400, "invalid_json"),
        (
            "invalid UTF-8".into(),
            Body::Binary(vec![0x7b, 0xff, 0xfe, 0x7d]),
            400,
            "invalid_json",
        ),
        (
            "nested 1000 deep".into(),
            Body::Text(format!(
                "{{\"client_key\":\"{key}\",\"event\":\"authorization.removed\",\"user_openid\":\"{open_id}\",\"content\":{}{}}}",
                "[".repeat(1000),
                "]".repeat(1000)
            )),
            400,
            "invalid_json",
        ),
        (
            "a number out of range".into(),
            Body::Text(format!(
                "{{\"client_key\":\"{key}\",\"event\":\"authorization.removed\",\"user_openid\":\"{open_id}\",\"create_time\":1e400}}"
            )),
            400,
            "invalid_json",
        ),
        ("missing event".into(), envelope(json!({"event": "<absent>"})), 400, "invalid_request"),
        ("null event".into(), envelope(json!({"event": null})), 400, "invalid_request"),
        ("empty event".into(), envelope(json!({"event": "  "})), 400, "invalid_request"),
        ("number event".into(), envelope(json!({"event": 7})), 400, "invalid_request"),
        ("object event".into(), envelope(json!({"event": {"name": "authorization.removed"}})), 400, "invalid_request"),
        (
            "10 KB event".into(),
            envelope(json!({"event": format!("authorization.removed{long}")})),
            400,
            "invalid_request",
        ),
        (
            "control character in event".into(),
            envelope(json!({"event": "authorization.removed\u{0}"})),
            400,
            "invalid_request",
        ),
        (
            "10 KB user_openid".into(),
            envelope(json!({"user_openid": format!("{open_id}{long}")})),
            400,
            "invalid_request",
        ),
        (
            "control character in user_openid".into(),
            envelope(json!({"user_openid": format!("{open_id}\n{open_id}")})),
            400,
            "invalid_request",
        ),
        ("number user_openid".into(), envelope(json!({"user_openid": 12})), 400, "invalid_request"),
        ("array user_openid".into(), envelope(json!({"user_openid": [open_id]})), 400, "invalid_request"),
        ("text create_time".into(), envelope(json!({"create_time": "yesterday"})), 400, "invalid_request"),
        ("fractional create_time".into(), envelope(json!({"create_time": 1.5})), 400, "invalid_request"),
        (
            "create_time past i64".into(),
            envelope(json!({"create_time": 9_223_372_036_854_775_808u64})),
            400,
            "invalid_request",
        ),
        ("number client_key".into(), envelope(json!({"client_key": 1})), 400, "invalid_request"),
        ("another client_key".into(), envelope(json!({"client_key": "another-app"})), 401, "invalid_signature"),
        ("null client_key".into(), envelope(json!({"client_key": null})), 401, "invalid_signature"),
        ("no client_key".into(), envelope(json!({"client_key": "<absent>"})), 401, "invalid_signature"),
        (
            "over 64 KiB".into(),
            envelope(json!({"pad": "a".repeat(70 * 1024)})),
            413,
            "payload_too_large",
        ),
    ];
    // Ids that are PostgREST or SQL syntax, or control characters, as the open_id.
    for hostile in HOSTILE_IDS
        .iter()
        .filter(|id| id.chars().any(char::is_control))
    {
        refused.push((
            format!("user_openid {hostile:?}"),
            envelope(json!({"user_openid": hostile})),
            400,
            "invalid_request",
        ));
    }
    let state = webhook_state();
    for (case, body, status, code) in refused {
        let r = send("tiktok-webhook", &app, signed(body)).await;
        check("tiktok-webhook", &case, &r);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{case}: {}",
            r.body
        );
        assert_eq!(
            webhook_state(),
            state,
            "{case}: nothing recorded or revoked"
        );
    }
    assert_eq!(db.connection(id).await, before, "nothing changed");

    // Signed correctly and well formed, nothing to act on: acknowledged (200) and
    // recorded, nothing revoked. Unknown events (whatever their content), the publishing
    // flow's events with unreadable content, and removals of open_ids that are PostgREST
    // or SQL syntax.
    let mut acknowledged: Vec<(String, Body)> = Vec::new();
    for (name, content) in [
        (
            "content a JSON string",
            json!(json!({"reason": 1}).to_string()),
        ),
        ("content a number", json!(5)),
        ("content an array", json!([1, 2])),
        ("content an object", json!({"reason": 1})),
        ("content not JSON inside", json!("{not json")),
        ("content a JSON array inside", json!("[1,2]")),
        ("content null", Value::Null),
        ("no content", json!("<absent>")),
    ] {
        acknowledged.push((
            format!("unknown event, {name}"),
            envelope(json!({"event": "tiktok.unknown.event", "content": content})),
        ));
    }
    acknowledged.push((
        "event name in another case".into(),
        envelope(json!({"event": "Authorization.Removed"})),
    ));
    acknowledged.push((
        "unknown event without user_openid or create_time".into(),
        envelope(json!({"event": "tiktok.unknown.event", "user_openid": "<absent>", "create_time": "<absent>"})),
    ));
    for (name, content) in [
        ("not JSON inside", json!("{not json")),
        ("a number", json!(5)),
        (
            "a hostile publish_id",
            json!(json!({"publish_id": "'; drop table social_connections; --"}).to_string()),
        ),
    ] {
        acknowledged.push((
            format!("post.publish.failed, content {name}"),
            envelope(json!({"event": "post.publish.failed", "content": content})),
        ));
    }
    for hostile in HOSTILE_IDS
        .iter()
        .filter(|id| !id.chars().any(char::is_control))
    {
        acknowledged.push((
            format!("removal of {hostile:?}"),
            envelope(json!({"user_openid": hostile})),
        ));
    }
    let (recorded, revoked) = webhook_state();
    let n = acknowledged.len() as i64;
    for (case, body) in acknowledged {
        let r = send("tiktok-webhook", &app, signed(body)).await;
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"received": true, "duplicate": false})),
            "{case}"
        );
    }
    assert_eq!(
        webhook_state(),
        (recorded + n, revoked),
        "each recorded once, nothing revoked"
    );
    assert_eq!(db.connection(id).await, before, "nothing changed");
    assert_eq!(
        psql("select to_regclass('public.social_connections') is not null"),
        "t"
    );

    // A removal whose reason is not TikTok's 0-5, or whose content cannot be read, is
    // still TikTok's signed word that the user removed the app: the connection is
    // revoked, its reason `unknown` (one connection each, of another user).
    let other = given::user().await;
    for (name, content) in [
        ("reason 9", json!(json!({"reason": 9}).to_string())),
        ("reason \"x\"", json!(json!({"reason": "x"}).to_string())),
        ("reason -1", json!(json!({"reason": -1}).to_string())),
        ("reason 1.5", json!(json!({"reason": 1.5}).to_string())),
        ("no reason", json!("{}")),
        ("content not JSON inside", json!("{not json")),
        ("content a number", json!(5)),
        ("no content", json!("<absent>")),
    ] {
        let victim = fake.account(ALL_SCOPES).await;
        let row = given::connection(&other, &victim)
            .not_primary()
            .as_row(&db)
            .await;
        let r = send(
            "tiktok-webhook",
            &app,
            signed(envelope(
                json!({"user_openid": victim.open_id, "content": content}),
            )),
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let row = db.connection(row["id"].as_i64().unwrap()).await;
        assert!(
            row["revoked_at"].is_string() && row["revoked_reason"] == 0,
            "{name}: {row}"
        );
        let shown = Box::pin(listed_connection(&app, &other.id_token, &victim.open_id)).await;
        assert_eq!(
            (&shown["status"], &shown["revoked_reason"]),
            (&json!("revoked"), &json!("unknown")),
            "{name}: {shown}"
        );
    }
    assert_eq!(db.connection(id).await, before, "the fixture's stays");

    // Hostile `TikTok-Signature` headers on a removal of the fixture's account: 401.
    let removal = envelope(json!({}));
    let Body::Text(removal_text) = &removal else {
        unreachable!()
    };
    let bytes = removal_text.as_bytes();
    let t = now();
    let good = signature(&secret, t, bytes);
    let s = good.split_once(",s=").expect("t=..,s=..").1.to_owned();
    // Older than TikTok's 72 hours of retries.
    let old = t - 73 * 3600;
    let old_sig = signature(&secret, old, bytes);
    let old_s = old_sig.split_once(",s=").unwrap().1.to_owned();
    let forged = |n: u8| format!("{n:02x}").repeat(32);
    let header = |v: &str| HeaderValue::from_str(v).expect("header");
    let headers: Vec<(&str, Vec<HeaderValue>)> = vec![
        ("no header", vec![]),
        ("empty", vec![header("")]),
        ("only t", vec![header(&format!("t={t}"))]),
        ("only s", vec![header(&format!("s={s}"))]),
        ("t not a number", vec![header(&format!("t=now,s={s}"))]),
        (
            "t past i64",
            vec![header(&format!("t=99999999999999999999,s={s}"))],
        ),
        (
            "t of 10 000 digits",
            vec![header(&format!("t={},s={s}", "1".repeat(10_000)))],
        ),
        (
            "t in milliseconds",
            vec![header(&signature(&secret, t * 1000, bytes))],
        ),
        (
            "non-hex s",
            vec![header(&format!("t={t},s={}", "zz".repeat(32)))],
        ),
        (
            "s one digit short",
            vec![header(&format!("t={t},s={}", &s[..63]))],
        ),
        ("s one byte long", vec![header(&format!("t={t},s={s}00"))]),
        ("empty s", vec![header(&format!("t={t},s="))]),
        (
            "huge s",
            vec![header(&format!("t={t},s={}", "a".repeat(100_000)))],
        ),
        ("semicolons", vec![header(&format!("t={t};s={s}"))]),
        ("upper-case names", vec![header(&format!("T={t},S={s}"))]),
        (
            "not visible ASCII",
            vec![
                HeaderValue::from_bytes(format!("t={t},s=\u{e9}{}", &s[2..]).as_bytes())
                    .expect("header"),
            ],
        ),
        (
            "another secret",
            vec![header(&signature("not-the-secret", t, bytes))],
        ),
        (
            "another body's",
            vec![header(&signature(&secret, t, b"{}"))],
        ),
        (
            "two forged s",
            vec![header(&format!("t={t},s={},s={}", forged(1), forged(2)))],
        ),
        (
            "an old signature with a fresh t after it",
            vec![header(&format!("t={old},s={old_s},t={t}"))],
        ),
        (
            "a fresh t before an old signature",
            vec![header(&format!("t={t},t={old},s={old_s}"))],
        ),
        (
            "an old signature then a forged header",
            vec![header(&old_sig), header(&format!("t={t},s={}", forged(3)))],
        ),
        (
            "a forged header then an old signature",
            vec![header(&format!("t={t},s={}", forged(4))), header(&old_sig)],
        ),
    ];
    let state = webhook_state();
    for (case, signatures) in headers {
        let r = send(
            "tiktok-webhook",
            &app,
            delivery_with(removal.clone(), signatures),
        )
        .await;
        check("tiktok-webhook", case, &r);
        r.assert_error(401, "invalid_signature");
        assert_eq!(
            webhook_state(),
            state,
            "{case}: nothing recorded or revoked"
        );
    }
    assert_eq!(db.connection(id).await, before, "nothing changed");
    assert_eq!(fake_calls().await, calls, "the webhook never calls TikTok");

    // The same removal with its good header revokes the fixture's connection (so the
    // cases above were refused for their header alone).
    let r = send(
        "tiktok-webhook",
        &app,
        delivery_with(removal.clone(), vec![header(&good)]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = Box::pin(listed_connection(&app, &user.id_token, open_id)).await;
    assert_eq!(shown["status"], "revoked", "{shown}");
}

#[tokio::test]
async fn tiktok_videos_refuses_hostile_query_values_without_calling_tiktok() {
    let _serial = SERIAL.lock().await;
    let (db, app) = (Db::new(), live_app());
    let given::Connected { user, account, .. } = Box::pin(given::connected_user(&app)).await;
    let own = account.open_id.as_str();
    let huge = "9".repeat(5000);
    let twenty_one = (1..=21)
        .map(|i| format!("73000000000000000{i:02}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut cases: Vec<Vec<(&str, String)>> = Vec::new();
    for id in HOSTILE_IDS.iter().map(|id| id.to_string()).chain([
        "y".repeat(5000),
        "öpen_ïd".into(),
        "💥".into(),
        "-1".into(),
    ]) {
        cases.push(vec![("account_id", id)]);
    }
    for cursor in [
        "-1",
        "abc",
        "1.5",
        "1e3",
        "0x10",
        "NaN",
        "9223372036854775808",
        "１２３",
        "1,2",
        "1 2",
        "'; drop table social_connections; --",
        "\u{0}",
        huge.as_str(),
    ] {
        cases.push(vec![("account_id", own.into()), ("cursor", cursor.into())]);
    }
    for max_count in [
        "0",
        "21",
        "-1",
        "abc",
        "1.5",
        "1e1",
        "0x5",
        "true",
        "null",
        "4294967297",
        "99999999999999999999",
        "٣",
        "'; drop table social_connections; --",
        huge.as_str(),
    ] {
        cases.push(vec![
            ("account_id", own.into()),
            ("max_count", max_count.into()),
        ]);
    }
    for ids in [
        "'; drop table social_connections; --",
        "1 OR 1=1",
        "a;b",
        "-1",
        "*",
        "%2A",
        "ö",
        "💥",
        ",,,",
        "7300000000000000001\u{0}",
        &"x".repeat(65),
        &twenty_one,
        &"1,".repeat(10_000),
        huge.as_str(),
    ] {
        cases.push(vec![("account_id", own.into()), ("ids", ids.into())]);
    }
    // ids with a page's parameters: a query is not a page.
    cases.push(vec![
        ("ids", "7300000000000000001".into()),
        ("cursor", "1".into()),
    ]);
    cases.push(vec![
        ("ids", "7300000000000000001".into()),
        ("max_count", "5".into()),
    ]);

    let before = db.connections_of_uid(&user.uid).await;
    let calls = fake_calls().await;
    for params in &cases {
        let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let req = with_query(good_request("tiktok-videos", &user, &account), &query);
        let r = send("tiktok-videos", &app, req).await;
        let case = format!(
            "{:?}",
            query
                .iter()
                .map(|(k, v)| (k, v.chars().take(40).collect::<String>()))
                .collect::<Vec<_>>()
        );
        check("tiktok-videos", &case, &r);
        assert!(
            r.status == 400 || r.status == 404,
            "{case}: {} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(fake_calls().await, calls, "no TikTok call");
    assert_eq!(
        db.connections_of_uid(&user.uid).await,
        before,
        "no row changed"
    );
    println!("tiktok-videos hostile query cases: {}", cases.len());

    // A good request does call TikTok (the count above sees calls).
    let req = with_query(
        good_request("tiktok-videos", &user, &account),
        &[("account_id", own), ("max_count", "5")],
    );
    let r = send("tiktok-videos", &app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(fake_calls().await > calls, "TikTok was called");
}

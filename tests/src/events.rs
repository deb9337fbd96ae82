//! API Gateway requests built from the `events/` files, changes to them, and calling a
//! function's handler with one.

use serde_json::{json, Value};

use crate::firebase::FirebaseUser;
use crate::stack::{from_now, workspace_path};
use crate::tiktok_fake::TikTokAccount;

pub use shared::error::code::ALL as CONTRACT_CODES;
pub use shared::testing::{CATCH_ALL, FUNCTIONS};

/// An `events/` file as an API Gateway request, with the placeholders replaced.
pub fn event(name: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let json = event_json(name, replacements);
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// An `events/` file as JSON text, with the placeholders replaced: the body as the
/// client sent it (decoded, when base64), the rest as text.
pub fn event_json(name: &str, replacements: &[(&str, &str)]) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let path = workspace_path(&format!("events/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let replace = |mut text: String| {
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        text
    };
    let mut value: Value = serde_json::from_str(&text).expect("event JSON");
    let body = value.as_object_mut().and_then(|o| o.remove("body"));
    let mut value: Value = serde_json::from_str(&replace(value.to_string())).expect("event JSON");
    if let Some(Value::String(body)) = body {
        let base64 = value["isBase64Encoded"] == true;
        let decoded = if base64 {
            String::from_utf8(STANDARD.decode(&body).expect("base64 body")).expect("utf-8")
        } else {
            body
        };
        let replaced = replace(decoded);
        value["body"] = Value::String(if base64 {
            STANDARD.encode(replaced)
        } else {
            replaced
        });
    }
    sign_webhook(&mut value);
    value.to_string()
}

/// A webhook event's `TikTok-Signature` placeholder becomes TikTok's signature of its
/// body as it now is, with the stack's client secret.
fn sign_webhook(value: &mut Value) {
    if value["headers"]["tiktok-signature"] != "REPLACE_WITH_SIGNATURE" {
        return;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = value["body"].as_str().unwrap_or_default().to_owned();
    let secret = crate::stack::stack_var("TIKTOK_CLIENT_SECRET");
    value["headers"]["tiktok-signature"] = Value::String(shared::webhook::sign(
        secret.as_bytes(),
        now,
        body.as_bytes(),
    ));
}

/// An `events/` file for this user and TikTok account: every placeholder filled in
/// (the access token valid for two hours), then `extra` replaced as given.
pub fn request(
    file: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
    extra: &[(&str, &str)],
) -> lambda_http::Request {
    lambda_http::request::from_str(&request_json(file, user, account, extra))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// [`request`] as the JSON event the Lambda runtime delivers.
pub fn request_json(
    file: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
    extra: &[(&str, &str)],
) -> String {
    let expires = from_now(7200);
    let tomorrow = from_now(86_400);
    let client_key = crate::stack::stack_var("TIKTOK_CLIENT_KEY");
    let email = format!(
        "{}@example.com",
        account.open_id.trim_start_matches(['-', '_'])
    );
    let mut replacements = vec![
        ("REPLACE_WITH_FIREBASE_ID_TOKEN", user.id_token.as_str()),
        ("REPLACE_WITH_OPEN_ID", account.open_id.as_str()),
        ("REPLACE_WITH_ACCESS_TOKEN", account.access_token.as_str()),
        ("REPLACE_WITH_REFRESH_TOKEN", account.refresh_token.as_str()),
        ("REPLACE_WITH_EXPIRES_AT", expires.as_str()),
        ("REPLACE_WITH_EMAIL", email.as_str()),
        ("REPLACE_WITH_PROVIDER", "tiktok"),
        ("REPLACE_WITH_ACCOUNT_ID", account.open_id.as_str()),
        ("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI),
        // A callback for an authorization that was never started (the real flow needs
        // the TikTok fake's consent: tests/tests/authorization_flow.rs).
        ("REPLACE_WITH_CODE", "code-never-issued"),
        ("REPLACE_WITH_STATE", "state-never-issued"),
        ("REPLACE_WITH_BINDING", "binding-never-issued"),
        ("REPLACE_WITH_CLIENT_KEY", client_key.as_str()),
        ("REPLACE_WITH_SCHEDULED_AT", tomorrow.as_str()),
    ];
    replacements.extend_from_slice(extra);
    event_json(file, &replacements)
}

/// The first of the stack's `TIKTOK_REDIRECT_URIS` (scripts/with-stack.sh).
pub const FIRST_REDIRECT_URI: &str = "http://localhost:3000/connect/tiktok";

/// Functions not authenticated by a Firebase session at all (TikTok signs its webhooks).
pub fn firebase_authenticated(function: &str) -> bool {
    function != "tiktok-webhook"
}

/// Functions a request without a Firebase session may call (sign-in).
pub const SESSION_OPTIONAL: [&str; 3] = ["oauth-tiktok", "tiktok-authorize", "tiktok-callback"];

/// Functions whose good request (`good_request`) succeeds; the callback's needs an
/// authorization started at the TikTok fake first, a post's status and changes a post
/// made first, a video's analytics a video the sync found.
pub fn answers_good_request(function: &str) -> bool {
    !matches!(
        function,
        "tiktok-callback"
            | "tiktok-post-status"
            | "update-tiktok-post"
            | "cancel-tiktok-post"
            | "retry-tiktok-post"
            | "tiktok-media-status"
            | "tiktok-analytics-video"
    )
}

/// A good request for the function, for this user and TikTok account (the events/
/// files with their placeholders filled in).
pub fn good_request(
    function: &str,
    user: &FirebaseUser,
    account: &TikTokAccount,
) -> lambda_http::Request {
    lambda_http::request::from_str(&good_request_json(function, user, account)).expect("event")
}

/// [`good_request`] as the JSON event the Lambda runtime delivers.
pub fn good_request_json(function: &str, user: &FirebaseUser, account: &TikTokAccount) -> String {
    let file = match function {
        "oauth-tiktok" | "tiktok-authorize" | "tiktok-callback" => format!("{function}/link.json"),
        // A delivery of an event this app only records: repeating it changes nothing.
        "tiktok-webhook" => "tiktok-webhook/unknown-event.json".to_owned(),
        "update-connection" => "update-connection/relabel.json".to_owned(),
        other => format!("{other}/ok.json"),
    };
    // A post id no one has: the status of a real post needs one made first.
    request_json(
        &file,
        user,
        account,
        &[
            (
                "REPLACE_WITH_POST_ID",
                "00000000-0000-4000-8000-000000000000",
            ),
            (
                "REPLACE_WITH_MEDIA_ID",
                "00000000-0000-4000-8000-000000000000",
            ),
            ("REPLACE_WITH_VIDEO_ID", "7300000000000000001"),
        ],
    )
}

/// The function's request with no user or account in it (only the provider): for
/// authentication tests, which set the `authorization` header themselves.
pub fn request_without_user(function: &str) -> lambda_http::Request {
    match function {
        "oauth-tiktok" | "tiktok-authorize" | "tiktok-callback" => event(
            &format!("{function}/link.json"),
            &[("REPLACE_WITH_REDIRECT_URI", FIRST_REDIRECT_URI)],
        ),
        other => event(
            &format!("{other}/ok.json"),
            &[("REPLACE_WITH_PROVIDER", "tiktok")],
        ),
    }
}

/// A TikTok sign-in as the frontend sends it after TikTok's consent screen: the
/// account's grant, the email the user typed (if any) and the session (if any).
pub fn oauth_request(
    account: &TikTokAccount,
    email: Option<&str>,
    session: Option<&str>,
) -> lambda_http::Request {
    let mut body = json!({"provider": "tiktok", "provider_account_id": account.open_id,
                          "access_token": account.access_token, "refresh_token": account.refresh_token,
                          "expires_in": 7200});
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    let req = with_json_body(event("oauth-tiktok/no-email.json", &[]), &body);
    with_authorization(req, session.map(|t| format!("Bearer {t}")).as_deref())
}

/// A webhook delivery of `body`, signed with `secret` at `at` (None: no header).
pub fn webhook_delivery(body: &str, secret: &str, at: Option<i64>) -> lambda_http::Request {
    let mut req = with_raw_body(
        event("tiktok-webhook/no-signature.json", &[]),
        lambda_http::Body::Text(body.to_owned()),
    );
    if let Some(at) = at {
        let header = shared::webhook::sign(secret.as_bytes(), at, body.as_bytes());
        req.headers_mut()
            .insert("tiktok-signature", header.parse().expect("header"));
    }
    req
}

/// An event with the `authorization` header removed or set to `value`.
pub fn with_authorization(
    mut req: lambda_http::Request,
    value: Option<&str>,
) -> lambda_http::Request {
    match value {
        Some(v) => {
            req.headers_mut()
                .insert("authorization", v.parse().expect("header"));
        }
        None => {
            req.headers_mut().remove("authorization");
        }
    }
    req
}

/// Replaces a request's body (text, or base64 bytes as API Gateway sends binary).
pub fn with_raw_body(
    mut req: lambda_http::Request,
    body: lambda_http::Body,
) -> lambda_http::Request {
    *req.body_mut() = body;
    req
}

/// Replaces a request's body with this JSON.
pub fn with_json_body(req: lambda_http::Request, body: &Value) -> lambda_http::Request {
    with_raw_body(req, lambda_http::Body::Text(body.to_string()))
}

/// A request's body as JSON.
pub fn json_body(req: &lambda_http::Request) -> Value {
    serde_json::from_slice(req.body().as_ref()).expect("JSON body")
}

/// Replaces a request's method.
pub fn with_method(mut req: lambda_http::Request, method: &str) -> lambda_http::Request {
    *req.method_mut() = method.parse().expect("method");
    req
}

/// Replaces a request's query string parameters.
pub fn with_query(req: lambda_http::Request, params: &[(&str, &str)]) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let map: std::collections::HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    req.with_query_string_parameters(map)
}

/// A function's answer: status, headers and the JSON body (`null` when not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The answer is the contract's error `code`, with `status`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }

    /// The answer's body is `expected`.
    #[track_caller]
    pub fn assert_body(&self, expected: Value) {
        assert_eq!(self.body, expected, "{}", self.body);
    }
}

pub fn reply(response: lambda_http::Response<lambda_http::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Calls the handler of the named function, as its Lambda binary would.
pub async fn dispatch<P: shared::Ports>(
    function: &str,
    app: &shared::App<P>,
    req: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    shared::testing::dispatch(function, app, &req)
        .await
        .unwrap_or_else(|| panic!("unknown function {function}"))
}

/// [`dispatch`], the answer read as a [`Reply`].
pub async fn send<P: shared::Ports>(
    function: &str,
    app: &shared::App<P>,
    req: lambda_http::Request,
) -> Reply {
    // Boxed: the dispatcher's future holds the largest endpoint's, and suites await many
    // in one test (a 2 MiB test thread's stack in debug builds).
    reply(Box::pin(dispatch(function, app, req)).await)
}

/// The function's [`good_request`] for this user and account, answered.
pub async fn send_good<P: shared::Ports>(
    function: &str,
    app: &shared::App<P>,
    user: &FirebaseUser,
    account: &TikTokAccount,
) -> Reply {
    send(function, app, good_request(function, user, account)).await
}

/// The connection `open_id` as list-connections shows it to the session's user
/// (`null` when it is not listed).
pub async fn listed_connection<P: shared::Ports>(
    app: &shared::App<P>,
    id_token: &str,
    open_id: &str,
) -> Value {
    let req = with_authorization(
        event("list-connections/ok.json", &[]),
        Some(&format!("Bearer {id_token}")),
    );
    let r = send("list-connections", app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["connections"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["provider_account_id"] == open_id))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The bindings tiktok-authorize answered, by state: the browser's `sessionStorage`, for
/// the suites that carry only the state from the authorization to its callback.
static BINDINGS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Keeps the binding of tiktok-authorize's answer `started`, as the browser would.
pub fn keep_binding(started: &Value) {
    if let (Some(state), Some(binding)) = (started["state"].as_str(), started["binding"].as_str()) {
        BINDINGS
            .lock()
            .unwrap()
            .push((state.to_owned(), binding.to_owned()));
    }
}

/// The binding kept for `state`, if its authorization was started here.
pub fn binding_for(state: &str) -> Option<String> {
    BINDINGS
        .lock()
        .unwrap()
        .iter()
        .find(|(s, _)| s == state)
        .map(|(_, b)| b.clone())
}

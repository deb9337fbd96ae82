//! What every function's `main` does: logging, cold-start init, the Lambda loop.

use std::future::Future;
use std::time::Duration;

use lambda_http::{service_fn, Body, Request, Response};

use crate::app::LiveApp;
use crate::config::Needs;
use crate::cors::{self, Origins};
use crate::error::ApiError;
use crate::http::{request_id, respond};
use crate::{metrics, outbound};

/// Libraries that log raw events, headers or bodies (the `Authorization` header, token
/// bodies, the app secret, a presigned URL's signing) at DEBUG/TRACE: never more verbose
/// than INFO, whatever level is configured.
const CAPPED_TARGETS: [&str; 15] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_config",
    "aws_runtime",
    // Signing logs each canonical request at TRACE (a presigned URL's parts).
    "aws_sigv4",
    "aws_sdk_s3",
    "aws_sdk_secretsmanager",
];

/// Logging as Lambda's advanced logging controls ask (`AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG` as a level; `AWS_LAMBDA_LOG_FORMAT=JSON`), with [`CAPPED_TARGETS`] capped.
pub fn init_logging() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    init_logging_with(std::io::stdout, configured_level(), json);
}

fn configured_level() -> lambda_http::tracing::subscriber::filter::LevelFilter {
    use lambda_http::tracing::subscriber::filter::LevelFilter;
    use std::str::FromStr;
    std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| LevelFilter::from_str(v.trim()).ok())
        .unwrap_or(LevelFilter::INFO)
}

/// The same subscriber with a chosen writer and level (tests capture every line).
pub fn init_logging_with<W>(
    writer: W,
    level: lambda_http::tracing::subscriber::filter::LevelFilter,
    json: bool,
) where
    W: for<'w> lambda_http::tracing::subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};
    use lambda_http::tracing::subscriber::layer::SubscriberExt;
    use lambda_http::tracing::subscriber::util::SubscriberInitExt;
    // Per-target levels without `EnvFilter`, whose directive parsing links a regex engine
    // (about half a MiB) into every binary.
    let cap = std::cmp::min(level, LevelFilter::INFO);
    let filter = CAPPED_TARGETS
        .iter()
        .fold(Targets::new().with_default(level), |f, target| {
            f.with_target(*target, cap)
        });
    // The metrics' lines go where the logs go, each written whole.
    let writer = Shared(std::sync::Arc::new(writer));
    let for_metrics = Shared(writer.0.clone());
    metrics::set_sink(Box::new(move |line: &str| {
        use lambda_http::tracing::subscriber::fmt::MakeWriter;
        use std::io::Write;
        let _ = for_metrics
            .make_writer()
            .write_all(format!("{line}\n").as_bytes());
    }));
    let layer = lambda_http::tracing::subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let registry = lambda_http::tracing::subscriber::registry().with(filter);
    // `try_init`: a second initialisation (tests) is not an error worth dying for.
    let _ = if json {
        registry.with(layer.json()).try_init()
    } else {
        registry.with(layer).try_init()
    };
}

/// One writer shared by the logs and the metrics.
struct Shared<W>(std::sync::Arc<W>);

impl<'a, W> lambda_http::tracing::subscriber::fmt::MakeWriter<'a> for Shared<W>
where
    W: lambda_http::tracing::subscriber::fmt::MakeWriter<'a>,
{
    type Writer = W::Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }
}

/// What a use case answers: a response, or the contract's error.
pub type Outcome = Result<Response<Body>, ApiError>;

/// What the runtime does with every use case (handler tests call it too): every
/// upstream call in it is bounded by the request's deadline, and an error becomes the
/// contract's JSON body with the request id, logged once.
pub async fn answer(
    request_id: String,
    deadline: Duration,
    outcome: impl Future<Output = Outcome>,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + deadline;
    let outcome = outbound::with_deadline(deadline, outcome).await;
    answered(outcome, &request_id, started)
}

/// The contract's answer for an outcome, counted ([`metrics::request`]).
fn answered(outcome: Outcome, request_id: &str, started: std::time::Instant) -> Response<Body> {
    let code = match &outcome {
        Ok(_) => "ok",
        Err(err) => err.code(),
    };
    let response = respond(outcome, request_id);
    metrics::request(response.status().as_u16(), code, started.elapsed());
    response
}

/// Starts logging (JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT` says so), builds the app
/// once with the secrets `needs` names and no others, then serves requests with it until
/// the runtime stops. An init failure is logged with the setting's name and ends the
/// process, so Lambda retries init. A function that needs Firebase's admin API has its
/// service account (or emulator mode) checked at init, not on the first request.
pub async fn serve<F, Fut>(needs: Needs, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, Request) -> Fut,
    Fut: Future<Output = Outcome> + Send,
{
    serve_checked(needs, handler, move |app| match needs.firebase_admin {
        true => app.identity.check_admin().map_err(|e| e.to_string()),
        false => Ok(()),
    })
    .await
}

/// As [`serve`], for a function run on a schedule (EventBridge), not over HTTP: the
/// handler gets the time by which it must stop (the invocation's deadline, less a
/// margin) and answers a JSON summary.
pub async fn serve_scheduled<F, Fut, S>(needs: Needs, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, tokio::time::Instant) -> Fut,
    Fut: Future<Output = Result<S, ApiError>> + Send,
    S: serde::Serialize,
{
    /// Left for the summary and the last writes before Lambda's own timeout (a fifth of
    /// a short invocation's time: a local runtime's deadline is seconds away).
    const MARGIN: Duration = Duration::from_secs(20);
    const NO_DEADLINE: Duration = Duration::from_secs(60);
    init_logging();
    let app: &'static LiveApp = Box::leak(Box::new(LiveApp::init(needs).await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let deadline_ms = event.context.deadline;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            // A runtime that gives no deadline (a local emulator's 0): a minute.
            let left = match deadline_ms > now_ms {
                true => Duration::from_millis(deadline_ms - now_ms),
                false => {
                    tracing::warn!(
                        deadline_ms,
                        "no deadline from the runtime: a minute assumed"
                    );
                    NO_DEADLINE
                }
            };
            let until = tokio::time::Instant::now() + left.saturating_sub(MARGIN.min(left / 5));
            let work = handler(app, until);
            async move {
                work.await.map_err(|err| {
                    lambda_runtime::Error::from(format!("scheduled run failed: {}", err.code()))
                })
            }
        },
    ))
    .await
}

/// As [`serve`], for a use case that needs no settings, secret or upstream at all (the
/// catch-all route): nothing is loaded at init, so its cold start is the runtime's own.
pub async fn serve_plain(handler: fn(&Request) -> Outcome) -> Result<(), lambda_http::Error> {
    init_logging();
    lambda_http::run(service_fn(move |req: Request| {
        let started = std::time::Instant::now();
        let mut response = answered(handler(&req), &request_id(&req), started);
        cors::decorate(Origins::configured().allowed(&req), &mut response);
        async move { Ok::<_, std::convert::Infallible>(response) }
    }))
    .await
}

async fn serve_checked<F, Fut>(
    needs: Needs,
    handler: F,
    check: impl FnOnce(&LiveApp) -> Result<(), String>,
) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, Request) -> Fut,
    Fut: Future<Output = Outcome> + Send,
{
    init_logging();
    let app = LiveApp::init(needs).await?;
    if let Err(reason) = check(&app) {
        tracing::error!(reason = %reason, "configuration failed; the function cannot start");
        return Err(reason.into());
    }
    // Lives as long as the process, like the Lambda container it serves.
    let app: &'static LiveApp = Box::leak(Box::new(app));
    lambda_http::run(service_fn(|req: Request| {
        let origin = Origins::configured().allowed(&req);
        let response = answer(request_id(&req), app.request_deadline, handler(app, req));
        async move {
            let mut response = response.await;
            cors::decorate(origin, &mut response);
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

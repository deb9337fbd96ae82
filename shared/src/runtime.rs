//! What every function's `main` does: logging, cold-start init, the Lambda loop.

use std::future::Future;

use lambda_http::{service_fn, Body, Request, Response};

use crate::app::LiveApp;

/// Starts logging (JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT` says so), builds the app
/// once, then serves requests with it until the runtime stops. An init failure is
/// logged with the setting's name and ends the process, so Lambda retries init.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    serve_checked(handler, |_| Ok(())).await
}

/// As [`serve`], for functions that sign users in: the Firebase service account (or
/// emulator mode) is checked at init, not on the first request.
pub async fn serve_sign_in<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    serve_checked(handler, |app| {
        app.auth.check_admin().map_err(|e| e.to_string())
    })
    .await
}

async fn serve_checked<F, Fut>(
    handler: F,
    check: impl FnOnce(&LiveApp) -> Result<(), String>,
) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static LiveApp, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_http::tracing::init_default_subscriber();
    let app = LiveApp::init().await?;
    if let Err(reason) = check(&app) {
        tracing::error!(reason = %reason, "configuration failed; the function cannot start");
        return Err(reason.into());
    }
    // Lives as long as the process, like the Lambda container it serves.
    let app: &'static LiveApp = Box::leak(Box::new(app));
    lambda_http::run(service_fn(|req: Request| {
        let response = handler(app, req);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    }))
    .await
}

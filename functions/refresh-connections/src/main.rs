//! The keep-alive sweep, run on a schedule (EventBridge): no HTTP route.

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_scheduled(Needs::TIKTOK_CLIENT_SECRET, |app, until| {
        shared::sweep::run(app, until)
    })
    .await
}

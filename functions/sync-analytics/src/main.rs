//! The analytics sync, run every 5 minutes (EventBridge Scheduler): no HTTP route.

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_scheduled(Needs::TIKTOK_CLIENT_SECRET, |app, until| {
        shared::analytics::run(app, until)
    })
    .await
}

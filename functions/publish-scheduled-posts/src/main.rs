//! The dispatcher of scheduled posts, run every minute (EventBridge Scheduler): no HTTP
//! route.

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_scheduled(Needs::TIKTOK_CLIENT_SECRET.with_media(), |app, until| {
        shared::dispatch::run(app, until)
    })
    .await
}

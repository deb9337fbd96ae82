//! GET /api/v1/social-connections/tiktok/analytics/videos

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::NOTHING_SECRET, |app, req| async move {
        shared::endpoints::tiktok_analytics::videos::run(app, &req).await
    })
    .await
}

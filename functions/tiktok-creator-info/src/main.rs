//! GET /api/v1/social-connections/tiktok/creator-info

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::TIKTOK_CLIENT_SECRET, |app, req| async move {
        shared::endpoints::tiktok_creator_info::run(app, &req).await
    })
    .await
}

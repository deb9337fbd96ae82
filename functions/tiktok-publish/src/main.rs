//! POST /api/v1/social-connections/tiktok/posts

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::BOTH, |app, req| async move {
        shared::endpoints::tiktok_publish::run(app, &req).await
    })
    .await
}

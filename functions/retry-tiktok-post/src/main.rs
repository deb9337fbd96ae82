//! POST /api/v1/social-connections/tiktok/posts/{id}/retry

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::FIREBASE_ADMIN, |app, req| async move {
        shared::endpoints::retry_tiktok_post::run(app, &req).await
    })
    .await
}

//! POST /api/v1/social-connections/tiktok/media

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::FIREBASE_ADMIN.with_media(), |app, req| async move {
        shared::endpoints::tiktok_media::run(app, &req).await
    })
    .await
}

//! GET /api/v1/social-connections/tiktok/media/{id}

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::NOTHING_SECRET.with_media(), |app, req| async move {
        shared::endpoints::tiktok_media_status::run(app, &req).await
    })
    .await
}

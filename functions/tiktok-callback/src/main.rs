//! POST /api/v1/auth/tiktok/callback

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::CALLBACK, |app, req| async move {
        shared::endpoints::tiktok_callback::run(app, &req).await
    })
    .await
}

//! POST /api/v1/auth/tiktok/authorize

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::AUTHORIZE, |app, req| async move {
        shared::endpoints::tiktok_authorize::run(app, &req).await
    })
    .await
}

//! DELETE /api/v1/social-connections/tiktok/{open_id}

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::BOTH, |app, req| async move {
        shared::endpoints::disconnect_tiktok::run(app, &req).await
    })
    .await
}

//! POST /api/v1/auth/oauth/tiktok

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::FIREBASE_ADMIN, |app, req| async move {
        shared::endpoints::oauth_tiktok::run(app, &req).await
    })
    .await
}

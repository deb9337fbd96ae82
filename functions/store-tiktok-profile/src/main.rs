//! POST /api/v1/social-connections/store-tiktok-profile

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::FIREBASE_ADMIN, |app, req| async move {
        shared::endpoints::store_tiktok_profile::run(app, &req).await
    })
    .await
}

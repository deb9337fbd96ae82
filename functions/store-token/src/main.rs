//! POST /api/v1/social-connections/store-token

use shared::config::Needs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(Needs::FIREBASE_ADMIN, |app, req| async move {
        shared::endpoints::store_token::run(app, &req).await
    })
    .await
}

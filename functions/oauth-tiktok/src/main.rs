//! POST /api/v1/auth/oauth/tiktok

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_sign_in(|app, req| async move {
        shared::endpoints::oauth_tiktok::run(app, &req).await
    })
    .await
}

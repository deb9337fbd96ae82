//! POST /api/v1/auth/oauth/tiktok

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_sign_in(shared::endpoints::oauth_tiktok::handle).await
}

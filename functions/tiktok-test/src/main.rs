//! GET /api/v1/social-connections/tiktok/test

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(shared::endpoints::tiktok_test::handle).await
}

//! POST /api/v1/social-connections/store-tiktok-profile

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(shared::endpoints::store_tiktok_profile::handle).await
}

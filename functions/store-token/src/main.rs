//! POST /api/v1/social-connections/store-token

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(shared::endpoints::store_token::handle).await
}

//! GET /api/v1/social-connections/connections

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(shared::endpoints::list_connections::handle).await
}

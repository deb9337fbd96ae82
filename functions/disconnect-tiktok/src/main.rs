//! DELETE /api/v1/social-connections/tiktok/{open_id}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve(shared::endpoints::disconnect_tiktok::handle).await
}

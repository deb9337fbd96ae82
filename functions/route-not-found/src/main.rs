//! The catch-all route (`$default`): any other path or method.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_plain(shared::endpoints::route_not_found::run).await
}

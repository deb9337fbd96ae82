//! The floor the functions are measured against: a hello-world `lambda_http` function,
//! built in the same run with the same release profile.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::Text("{\"hello\":\"world\"}".into())))
    }))
    .await
}

//! The app's webhook callback URL, as the TikTok fake's sender reaches it: each POST is
//! handed to the tiktok-webhook function in-process (raw body and `TikTok-Signature`
//! header, as API Gateway passes them) and its answer goes back to the fake. The apps
//! answer in turn (the last one from then on), so a test can have the first delivery
//! meet an outage and the retry a working app.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;

use super::http1::{headers, read_request, write_response};
use crate::events::{event, send, with_raw_body};

pub struct WebhookReceiver {
    /// Where the fake delivers (its per-account target).
    pub url: String,
    received: Arc<AtomicUsize>,
}

impl WebhookReceiver {
    /// Answers the first delivery with `apps[0]`, the second with `apps[1]`, ... and every
    /// later one with the last.
    pub async fn start(apps: Vec<shared::LiveApp>) -> WebhookReceiver {
        assert!(!apps.is_empty(), "an app answers");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/api/v1/webhooks/tiktok",
            listener.local_addr().expect("addr")
        );
        let received = Arc::new(AtomicUsize::new(0));
        let (apps, count) = (Arc::new(apps), received.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (apps, count) = (apps.clone(), count.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut socket, &mut Vec::new()).await else {
                        return;
                    };
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let app = &apps[n.min(apps.len() - 1)];
                    let mut delivery = with_raw_body(
                        event("tiktok-webhook/no-signature.json", &[]),
                        lambda_http::Body::Text(String::from_utf8_lossy(&req.body).into_owned()),
                    );
                    if let Some((_, signature)) =
                        req.headers.iter().find(|(k, _)| k == "tiktok-signature")
                    {
                        delivery.headers_mut().insert(
                            "tiktok-signature",
                            signature.parse().expect("a header value"),
                        );
                    }
                    let answer = send("tiktok-webhook", app, delivery).await;
                    let json = headers(&[
                        ("Content-Type", "application/json"),
                        ("Connection", "close"),
                    ]);
                    write_response(
                        &mut socket,
                        answer.status,
                        &json,
                        answer.body.to_string().as_bytes(),
                    )
                    .await;
                });
            }
        });
        WebhookReceiver { url, received }
    }

    /// Deliveries received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

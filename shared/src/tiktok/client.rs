//! The HTTP adapter of [`TikTokApi`]: one way to send a request and read its answer
//! (through [`crate::outbound`]), one parser per endpoint.

use secrecy::{ExposeSecret, SecretString};

use super::parse::{parse_code_grant, parse_revoke, parse_token_grant, parse_user_info};
use super::posting::{
    parse_creator_info, parse_init, parse_status, CreatorInfo, InitAnswer, PostInit, PublishStatus,
};
use super::videos::{parse_videos, VideoPage, VIDEO_FIELDS};
use super::{TikTokApi, TikTokConfig, TikTokError, TokenGrant, UserInfo};
use crate::outbound::{self, Answer};

/// One chunk of an upload (10 MB) is given this long: more than a JSON call.
const UPLOAD_CHUNK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct TikTokClient {
    http: reqwest::Client,
    base_url: String,
    client_key: SecretString,
    /// Only in functions that refresh or revoke.
    client_secret: Option<SecretString>,
}

impl TikTokClient {
    pub fn new(config: &TikTokConfig, http: reqwest::Client) -> Self {
        TikTokClient {
            http,
            base_url: config.api_base_url.clone(),
            client_key: config.client_key.clone(),
            client_secret: config.client_secret.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A `/v2/video/` call with the video fields.
    async fn videos(
        &self,
        path: &'static str,
        access_token: &str,
        body: &serde_json::Value,
    ) -> Result<VideoPage, TikTokError> {
        let request = self
            .http
            .post(self.url(path))
            .query(&[("fields", VIDEO_FIELDS.join(","))])
            .bearer_auth(access_token)
            .json(body);
        let answer = send(path, request).await?;
        parse_videos(answer.status, answer.retry_after, &answer.body)
    }

    /// A Content Posting API call: bearer token, JSON body.
    async fn posting(
        &self,
        path: &'static str,
        access_token: &str,
        body: &serde_json::Value,
    ) -> Result<Answer, TikTokError> {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(access_token)
            .json(body);
        send(path, request).await
    }

    /// A form post to the OAuth endpoints, authenticated by the app's credentials.
    async fn oauth_form(
        &self,
        path: &'static str,
        form: &[(&str, &str)],
    ) -> Result<Answer, TikTokError> {
        let Some(secret) = &self.client_secret else {
            tracing::error!("this function has no TikTok client secret (Needs): refresh and revoke are not its job");
            return Err(TikTokError::Unavailable("no client secret".into()));
        };
        let mut fields = vec![
            ("client_key", self.client_key.expose_secret()),
            ("client_secret", secret.expose_secret()),
        ];
        fields.extend_from_slice(form);
        send(path, self.http.post(self.url(path)).form(&fields)).await
    }
}

/// Sends a call to TikTok's API (`endpoint`: its path), counted by endpoint and outcome
/// with its latency ([`crate::metrics`]).
async fn send(
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, TikTokError> {
    let started = std::time::Instant::now();
    let sent = outbound::send(request).await;
    tiktok_call(endpoint, &sent, started.elapsed());
    sent.map_err(|t| match t.was_sent() {
        true => TikTokError::Unavailable(t.to_string()),
        false => TikTokError::NotSent(t.to_string()),
    })
}

/// One TikTok call's metrics: `ok`, `401`, `429`, `4xx`, `5xx`, `timeout` or
/// `unreachable`.
fn tiktok_call(
    endpoint: &'static str,
    sent: &Result<Answer, outbound::Transport>,
    elapsed: std::time::Duration,
) {
    let outcome = match sent {
        Ok(answer) => match answer.status {
            200..=299 => "ok",
            401 => "401",
            429 => "429",
            500..=599 => "5xx",
            _ => "4xx",
        },
        Err(outbound::Transport::TimedOut) => "timeout",
        Err(_) => "unreachable",
    };
    crate::metrics::Line::new(&[("endpoint", endpoint), ("outcome", outcome)])
        .count("TikTokCalls", 1)
        .value(
            "TikTokLatency",
            crate::metrics::Unit::Milliseconds,
            elapsed.as_secs_f64() * 1000.0,
        )
        .emit();
}

impl TikTokApi for TikTokClient {
    async fn user_info(
        &self,
        access_token: &str,
        fields: &[&str],
    ) -> Result<UserInfo, TikTokError> {
        let request = self
            .http
            .get(self.url("/v2/user/info/"))
            .query(&[("fields", fields.join(","))])
            .bearer_auth(access_token);
        let answer = send("/v2/user/info/", request).await?;
        parse_user_info(answer.status, answer.retry_after, &answer.body)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, TikTokError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let answer = self.oauth_form("/v2/oauth/token/", &form).await?;
        parse_token_grant(answer.status, answer.retry_after, &answer.body)
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenGrant, TikTokError> {
        let form = [
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let answer = self.oauth_form("/v2/oauth/token/", &form).await?;
        parse_code_grant(answer.status, answer.retry_after, &answer.body)
    }

    async fn list_videos(
        &self,
        access_token: &str,
        cursor: Option<i64>,
        max_count: u32,
    ) -> Result<VideoPage, TikTokError> {
        let mut body = serde_json::json!({ "max_count": max_count });
        if let Some(cursor) = cursor {
            body["cursor"] = cursor.into();
        }
        self.videos("/v2/video/list/", access_token, &body).await
    }

    async fn query_videos(
        &self,
        access_token: &str,
        ids: &[String],
    ) -> Result<VideoPage, TikTokError> {
        let body = serde_json::json!({ "filters": { "video_ids": ids } });
        self.videos("/v2/video/query/", access_token, &body).await
    }

    async fn creator_info(&self, access_token: &str) -> Result<CreatorInfo, TikTokError> {
        let path = "/v2/post/publish/creator_info/query/";
        let answer = self
            .posting(path, access_token, &serde_json::json!({}))
            .await?;
        parse_creator_info(answer.status, answer.retry_after, &answer.body)
    }

    async fn init_post(
        &self,
        access_token: &str,
        init: &PostInit,
    ) -> Result<InitAnswer, TikTokError> {
        let answer = self
            .posting(init.target.path(), access_token, &init.body)
            .await?;
        parse_init(answer.status, answer.retry_after, &answer.body)
    }

    async fn upload_chunk(
        &self,
        upload_url: &str,
        content_type: &str,
        (first, last): (u64, u64),
        total: u64,
        bytes: bytes::Bytes,
    ) -> Result<u16, TikTokError> {
        // TikTok's URL (https; http only on loopback, the local stack's fake).
        let url = outbound::upstream_url(upload_url)
            .map_err(|why| TikTokError::NotSent(format!("upload URL refused: {why}")))?;
        let request = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{total}"),
            )
            .body(bytes);
        let answer = outbound::send_within(request, UPLOAD_CHUNK_TIMEOUT)
            .await
            .map_err(|t| match t.was_sent() {
                true => TikTokError::Unavailable(t.to_string()),
                false => TikTokError::NotSent(t.to_string()),
            })?;
        Ok(answer.status)
    }

    async fn post_status(
        &self,
        access_token: &str,
        publish_id: &str,
    ) -> Result<PublishStatus, TikTokError> {
        let path = "/v2/post/publish/status/fetch/";
        let body = serde_json::json!({ "publish_id": publish_id });
        let answer = self.posting(path, access_token, &body).await?;
        parse_status(answer.status, answer.retry_after, &answer.body)
    }

    fn verify_webhook(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), crate::webhook::SignatureError> {
        let Some(secret) = &self.client_secret else {
            tracing::error!("this function has no TikTok client secret to check webhooks with");
            return Err(crate::webhook::SignatureError::Mismatch);
        };
        crate::webhook::verify(header, body, secret.expose_secret().as_bytes(), now)
    }

    async fn revoke(&self, access_token: &str) -> Result<bool, TikTokError> {
        let form = [("token", access_token)];
        let answer = self.oauth_form("/v2/oauth/revoke/", &form).await?;
        parse_revoke(answer.status, answer.retry_after, &answer.body)
    }
}

//! The TikTok fake (`scripts/tiktok_fake/`, started by the stack): its accounts, and
//! its control endpoints that script faults and report the calls it received.

use serde_json::{json, Value};

use crate::stack::{http, stack_var, tiktok_open_id};

/// Every scope the app asks for.
pub const ALL_SCOPES: &str =
    "user.info.basic,user.info.profile,user.info.stats,video.list,video.publish,video.upload";
/// The scope every TikTok grant has.
pub const BASIC_SCOPE: &str = "user.info.basic";
/// The scopes of the Content Posting API (direct posts and inbox uploads).
pub const PUBLISH_SCOPES: &str = "user.info.basic,video.publish,video.upload";
/// The URL prefix the fake treats as verified for `PULL_FROM_URL` media.
pub const VERIFIED_PREFIX: &str = "https://media.example.com/verified/";

#[derive(Debug, Clone)]
pub struct TikTokAccount {
    pub open_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub scope: String,
}

impl TikTokAccount {
    /// The account with the tokens of a grant the fake answered.
    fn with_grant(open_id: &str, scope: &str, grant: &Value) -> TikTokAccount {
        TikTokAccount {
            open_id: open_id.to_owned(),
            access_token: grant["access_token"].as_str().expect("access").to_owned(),
            refresh_token: grant["refresh_token"].as_str().expect("refresh").to_owned(),
            scope: scope.to_owned(),
        }
    }
}

pub struct TikTokFake {
    base: String,
    http: reqwest::Client,
}

impl Default for TikTokFake {
    fn default() -> Self {
        Self::new()
    }
}

impl TikTokFake {
    pub fn new() -> Self {
        TikTokFake {
            base: stack_var("STACK_TIKTOK_URL"),
            http: http(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("fake");
        assert!(
            response.status().is_success(),
            "fake {path}: {}",
            response.status()
        );
        response.json().await.expect("fake answer")
    }

    /// The user `open_id` authorises the app with `scope`: a new grant.
    async fn authorize(&self, open_id: &str, scope: &str) -> TikTokAccount {
        let grant = self
            .post(
                "/_fake/accounts",
                json!({"open_id": open_id, "scope": scope}),
            )
            .await;
        TikTokAccount::with_grant(open_id, scope, &grant)
    }

    /// A new TikTok user who authorised the app with `scope`.
    pub async fn account(&self, scope: &str) -> TikTokAccount {
        self.authorize(&tiktok_open_id(), scope).await
    }

    /// A new TikTok user who authorised the app with `scope`, with these posting settings
    /// (`creator`: `privacy_level_options`, `comment_disabled`, `duet_disabled`,
    /// `stitch_disabled`, `max_video_post_duration_sec`, `private_account`,
    /// `app_unaudited`, `max_posts_per_day`; the rest keep the fake's defaults).
    pub async fn account_with(&self, scope: &str, creator: Value) -> TikTokAccount {
        self.account_with_settings(scope, json!({ "creator": creator }))
            .await
    }

    /// A new TikTok user who authorised the app with `scope`, the account made with
    /// these settings of `/_fake/accounts` (`oauth_error_status`: 200 answers this
    /// account's OAuth errors with HTTP 200, as TikTok also does).
    pub async fn account_with_settings(
        &self,
        scope: &str,
        settings: serde_json::Value,
    ) -> TikTokAccount {
        let open_id = tiktok_open_id();
        let mut body = json!({"open_id": open_id, "scope": scope});
        for (k, v) in settings.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let grant = self.post("/_fake/accounts", body).await;
        TikTokAccount::with_grant(&open_id, scope, &grant)
    }

    /// `N` new TikTok users who authorised the app with `scope`.
    pub async fn accounts<const N: usize>(&self, scope: &str) -> [TikTokAccount; N] {
        let mut accounts = Vec::with_capacity(N);
        for _ in 0..N {
            accounts.push(self.account(scope).await);
        }
        accounts.try_into().expect("N accounts")
    }

    /// The user authorises the app again (a new sign-in): a new grant for the account.
    pub async fn reauthorize(&self, account: &TikTokAccount) -> TikTokAccount {
        self.authorize(&account.open_id, &account.scope).await
    }

    /// Refreshes at the fake as a TikTok client would: the account's next token pair.
    pub async fn rotate(&self, account: &TikTokAccount) -> TikTokAccount {
        let grant: Value = self
            .http
            .post(format!("{}/v2/oauth/token/", self.base))
            .form(&[
                ("client_key", stack_var("TIKTOK_CLIENT_KEY")),
                ("client_secret", stack_var("TIKTOK_CLIENT_SECRET")),
                ("grant_type", "refresh_token".into()),
                ("refresh_token", account.refresh_token.clone()),
            ])
            .send()
            .await
            .expect("refresh")
            .json()
            .await
            .expect("grant");
        TikTokAccount::with_grant(&account.open_id, &account.scope, &grant)
    }

    pub async fn expire_access(&self, open_id: &str) {
        self.post("/_fake/expire_access", json!({"open_id": open_id}))
            .await;
    }

    /// The user removed the app in TikTok's settings: every token of theirs is dead.
    pub async fn deauthorize(&self, open_id: &str) {
        self.post("/_fake/deauthorize", json!({"open_id": open_id}))
            .await;
    }

    pub async fn invalidate_refresh(&self, open_id: &str) {
        self.post("/_fake/invalidate_refresh", json!({"open_id": open_id}))
            .await;
    }

    /// Every bearer call (the JSON APIs) answered `ms` milliseconds late (0: at once).
    pub async fn set_latency(&self, ms: u64) {
        self.post("/_fake/latency", json!({ "ms": ms })).await;
    }

    /// Videos on the account (`/_fake/videos`: `count`, `newest`, `title`, ...): the made
    /// ones.
    pub async fn add_videos(&self, open_id: &str, spec: Value) -> Value {
        let mut body = spec;
        body["open_id"] = Value::String(open_id.to_owned());
        self.post("/_fake/videos", body).await["videos"].clone()
    }

    /// The next responses of `endpoint` (`user_info`, `token`, `revoke`) for this account.
    /// Changes a video's counts as TikTok will answer them (`view_count`, `like_count`,
    /// `comment_count`, `share_count`), or removes it (`deleted: true`).
    pub async fn video_stats(&self, open_id: &str, change: Value) -> Value {
        let mut body = change;
        body["open_id"] = json!(open_id);
        self.post("/_fake/video_stats", body).await
    }

    /// The Display API's limit a minute per endpoint (TikTok's 600 unless changed): a
    /// load test of our functions raises it, since its load is not what TikTok will see.
    pub async fn set_display_rpm(&self, rpm: u64) {
        self.post("/_fake/display_rpm", json!({ "rpm": rpm })).await;
    }

    pub async fn script(&self, open_id: &str, endpoint: &str, responses: Value) {
        self.post(
            "/_fake/faults",
            json!({"open_id": open_id, "endpoint": endpoint, "responses": responses}),
        )
        .await;
    }

    /// The user consents on TikTok's page to the authorize URL (its parameters changed
    /// as `edit` says), as `open_id` (a new account when `None`): the code TikTok puts
    /// on the redirect, and the consenting account's open_id.
    pub async fn consent(
        &self,
        authorize_url: &str,
        open_id: Option<&str>,
        edit: &[(&str, &str)],
    ) -> (String, String) {
        self.consent_with(authorize_url, open_id, edit, json!({}))
            .await
    }

    /// As [`TikTokFake::consent`], with more settings of the consent (`pkce_encoding`:
    /// `base64url` plays a TikTok that compares RFC 7636's challenge, not hex).
    pub async fn consent_with(
        &self,
        authorize_url: &str,
        open_id: Option<&str>,
        edit: &[(&str, &str)],
        settings: Value,
    ) -> (String, String) {
        let url = reqwest::Url::parse(authorize_url).expect("authorize URL");
        let mut query: serde_json::Map<String, Value> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), json!(v)))
            .collect();
        for (k, v) in edit {
            query.insert((*k).into(), json!(v));
        }
        let mut body = json!({"query": query, "open_id": open_id});
        for (k, v) in settings.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let answer = self.post("/_fake/consent", body).await;
        let code = answer["code"].as_str().expect("a code").to_owned();
        crate::stack::record_secret(&code);
        (
            code,
            answer["open_id"].as_str().expect("open_id").to_owned(),
        )
    }

    /// What the fake holds of an account: its current refresh token and live access
    /// tokens.
    pub async fn account_state(&self, open_id: &str) -> Value {
        self.http
            .get(format!("{}/_fake/accounts/{open_id}", self.base))
            .send()
            .await
            .expect("fake account")
            .json()
            .await
            .expect("account answer")
    }

    pub async fn refresh_token_valid(&self, open_id: &str, refresh_token: &str) -> bool {
        let answer = self
            .post(
                "/_fake/check_refresh",
                json!({"open_id": open_id, "refresh_token": refresh_token}),
            )
            .await;
        answer["valid"].as_bool().unwrap_or(false)
    }

    /// Changes the account's posting settings: those `creator` names, the rest stay.
    pub async fn set_creator(&self, open_id: &str, creator: Value) {
        self.post(
            "/_fake/creator",
            json!({"open_id": open_id, "creator": creator}),
        )
        .await;
    }

    /// What the fake holds of a publish: its mode, source, plan, next chunk, uploaded
    /// bytes, status and public post ids.
    pub async fn publish_state(&self, publish_id: &str) -> Value {
        self.http
            .get(format!("{}/_fake/publishes/{publish_id}", self.base))
            .send()
            .await
            .expect("fake publish")
            .json()
            .await
            .expect("publish answer")
    }

    /// Moves a publish on as TikTok would: `state` may set `status`, `fail_reason` and
    /// `post_ids`.
    pub async fn set_publish(&self, publish_id: &str, state: Value) {
        let mut body = state;
        body["publish_id"] = json!(publish_id);
        self.post("/_fake/publish", body).await;
    }

    /// The account's TikTok webhooks go to `url` (the app's callback URL), as TikTok's go
    /// to the one registered for the app.
    pub async fn send_webhooks_to(&self, open_id: &str, url: &str) {
        self.post(
            "/_fake/webhooks/target",
            json!({"open_id": open_id, "url": url}),
        )
        .await;
    }

    /// TikTok sends `event` about the account now (to its webhook target).
    pub async fn send_webhook(
        &self,
        open_id: &str,
        event: &str,
        content: Value,
        create_time: Option<i64>,
    ) {
        self.post(
            "/_fake/webhooks/send",
            json!({"open_id": open_id, "event": event, "content": content, "create_time": create_time}),
        )
        .await;
    }

    /// The account's webhook deliveries, once every one has ended (answered 200, or
    /// every retry spent), or after `wait`: each `{event, attempts: [status...],
    /// delivered}`.
    pub async fn webhook_deliveries(&self, open_id: &str, wait: std::time::Duration) -> Vec<Value> {
        let until = std::time::Instant::now() + wait;
        loop {
            let answer: Value = self
                .http
                .get(format!("{}/_fake/webhooks", self.base))
                .query(&[("open_id", open_id)])
                .send()
                .await
                .expect("fake webhooks")
                .json()
                .await
                .expect("webhooks answer");
            let deliveries = answer["deliveries"].as_array().cloned().unwrap_or_default();
            let settled = deliveries.iter().all(|d| d["delivered"] == true);
            if (settled && !deliveries.is_empty()) || std::time::Instant::now() >= until {
                return deliveries;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Calls the account received, by endpoint name.
    pub async fn calls(&self, open_id: &str) -> Vec<Value> {
        self.calls_where(&[("open_id", open_id)]).await
    }

    /// Every call the fake received, for any account or none (a call made with a
    /// cleared or unknown token is filed under no account).
    pub async fn all_calls(&self) -> Vec<Value> {
        self.calls_where(&[]).await
    }

    async fn calls_where(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let answer: Value = self
            .http
            .get(format!("{}/_fake/calls", self.base))
            .query(query)
            .send()
            .await
            .expect("fake calls")
            .json()
            .await
            .expect("calls answer");
        answer["calls"].as_array().cloned().unwrap_or_default()
    }

    pub async fn count(&self, open_id: &str, endpoint: &str) -> usize {
        self.calls(open_id)
            .await
            .iter()
            .filter(|c| c["endpoint"] == endpoint)
            .count()
    }
}

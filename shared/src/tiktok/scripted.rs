//! A TikTok that answers from a script, for use-case and handler tests without the
//! TikTok fake: accounts it knows (access token -> user), refresh grants it will give,
//! and answers queued per call. It records every call. Test builds only.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::posting::{CreatorInfo, InitAnswer, PostInit, PublishStatus};
use super::videos::VideoPage;
use super::{TikTokApi, TikTokError, TokenGrant, UserInfo};

/// The client secret the scripted TikTok signs webhooks with.
pub const TEST_CLIENT_SECRET: &str = "scripted-client-secret";

/// One call TikTok saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    UserInfo {
        access_token: String,
    },
    Refresh {
        refresh_token: String,
    },
    Revoke {
        access_token: String,
    },
    ExchangeCode {
        code: String,
        code_verifier: String,
    },
    ListVideos {
        access_token: String,
        cursor: Option<i64>,
        max_count: u32,
    },
    QueryVideos {
        access_token: String,
        ids: Vec<String>,
    },
    CreatorInfo {
        access_token: String,
    },
    InitPost {
        access_token: String,
        init: PostInit,
    },
    PostStatus {
        access_token: String,
        publish_id: String,
    },
    UploadChunk {
        range: (u64, u64),
        total: u64,
    },
}

type Hook = Box<dyn FnOnce() + Send>;
type RefreshRule = Box<dyn Fn(&str) -> Result<TokenGrant, TikTokError> + Send + Sync>;

#[derive(Default)]
pub struct ScriptedTikTok {
    /// Live access tokens and the account each belongs to.
    accounts: Mutex<HashMap<String, UserInfo>>,
    user_info: Mutex<VecDeque<Result<UserInfo, TikTokError>>>,
    refresh: Mutex<VecDeque<Result<TokenGrant, TikTokError>>>,
    revoke: Mutex<VecDeque<Result<bool, TikTokError>>>,
    exchange: Mutex<VecDeque<Result<TokenGrant, TikTokError>>>,
    videos: Mutex<VecDeque<Result<VideoPage, TikTokError>>>,
    posting: Mutex<VecDeque<TikTokError>>,
    calls: Mutex<Vec<Call>>,
    /// Runs once, right after the next refresh call: a concurrent winner's write.
    after_refresh: Mutex<Option<Hook>>,
    /// Answers unscripted refreshes, given the refresh token.
    refresh_rule: Mutex<Option<RefreshRule>>,
}

impl ScriptedTikTok {
    /// An access token TikTok accepts, for the account `info` describes.
    pub fn with_account(self, access_token: &str, info: UserInfo) -> Self {
        self.accounts
            .lock()
            .unwrap()
            .insert(access_token.to_owned(), info);
        self
    }

    /// The next user-info call answers this (before the known accounts are looked at).
    pub fn then_user_info(&self, answer: Result<UserInfo, TikTokError>) -> &Self {
        self.user_info.lock().unwrap().push_back(answer);
        self
    }

    /// The next refresh answers this; unscripted refreshes are refused.
    pub fn then_refresh(&self, answer: Result<TokenGrant, TikTokError>) -> &Self {
        self.refresh.lock().unwrap().push_back(answer);
        self
    }

    /// Unscripted refreshes answer what `rule` makes of the refresh token (rather than
    /// being refused): for sweeps over many connections.
    pub fn refresh_by(
        &self,
        rule: impl Fn(&str) -> Result<TokenGrant, TikTokError> + Send + Sync + 'static,
    ) -> &Self {
        *self.refresh_rule.lock().unwrap() = Some(Box::new(rule));
        self
    }

    /// The next revoke answers this; unscripted revokes succeed.
    pub fn then_revoke(&self, answer: Result<bool, TikTokError>) -> &Self {
        self.revoke.lock().unwrap().push_back(answer);
        self
    }

    /// The next code exchange answers this; unscripted exchanges are refused.
    pub fn then_exchange(&self, answer: Result<TokenGrant, TikTokError>) -> &Self {
        self.exchange.lock().unwrap().push_back(answer);
        self
    }

    /// The next video list or query answers this; unscripted ones answer an empty page
    /// for known tokens.
    pub fn then_videos(&self, answer: Result<VideoPage, TikTokError>) -> &Self {
        self.videos.lock().unwrap().push_back(answer);
        self
    }

    /// The next Content Posting call fails with this; unscripted ones succeed for known
    /// tokens (every privacy option, a `v_pub_` id, `PROCESSING_UPLOAD`).
    pub fn then_posting_error(&self, error: TikTokError) -> &Self {
        self.posting.lock().unwrap().push_back(error);
        self
    }

    fn posting_answer<V>(&self, access_token: &str, value: V) -> Result<V, TikTokError> {
        if let Some(error) = self.posting.lock().unwrap().pop_front() {
            return Err(error);
        }
        match self.accounts.lock().unwrap().contains_key(access_token) {
            true => Ok(value),
            false => Err(TikTokError::TokenInvalid),
        }
    }

    fn video_answer(&self, access_token: &str) -> Result<VideoPage, TikTokError> {
        if let Some(answer) = self.videos.lock().unwrap().pop_front() {
            return answer;
        }
        match self.accounts.lock().unwrap().contains_key(access_token) {
            true => Ok(VideoPage::default()),
            false => Err(TikTokError::TokenInvalid),
        }
    }

    pub fn after_next_refresh(&self, hook: impl FnOnce() + Send + 'static) {
        *self.after_refresh.lock().unwrap() = Some(Box::new(hook));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The access tokens user info was called with, in order.
    pub fn user_info_tokens(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::UserInfo { access_token } => Some(access_token),
                _ => None,
            })
            .collect()
    }

    fn record(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
}

/// A grant as TikTok's token endpoint gives it.
pub fn grant(access_token: &str, refresh_token: &str, open_id: &str) -> TokenGrant {
    TokenGrant {
        access_token: access_token.into(),
        refresh_token: refresh_token.into(),
        expires_in: 7200,
        refresh_expires_in: Some(15_552_000),
        open_id: Some(open_id.into()),
        scope: Some("user.info.basic".into()),
    }
}

impl TikTokApi for ScriptedTikTok {
    async fn user_info(&self, access_token: &str, _: &[&str]) -> Result<UserInfo, TikTokError> {
        self.record(Call::UserInfo {
            access_token: access_token.into(),
        });
        if let Some(answer) = self.user_info.lock().unwrap().pop_front() {
            return answer;
        }
        let accounts = self.accounts.lock().unwrap();
        accounts
            .get(access_token)
            .cloned()
            .ok_or(TikTokError::TokenInvalid)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, TikTokError> {
        self.record(Call::Refresh {
            refresh_token: refresh_token.into(),
        });
        let scripted = self.refresh.lock().unwrap().pop_front();
        let answer = scripted.unwrap_or_else(|| match &*self.refresh_rule.lock().unwrap() {
            Some(rule) => rule(refresh_token),
            None => Err(TikTokError::RefreshRejected),
        });
        if let Some(hook) = self.after_refresh.lock().unwrap().take() {
            hook();
        }
        answer
    }

    async fn exchange_code(
        &self,
        code: &str,
        _: &str,
        code_verifier: &str,
    ) -> Result<TokenGrant, TikTokError> {
        self.record(Call::ExchangeCode {
            code: code.into(),
            code_verifier: code_verifier.into(),
        });
        let mut queue = self.exchange.lock().unwrap();
        queue.pop_front().unwrap_or(Err(TikTokError::CodeRejected))
    }

    async fn list_videos(
        &self,
        access_token: &str,
        cursor: Option<i64>,
        max_count: u32,
    ) -> Result<VideoPage, TikTokError> {
        self.record(Call::ListVideos {
            access_token: access_token.into(),
            cursor,
            max_count,
        });
        self.video_answer(access_token)
    }

    async fn query_videos(
        &self,
        access_token: &str,
        ids: &[String],
    ) -> Result<VideoPage, TikTokError> {
        self.record(Call::QueryVideos {
            access_token: access_token.into(),
            ids: ids.to_vec(),
        });
        self.video_answer(access_token)
    }

    async fn creator_info(&self, access_token: &str) -> Result<CreatorInfo, TikTokError> {
        self.record(Call::CreatorInfo {
            access_token: access_token.into(),
        });
        let options = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"];
        let info = CreatorInfo {
            creator_nickname: Some("Scripted creator".into()),
            creator_username: Some("scripted".into()),
            privacy_level_options: options.map(String::from).to_vec(),
            max_video_post_duration_sec: Some(600),
            ..CreatorInfo::default()
        };
        self.posting_answer(access_token, info)
    }

    async fn init_post(
        &self,
        access_token: &str,
        init: &PostInit,
    ) -> Result<InitAnswer, TikTokError> {
        self.record(Call::InitPost {
            access_token: access_token.into(),
            init: init.clone(),
        });
        let upload = init.body["source_info"]["source"] == "FILE_UPLOAD";
        let answer = InitAnswer {
            publish_id: format!("v_pub_scripted.{}", self.calls().len()),
            upload_url: upload.then(|| "https://upload.example/scripted".to_owned()),
        };
        self.posting_answer(access_token, answer)
    }

    async fn upload_chunk(
        &self,
        _upload_url: &str,
        _content_type: &str,
        range: (u64, u64),
        total: u64,
        _bytes: bytes::Bytes,
    ) -> Result<u16, TikTokError> {
        self.record(Call::UploadChunk { range, total });
        Ok(if range.1 + 1 == total { 201 } else { 206 })
    }

    async fn post_status(
        &self,
        access_token: &str,
        publish_id: &str,
    ) -> Result<PublishStatus, TikTokError> {
        self.record(Call::PostStatus {
            access_token: access_token.into(),
            publish_id: publish_id.into(),
        });
        let status = PublishStatus {
            status: "PROCESSING_UPLOAD".into(),
            ..PublishStatus::default()
        };
        self.posting_answer(access_token, status)
    }

    fn verify_webhook(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), crate::webhook::SignatureError> {
        crate::webhook::verify(header, body, TEST_CLIENT_SECRET.as_bytes(), now)
    }

    async fn revoke(&self, access_token: &str) -> Result<bool, TikTokError> {
        self.record(Call::Revoke {
            access_token: access_token.into(),
        });
        self.revoke.lock().unwrap().pop_front().unwrap_or(Ok(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_from_the_script_then_from_known_accounts() {
        let info = UserInfo {
            open_id: Some("o1".into()),
            ..UserInfo::default()
        };
        let tiktok = ScriptedTikTok::default().with_account("act.1", info.clone());
        tiktok.then_user_info(Err(TikTokError::RateLimited {
            retry_after: Some(3),
        }));
        assert!(matches!(
            tiktok.user_info("act.1", &[]).await,
            Err(TikTokError::RateLimited { .. })
        ));
        assert_eq!(tiktok.user_info("act.1", &[]).await, Ok(info));
        assert_eq!(
            tiktok.user_info("act.x", &[]).await,
            Err(TikTokError::TokenInvalid)
        );
        assert_eq!(
            tiktok.refresh("rft").await.unwrap_err(),
            TikTokError::RefreshRejected
        );
        assert_eq!(tiktok.revoke("act.1").await, Ok(true));
        assert_eq!(tiktok.calls().len(), 5);
        assert_eq!(tiktok.user_info_tokens(), ["act.1", "act.1", "act.x"]);
    }

    #[tokio::test]
    async fn the_refresh_hook_runs_once() {
        let tiktok = ScriptedTikTok::default();
        let ran = std::sync::Arc::new(Mutex::new(0));
        let seen = ran.clone();
        tiktok.after_next_refresh(move || *seen.lock().unwrap() += 1);
        tiktok.then_refresh(Ok(grant("a", "r", "o")));
        assert_eq!(tiktok.refresh("x").await.unwrap().refresh_token, "r");
        let _ = tiktok.refresh("x").await;
        assert_eq!(*ran.lock().unwrap(), 1);
    }
}

//! In-memory ports for use-case and handler tests (feature `testing`, never in a shipped
//! binary): the in-memory store, the scripted TikTok and a fixed identity provider, and
//! a dispatcher that runs any endpoint as its Lambda function would.

use std::time::Duration;

use lambda_http::{Body, Request, Response};

use crate::app::{App, Ports};
use crate::config::AuthorizationConfig;
use crate::cors;
use crate::crypto::TokenCipher;
use crate::endpoints::*;
use crate::firebase::FixedIdentity;
use crate::http::request_id;
use crate::pkce::ChallengeEncoding;
use crate::runtime::answer;
use crate::store::memory::MemoryStore;
use crate::tiktok::scripted::ScriptedTikTok;

pub use crate::firebase::fixed::custom_token_for;
pub use crate::tiktok::scripted::{grant, Call};

/// The in-memory ports.
pub struct InMemory;

impl Ports for InMemory {
    type Store = MemoryStore;
    type TikTok = ScriptedTikTok;
    type Identity = FixedIdentity;
    type Media = crate::media::MemoryMedia;
}

pub type TestApp = App<InMemory>;

/// The one redirect URI in-memory apps allow.
pub const TEST_REDIRECT_URI: &str = "https://app.example.com/connect/tiktok";

/// The Fernet key of in-memory apps.
pub const TEST_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

/// An app over in-memory ports.
pub fn app(store: MemoryStore, tiktok: ScriptedTikTok, identity: FixedIdentity) -> TestApp {
    App {
        store,
        tiktok,
        identity,
        media: Some(Default::default()),
        cipher: TokenCipher::from_keys(TEST_KEY).expect("test key"),
        profile_cache_ttl: Duration::from_secs(3600),
        request_deadline: crate::config::REQUEST_DEADLINE,
        keepalive_interval: Duration::from_secs(24 * 3600),
        sweep_workers: 4,
        dispatch_workers: 4,
        token_sign_in_enabled: true,
        app_audited: None,
        photos: None,
        account_states: Default::default(),
        analytics: Default::default(),
        authorization: AuthorizationConfig {
            client_key: "test-client-key".into(),
            redirect_uris: vec![TEST_REDIRECT_URI.to_owned()],
            scopes: vec!["user.info.basic".into(), "video.list".into()],
            auth_base_url: "https://www.tiktok.com".into(),
            challenge_encoding: ChallengeEncoding::Hex,
        },
    }
}

/// Every function of the API, by its binary's name.
pub const FUNCTIONS: [&str; 25] = [
    "oauth-tiktok",
    "store-token",
    "tiktok-profile",
    "store-tiktok-profile",
    "tiktok-test",
    "list-connections",
    "update-connection",
    "tiktok-authorize",
    "tiktok-callback",
    "tiktok-webhook",
    "tiktok-videos",
    "tiktok-creator-info",
    "tiktok-publish",
    "tiktok-post-status",
    "list-tiktok-posts",
    "update-tiktok-post",
    "cancel-tiktok-post",
    "retry-tiktok-post",
    "tiktok-media",
    "tiktok-media-status",
    "tiktok-post-capacity",
    "tiktok-analytics-account",
    "tiktok-analytics-videos",
    "tiktok-analytics-video",
    // Last: suites that run every function in turn on one account disconnect it here.
    "disconnect-tiktok",
];

/// The function behind the catch-all route (`$default`): not in [`FUNCTIONS`], which the
/// suites run on a connected account; it has no account, session or upstream.
pub const CATCH_ALL: &str = "route-not-found";

/// Runs the named function's use case on `req`, through the same wrappers its Lambda
/// binary uses (the deadline, the error body, CORS by `ALLOWED_ORIGINS`). `None` for a name that is not a function.
pub async fn dispatch<P: Ports>(
    function: &str,
    app: &App<P>,
    req: &Request,
) -> Option<Response<Body>> {
    let (id, deadline) = (request_id(req), app.request_deadline);
    let mut response = match function {
        "oauth-tiktok" => answer(id, deadline, oauth_tiktok::run(app, req)).await,
        "store-token" => answer(id, deadline, store_token::run(app, req)).await,
        "tiktok-profile" => answer(id, deadline, tiktok_profile::run(app, req)).await,
        "store-tiktok-profile" => {
            answer(
                id,
                app.request_deadline,
                store_tiktok_profile::run(app, req),
            )
            .await
        }
        "tiktok-test" => answer(id, deadline, tiktok_test::run(app, req)).await,
        "list-connections" => answer(id, deadline, list_connections::run(app, req)).await,
        "update-connection" => answer(id, deadline, update_connection::run(app, req)).await,
        "disconnect-tiktok" => answer(id, deadline, disconnect_tiktok::run(app, req)).await,
        "tiktok-authorize" => answer(id, deadline, tiktok_authorize::run(app, req)).await,
        "tiktok-callback" => answer(id, deadline, tiktok_callback::run(app, req)).await,
        "tiktok-webhook" => answer(id, deadline, tiktok_webhook::run(app, req)).await,
        "tiktok-videos" => answer(id, deadline, tiktok_videos::run(app, req)).await,
        "tiktok-creator-info" => answer(id, deadline, tiktok_creator_info::run(app, req)).await,
        "tiktok-publish" => answer(id, deadline, tiktok_publish::run(app, req)).await,
        "tiktok-post-status" => answer(id, deadline, tiktok_post_status::run(app, req)).await,
        "list-tiktok-posts" => answer(id, deadline, list_tiktok_posts::run(app, req)).await,
        "update-tiktok-post" => answer(id, deadline, update_tiktok_post::run(app, req)).await,
        "cancel-tiktok-post" => answer(id, deadline, cancel_tiktok_post::run(app, req)).await,
        "retry-tiktok-post" => answer(id, deadline, retry_tiktok_post::run(app, req)).await,
        "tiktok-media" => answer(id, deadline, tiktok_media::run(app, req)).await,
        "tiktok-media-status" => answer(id, deadline, tiktok_media_status::run(app, req)).await,
        "tiktok-post-capacity" => answer(id, deadline, tiktok_post_capacity::run(app, req)).await,
        "tiktok-analytics-account" => {
            answer(id, deadline, tiktok_analytics::account::run(app, req)).await
        }
        "tiktok-analytics-videos" => {
            answer(id, deadline, tiktok_analytics::videos::run(app, req)).await
        }
        "tiktok-analytics-video" => {
            answer(id, deadline, tiktok_analytics::video::run(app, req)).await
        }
        CATCH_ALL => answer(id, deadline, async { route_not_found::run(req) }).await,
        _ => return None,
    };
    cors::decorate(cors::Origins::configured().allowed(req), &mut response);
    Some(response)
}

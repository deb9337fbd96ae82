//! The server-side authorization flow's settings: redirect URIs, default scopes, the
//! consent page's host and the PKCE challenge encoding.

use super::{http_url, malformed, ConfigError, Needs, Sources};
use crate::pkce::ChallengeEncoding;

/// The server-side authorization flow (tiktok-authorize, tiktok-callback).
#[derive(Debug, Clone)]
pub struct AuthorizationConfig {
    /// `TIKTOK_CLIENT_KEY` (public: it is in every authorize URL).
    pub client_key: String,
    /// `TIKTOK_REDIRECT_URIS`: the only redirect URIs an authorization may use.
    pub redirect_uris: Vec<String>,
    /// `TIKTOK_SCOPES`: asked for when the frontend names none.
    pub scopes: Vec<String>,
    /// `TIKTOK_AUTH_BASE_URL`: where the consent page is.
    pub auth_base_url: String,
    /// `TIKTOK_PKCE_CHALLENGE_ENCODING`: `hex` by default, as TikTok compares it.
    pub challenge_encoding: ChallengeEncoding,
}

/// Reading scopes only: posting (`video.publish`, `video.upload`) is asked for where the
/// product posts, through `TIKTOK_SCOPES` or the authorize request's `scopes`.
const DEFAULT_TIKTOK_SCOPES: &str = "user.info.basic,user.info.profile,user.info.stats,video.list";
const DEFAULT_TIKTOK_AUTH_BASE_URL: &str = "https://www.tiktok.com";

pub(super) fn authorization_config(
    src: &Sources,
    needs: Needs,
) -> Result<AuthorizationConfig, ConfigError> {
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let redirect_uris = list(src.get("TIKTOK_REDIRECT_URIS").unwrap_or_default());
    if needs.authorization_code && redirect_uris.is_empty() {
        return Err(ConfigError::Missing("TIKTOK_REDIRECT_URIS"));
    }
    for uri in &redirect_uris {
        let url = http_url("TIKTOK_REDIRECT_URIS", uri)?;
        // TikTok's rules for web redirect URIs: static, under 512 characters.
        if url != *uri || uri.contains(['?', '#']) || uri.len() >= 512 {
            return Err(malformed(
                "TIKTOK_REDIRECT_URIS",
                "each URI must be https, static (no query or fragment), without a trailing slash, under 512 characters",
            ));
        }
    }
    let scopes = list(src.get("TIKTOK_SCOPES").unwrap_or(DEFAULT_TIKTOK_SCOPES));
    if scopes.is_empty()
        || scopes
            .iter()
            .any(|s| !crate::tiktok::KNOWN_SCOPES.contains(&s.as_str()))
    {
        return Err(malformed(
            "TIKTOK_SCOPES",
            "known TikTok scopes, comma-separated",
        ));
    }
    let auth_base_url = http_url(
        "TIKTOK_AUTH_BASE_URL",
        src.get("TIKTOK_AUTH_BASE_URL")
            .unwrap_or(DEFAULT_TIKTOK_AUTH_BASE_URL),
    )?;
    let challenge_encoding = match src.get("TIKTOK_PKCE_CHALLENGE_ENCODING") {
        Some(v) => ChallengeEncoding::parse(v)
            .ok_or_else(|| malformed("TIKTOK_PKCE_CHALLENGE_ENCODING", "base64url or hex"))?,
        // TikTok compares a hex challenge (its Login Kit guide; base64url, as RFC 7636
        // writes it, is refused at the code exchange).
        None => ChallengeEncoding::Hex,
    };
    Ok(AuthorizationConfig {
        client_key: src.required("TIKTOK_CLIENT_KEY")?.to_owned(),
        redirect_uris,
        scopes,
        auth_base_url,
        challenge_encoding,
    })
}

//! The API's routes, as API Gateway serves them (template.yaml; tests/api_contract.py
//! keeps the lists equal): what the catch-all function answers from.

/// Every route: method and path, `{name}` for a path parameter. A REST API picks the
/// resource (path) before the method, so a method served on a general path is routed
/// again on a more specific one that shares its URLs (the PATCH of a TikTok account).
pub const ROUTES: [(&str, &str); 26] = [
    ("POST", "/api/v1/auth/oauth/tiktok"),
    ("POST", "/api/v1/auth/tiktok/authorize"),
    ("POST", "/api/v1/auth/tiktok/callback"),
    ("POST", "/api/v1/webhooks/tiktok"),
    ("POST", "/api/v1/social-connections/store-token"),
    ("GET", "/api/v1/social-connections/tiktok/profile"),
    ("POST", "/api/v1/social-connections/store-tiktok-profile"),
    ("GET", "/api/v1/social-connections/tiktok/videos"),
    ("GET", "/api/v1/social-connections/tiktok/creator-info"),
    ("POST", "/api/v1/social-connections/tiktok/posts"),
    ("GET", "/api/v1/social-connections/tiktok/posts/{id}"),
    ("GET", "/api/v1/social-connections/tiktok/posts"),
    ("PATCH", "/api/v1/social-connections/tiktok/posts/{id}"),
    ("DELETE", "/api/v1/social-connections/tiktok/posts/{id}"),
    ("POST", "/api/v1/social-connections/tiktok/posts/{id}/retry"),
    ("GET", "/api/v1/social-connections/tiktok/posts/capacity"),
    ("GET", "/api/v1/social-connections/tiktok/analytics/account"),
    ("GET", "/api/v1/social-connections/tiktok/analytics/videos"),
    (
        "GET",
        "/api/v1/social-connections/tiktok/analytics/videos/{video_id}",
    ),
    ("POST", "/api/v1/social-connections/tiktok/media"),
    ("GET", "/api/v1/social-connections/tiktok/media/{id}"),
    ("GET", "/api/v1/social-connections/tiktok/test"),
    ("GET", "/api/v1/social-connections/connections"),
    (
        "PATCH",
        "/api/v1/social-connections/{provider}/{account_id}",
    ),
    ("DELETE", "/api/v1/social-connections/tiktok/{open_id}"),
    ("PATCH", "/api/v1/social-connections/tiktok/{open_id}"),
];

/// The methods served at `path` (an actual path, not a pattern), as a REST API serves
/// them: those of the most specific resource that matches (segment by segment, a literal
/// segment before a `{parameter}`), in the table's order. Empty for a path the API does
/// not have.
pub fn methods_at(path: &str) -> Vec<&'static str> {
    let resource = ROUTES
        .iter()
        .map(|(_, pattern)| *pattern)
        .filter(|pattern| matches(pattern, path))
        .min_by_key(|pattern| specificity(pattern));
    let Some(resource) = resource else {
        return Vec::new();
    };
    let mut methods = Vec::new();
    for (method, pattern) in ROUTES {
        if pattern == resource && !methods.contains(&method) {
            methods.push(method);
        }
    }
    methods
}

/// Orders patterns as API Gateway prefers them: segment by segment, a literal first.
fn specificity(pattern: &str) -> Vec<bool> {
    pattern.split('/').map(|s| s.starts_with('{')).collect()
}

/// Whether `path` fits `pattern` segment by segment; a `{name}` takes any one
/// non-empty segment. A trailing slash does not make a different path.
fn matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_methods_at_a_path() {
        assert_eq!(
            methods_at("/api/v1/social-connections/connections"),
            ["GET"]
        );
        assert_eq!(
            methods_at("/api/v1/social-connections/connections/"),
            ["GET"]
        );
        // A TikTok account's path: DELETE, and the PATCH of any provider's account.
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/abc"),
            ["DELETE", "PATCH"]
        );
        // A literal segment wins over a parameter: an account whose open_id reads
        // `profile` is the profile's path (TikTok's open_ids never do).
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/profile"),
            ["GET"]
        );
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/posts/123"),
            ["GET", "PATCH", "DELETE"]
        );
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/posts/123/retry"),
            ["POST"]
        );
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/posts"),
            ["POST", "GET"]
        );
        assert!(methods_at("/api/v1/social-connections/tiktok//").is_empty());
        assert!(methods_at("/api/v1/nope").is_empty());
        assert!(methods_at("/").is_empty());
        assert!(methods_at("/api/v1/social-connections/connections/a/b").is_empty());
        // Any two segments are a provider and an account, as API Gateway routes them.
        assert_eq!(methods_at("/api/v1/social-connections/x/y"), ["PATCH"]);
    }
}

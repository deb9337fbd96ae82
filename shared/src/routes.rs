//! The API's routes, as API Gateway serves them (template.yaml; tests/api_contract.py
//! keeps the three lists equal): what the catch-all function answers from.

/// Every route: method and path, `{name}` for a path parameter.
pub const ROUTES: [(&str, &str); 15] = [
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
    ("GET", "/api/v1/social-connections/tiktok/test"),
    ("GET", "/api/v1/social-connections/connections"),
    (
        "PATCH",
        "/api/v1/social-connections/{provider}/{account_id}",
    ),
    ("DELETE", "/api/v1/social-connections/tiktok/{open_id}"),
];

/// The methods served at `path` (an actual path, not a pattern), in the table's order
/// without repeats: empty for a path the API does not have.
pub fn methods_at(path: &str) -> Vec<&'static str> {
    let mut methods = Vec::new();
    for (method, pattern) in ROUTES {
        if matches(pattern, path) && !methods.contains(&method) {
            methods.push(method);
        }
    }
    methods
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
        // A TikTok account's path: the PATCH of any provider's account, and DELETE.
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/abc"),
            ["PATCH", "DELETE"]
        );
        assert_eq!(
            methods_at("/api/v1/social-connections/tiktok/posts/123"),
            ["GET"]
        );
        assert!(methods_at("/api/v1/social-connections/tiktok//").is_empty());
        assert!(methods_at("/api/v1/nope").is_empty());
        assert!(methods_at("/").is_empty());
        assert!(methods_at("/api/v1/social-connections/connections/a/b").is_empty());
        // Any two segments are a provider and an account, as API Gateway routes them.
        assert_eq!(methods_at("/api/v1/social-connections/x/y"), ["PATCH"]);
    }
}

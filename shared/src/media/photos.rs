//! A photo's format and size, read from the start of its URL before TikTok pulls it: one
//! ranged GET of at most 64 KiB (the size from `Content-Range` or `Content-Length`),
//! only where that is safe:
//! - the URL is under one of `MEDIA_URL_PREFIXES` (the app's prefixes verified with
//!   TikTok, the only ones TikTok pulls from anyway);
//! - https, and no redirect followed;
//! - the host resolves to public addresses only (no private, loopback, link-local,
//!   shared or multicast address: this backend must not become a way into the network
//!   it runs in), checked on the addresses the connection then uses; loopback only in
//!   emulator mode, for local stacks.
//!
//! A URL that cannot be read is skipped (and said so), never refused: TikTok's own pull
//! decides then.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The most of a photo that is read.
pub const HEAD_BYTES: u64 = 64 * 1024;
/// TikTok's photo rules: JPEG or WebP, at most 20 MB and 1080 px a side.
pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;
pub const MAX_PHOTO_SIDE: u64 = 1080;

/// What a photo's start says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photo {
    Read {
        /// `jpeg`, `webp`, `png`, ... (lowercase).
        format: String,
        width: u64,
        height: u64,
        /// The whole file's size, when the server said it.
        size: Option<u64>,
    },
    /// Not read, and why (the answer says so; the photo is not refused for it).
    Skipped(String),
}

/// The photo reader: its own HTTP client (https only, no redirects, public addresses only,
/// short timeouts) and the prefixes it may read under.
pub struct PhotoProbe {
    client: reqwest::Client,
    prefixes: Vec<String>,
    allow_loopback: bool,
}

/// A DNS resolver that answers only public addresses (loopback too when allowed).
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: hyper::client::connect::dns::Name) -> reqwest::dns::Resolving {
        let (host, allow_loopback) = (name.as_str().to_owned(), self.allow_loopback);
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::task::spawn_blocking(move || (host.as_str(), 0).to_socket_addrs())
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??
                    .collect();
            if found.is_empty() || !found.iter().all(|a| reachable(a.ip(), allow_loopback)) {
                return Err("the host resolves to an address that is not public".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address may be connected to: public, or loopback when allowed.
pub fn reachable(ip: IpAddr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reachable(IpAddr::V4(v4), allow_loopback);
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

impl PhotoProbe {
    /// The reader for URLs under `prefixes`, trusting `extra_roots` as well as the
    /// platform's; `allow_loopback` for local stacks only.
    pub fn new(
        prefixes: Vec<String>,
        allow_loopback: bool,
        extra_roots: &[reqwest::Certificate],
    ) -> Result<PhotoProbe, String> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            .pool_idle_timeout(Duration::from_secs(30))
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }));
        for root in extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        Ok(PhotoProbe {
            client: builder.build().map_err(|e| e.to_string())?,
            prefixes,
            allow_loopback,
        })
    }

    /// Reads the start of the photo at `url`.
    pub async fn read(&self, url: &str) -> Photo {
        let skipped = |why: &str| Photo::Skipped(why.to_owned());
        if !self.prefixes.iter().any(|p| url.starts_with(p.as_str())) {
            return skipped("not under one of MEDIA_URL_PREFIXES");
        }
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return skipped("not a URL");
        };
        // An address in the URL itself is never resolved: it is checked here.
        let literal = parsed.host_str().and_then(|host| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        });
        if literal.is_some_and(|ip| !reachable(ip, self.allow_loopback)) {
            return skipped("the host is not a public address");
        }
        let answer = self
            .client
            .get(parsed)
            .header("range", format!("bytes=0-{}", HEAD_BYTES - 1))
            .send()
            .await;
        let mut answer = match answer {
            Ok(answer) => answer,
            Err(err) if err.is_timeout() => return skipped("timed out"),
            Err(_) => return skipped("could not be reached"),
        };
        let status = answer.status().as_u16();
        if status != 200 && status != 206 {
            return Photo::Skipped(match status {
                300..=399 => "answered with a redirect (not followed)".to_owned(),
                _ => format!("answered {status}"),
            });
        }
        let size = total_size(&answer);
        let mut head = Vec::new();
        while (head.len() as u64) < HEAD_BYTES {
            match answer.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(_) => return skipped("its answer broke off"),
            }
        }
        head.truncate(HEAD_BYTES as usize);
        let format = match imagesize::image_type(&head) {
            Ok(kind) => format!("{kind:?}").to_ascii_lowercase(),
            Err(_) => {
                return Photo::Read {
                    format: "unknown".into(),
                    width: 0,
                    height: 0,
                    size,
                }
            }
        };
        match imagesize::blob_size(&head) {
            Ok(dims) => Photo::Read {
                format,
                width: dims.width as u64,
                height: dims.height as u64,
                size,
            },
            Err(_) => skipped("its size is not in its first 64 KiB"),
        }
    }
}

/// The whole file's size: `Content-Range: bytes 0-65535/<total>`, else the length of a
/// whole answer.
fn total_size(answer: &reqwest::Response) -> Option<u64> {
    let headers = answer.headers();
    if let Some(range) = headers.get("content-range").and_then(|v| v.to_str().ok()) {
        return range.rsplit('/').next().and_then(|t| t.trim().parse().ok());
    }
    (answer.status().as_u16() == 200)
        .then(|| answer.content_length())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reachable() {
        let public = ["93.184.216.34", "2606:4700::6810:84e5", "1.1.1.1"];
        for ip in public {
            assert!(reachable(ip.parse().unwrap(), false), "{ip}");
        }
        let private = [
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "198.18.0.1",
        ];
        for ip in private {
            assert!(!reachable(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(reachable("127.0.0.1".parse().unwrap(), true));
        assert!(!reachable("169.254.169.254".parse().unwrap(), true));
    }
}

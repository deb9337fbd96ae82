//! What stands in for a real service in the tests: the TikTok fake's client (the fake
//! itself is `scripts/tiktok_fake/`, started by the stack), a fault-injecting proxy
//! and a static server, and a minimal Lambda Runtime API.

pub mod fault_proxy;
mod http1;
pub mod runtime_api;
pub mod tiktok_fake;

//! What stands in for a real service in the tests: the TikTok fake's client (the fake
//! itself is `scripts/tiktok_fake/`, started by the stack), a fault-injecting proxy
//! and a static server, a minimal Lambda Runtime API, and the webhook callback URL the
//! fake's sender delivers to.

pub mod fault_proxy;
mod http1;
pub mod runtime_api;
pub mod tiktok_fake;
pub mod webhook_receiver;

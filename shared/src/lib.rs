//! The TikTok connections backend: everything the Lambda functions share.
//!
//! One module per outside party (`config` + secrets, `crypto`, `store`, `tiktok`,
//! `firebase`, `outbound` for every upstream call, `http` for API Gateway requests)
//! plus the domain (`access`: using and refreshing stored TikTok tokens) and one
//! module per endpoint's use case under `endpoints`. `testing` (feature `testing`) has
//! in-memory ports for tests.

pub mod access;
pub mod analytics;
pub mod app;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod dispatch;
pub mod endpoints;
pub mod error;
pub mod firebase;
pub mod http;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod pkce;
pub mod profile;
pub mod routes;
pub mod runtime;
pub mod sign_in;
pub mod store;
pub mod sweep;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tiktok;
pub mod timestamp;
pub mod webhook;

pub use app::{App, Live, LiveApp, Ports};
pub use error::ApiError;

//! The TikTok connections backend: everything the Lambda functions share.
//!
//! One module per outside party (`config` + secrets, `crypto`, `store`, `tiktok`,
//! `firebase`, `http`) plus the domain (`access`: using and refreshing stored TikTok
//! tokens) and one module per endpoint under `endpoints`.

pub mod access;
pub mod app;
pub mod config;
pub mod crypto;
pub mod endpoints;
pub mod error;
pub mod firebase;
pub mod http;
pub mod profile;
pub mod runtime;
pub mod store;
pub mod tiktok;
pub mod timestamp;

pub use app::{App, LiveApp};
pub use error::ApiError;

//! Helpers for tests against the local stack started by `scripts/with-stack.sh`:
//! PostgreSQL behind postrust, the Firebase Auth emulator, moto, and the TikTok fake.
//! Each test makes its own users and TikTok accounts, so tests run in parallel.
//!
//! Suites `use integration_tests::*;` and set up what they start from with [`given`].

pub mod database;
pub mod events;
pub mod fakes;
pub mod firebase;
pub mod given;
pub mod scheduling;
pub mod secrets;
pub mod stack;

pub use fakes::{fault_proxy, runtime_api, tiktok_fake, webhook_receiver};

pub use database::*;
pub use events::*;
pub use fault_proxy::*;
pub use firebase::*;
pub use runtime_api::*;
pub use scheduling::*;
pub use secrets::*;
pub use stack::*;
pub use tiktok_fake::*;
pub use webhook_receiver::*;

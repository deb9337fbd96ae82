//! One module per endpoint: the use case behind each Lambda function.

pub mod tiktok_test;

//! Everything about talking to Apple's Retention Messaging API: the endpoint table, wire
//! model, error numbers, credentials, tokens, pacing and the HTTP client.

pub mod client;
pub mod credentials;
pub mod endpoints;
pub mod errors;
pub mod image_rules;
pub mod limits;
pub mod model;
pub mod pacer;
pub mod throttle;
pub mod token;

pub use client::{ApiError, AppleClient, ClientConfig, RetryPolicy};
pub use endpoints::Endpoint;
pub use errors::ApiErrorCode;

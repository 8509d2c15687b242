//! The gateway's domain logic, free of HTTP and SQL: configuration, API keys, routing over
//! channels, prices and metering, quota reservations and rate limits.

pub mod config;
pub mod keys;
pub mod meter;
pub mod pricing;
pub mod quota;
pub mod ratelimit;
pub mod routing;
pub mod secret;
pub mod tokens;

pub use config::Config;
pub use secret::Secret;

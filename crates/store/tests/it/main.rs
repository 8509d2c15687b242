//! Integration tests for `switchyard-store`. Every scenario is written once
//! and run against SQLite (temp file) and PostgreSQL (fresh database).

// Helpers outside `#[test]` functions also panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod channels;
mod connect;
mod fixtures;
mod keys;
mod migrations;
mod settings;
mod usage;

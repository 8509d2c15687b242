//! Integration tests of the `switchyard` binary: each test runs the real process (`serve`,
//! `keys`, `demo`) on a temporary database and a free port, against upstream simulators.

// Helpers outside `#[test]` functions also panic on failure by design.
#![allow(clippy::expect_used)]

mod harness;

mod channels;
mod config;
mod demo;
mod keys;
mod postgres;
mod serve;
mod shutdown;

//! Wire types of the OpenAI dialect, which is Switchyard's canonical form.
//!
//! Every type here is lenient: unknown fields are kept in `extra` maps so that a request
//! passes through to an OpenAI-compatible upstream unchanged, and open enums (such as
//! `finish_reason`) are plain strings so an unexpected value never fails a response.
//! No I/O lives in this crate.

pub mod chat;
pub mod error;
pub mod usage;

pub use chat::{ChatMessage, ChatRequest, MessageContent, StreamOptions};
pub use error::{ErrorBody, ErrorObject};
pub use usage::Usage;

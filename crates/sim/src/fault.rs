//! Fault injection shared by every simulator.
//!
//! A [`Fault`] reaches a simulator in one of two ways:
//!
//! 1. **Programmed**: [`crate::SimHandle::push_fault`] queues a fault; the next chat request that
//!    passes authentication and validation consumes it (FIFO, one fault per request).
//! 2. **From the prompt**: when no programmed fault is queued, the text of the last `user` message
//!    is searched for the marker `sim_fault:` followed by a spec (see the grammar below).
//!
//! # `sim_fault:` grammar
//!
//! ```text
//! spec  := item (";" item)*
//! item  := key ["=" value]
//! key   := "status"                    value: HTTP status (100..=599)        -> Fault::Status
//!        | "retry_after"               value: seconds, only with `status`    (Retry-After header)
//!        | "reset_before_first_chunk"  no value                              -> Fault::ResetBeforeFirstChunk
//!        | "reset_mid_stream"          value: chunks sent before the reset   -> Fault::ResetMidStream
//!        | "malformed"                 value: chunks sent before `data: {not json`
//!                                                                            -> Fault::MalformedChunk
//!        | "hang"                      no value                              -> Fault::Hang
//!        | "hang_mid_stream"           value: chunks sent before hanging     -> Fault::HangMidStream
//!        | "latency"                   value: extra milliseconds             -> Fault::Latency
//! ```
//!
//! The spec is the run of characters `[A-Za-z0-9_=;]` right after the marker, so trailing
//! punctuation (`sim_fault:status=429.`) is ignored. Exactly one fault kind per spec. Examples:
//! `sim_fault:status=429`, `sim_fault:status=503;retry_after=2`, `sim_fault:reset_mid_stream=2`,
//! `sim_fault:reset_before_first_chunk`, `sim_fault:malformed=1`, `sim_fault:hang`,
//! `sim_fault:hang_mid_stream=2`, `sim_fault:latency=300`. An unparsable spec is answered with a
//! 400 `invalid_request_error` whose message starts with `sim_fault:` so typos are loud.
//!
//! "Chunks" are counted in data events (JSON chunks) of the stream; for a non-streaming request
//! the JSON body is cut in two halves and the count is clamped to those halves.

use std::fmt;

/// The marker that introduces a fault spec inside a prompt.
pub const FAULT_MARKER: &str = "sim_fault:";

/// A failure the simulator injects into one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status. `body: None` uses the flavour-shaped error body for the
    /// status; `retry_after` adds a `Retry-After: <seconds>` header.
    Status {
        /// HTTP status code.
        status: u16,
        /// Raw response body (sent as `application/json`), or `None` for the flavour's body.
        body: Option<String>,
        /// Value of the `Retry-After` header in seconds.
        retry_after: Option<u64>,
    },
    /// Send `200` headers, then drop the connection without any body data.
    ResetBeforeFirstChunk,
    /// Send `after_chunks` data events, then abort the connection (truncated chunked body).
    ResetMidStream {
        /// Number of data events sent before the abort.
        after_chunks: usize,
    },
    /// Send `after_chunks` data events, then `data: {not json`, then close the body.
    MalformedChunk {
        /// Number of well-formed data events sent before the malformed one.
        after_chunks: usize,
    },
    /// Never send response headers (the connection stays open).
    Hang,
    /// Send `after_chunks` data events, then stop sending while keeping the connection open.
    HangMidStream {
        /// Number of data events sent before hanging.
        after_chunks: usize,
    },
    /// Add `ms` milliseconds of latency before the headers (non-stream) or first chunk (stream).
    Latency {
        /// Extra latency in milliseconds.
        ms: u64,
    },
}

impl Fault {
    /// A [`Fault::Status`] with the flavour's default body and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            body: None,
            retry_after: None,
        }
    }

    /// Parses a spec (the part after `sim_fault:`), see the module docs for the grammar.
    pub fn parse_spec(spec: &str) -> Result<Fault, FaultSpecError> {
        let err = |msg: String| FaultSpecError(format!("{msg} in spec `{spec}`"));
        let mut kind: Option<Fault> = None;
        let mut retry_after: Option<u64> = None;
        for item in spec.split(';').filter(|s| !s.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            let num = |what: &str| -> Result<u64, FaultSpecError> {
                value
                    .ok_or_else(|| err(format!("`{what}` needs a value")))?
                    .parse::<u64>()
                    .map_err(|_| err(format!("`{what}` needs a non-negative integer")))
            };
            let no_value = |what: &str| -> Result<(), FaultSpecError> {
                match value {
                    None => Ok(()),
                    Some(_) => Err(err(format!("`{what}` takes no value"))),
                }
            };
            let parsed = match key {
                "retry_after" => {
                    retry_after = Some(num(key)?);
                    continue;
                }
                "status" => {
                    let status = num(key)?;
                    if !(100..=599).contains(&status) {
                        return Err(err(format!("status {status} out of range")));
                    }
                    Fault::status(status as u16)
                }
                "reset_before_first_chunk" => {
                    no_value(key)?;
                    Fault::ResetBeforeFirstChunk
                }
                "reset_mid_stream" => Fault::ResetMidStream {
                    after_chunks: num(key)? as usize,
                },
                "malformed" => Fault::MalformedChunk {
                    after_chunks: num(key)? as usize,
                },
                "hang" => {
                    no_value(key)?;
                    Fault::Hang
                }
                "hang_mid_stream" => Fault::HangMidStream {
                    after_chunks: num(key)? as usize,
                },
                "latency" => Fault::Latency { ms: num(key)? },
                other => return Err(err(format!("unknown key `{other}`"))),
            };
            if kind.replace(parsed).is_some() {
                return Err(err("more than one fault kind".to_owned()));
            }
        }
        match (kind, retry_after) {
            (None, _) => Err(err("no fault kind".to_owned())),
            (Some(Fault::Status { status, body, .. }), Some(secs)) => Ok(Fault::Status {
                status,
                body,
                retry_after: Some(secs),
            }),
            (Some(_), Some(_)) => Err(err("`retry_after` only goes with `status`".to_owned())),
            (Some(fault), None) => Ok(fault),
        }
    }

    /// Finds the first `sim_fault:<spec>` in `text` and parses it; `None` when there is none.
    pub fn from_prompt(text: &str) -> Option<Result<Fault, FaultSpecError>> {
        let start = text.find(FAULT_MARKER)? + FAULT_MARKER.len();
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ';')))
            .unwrap_or(rest.len());
        Some(Fault::parse_spec(&rest[..end]))
    }
}

/// Why a `sim_fault:` spec could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpecError(pub String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sim_fault: {}", self.0)
    }
}

impl std::error::Error for FaultSpecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let cases = [
            ("status=429", Fault::status(429)),
            (
                "status=503;retry_after=2",
                Fault::Status {
                    status: 503,
                    body: None,
                    retry_after: Some(2),
                },
            ),
            ("reset_before_first_chunk", Fault::ResetBeforeFirstChunk),
            (
                "reset_mid_stream=2",
                Fault::ResetMidStream { after_chunks: 2 },
            ),
            ("malformed=1", Fault::MalformedChunk { after_chunks: 1 }),
            ("hang", Fault::Hang),
            (
                "hang_mid_stream=3",
                Fault::HangMidStream { after_chunks: 3 },
            ),
            ("latency=300", Fault::Latency { ms: 300 }),
        ];
        for (spec, want) in cases {
            assert_eq!(Fault::parse_spec(spec), Ok(want), "{spec}");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for spec in [
            "",
            "status",
            "status=abc",
            "status=42",
            "hang=1",
            "hang;status=500",
            "latency=5;retry_after=1",
            "explode",
        ] {
            assert!(Fault::parse_spec(spec).is_err(), "{spec} should fail");
        }
    }

    #[test]
    fn finds_spec_in_prompt() {
        assert_eq!(
            Fault::from_prompt("please sim_fault:status=500. thanks"),
            Some(Ok(Fault::status(500)))
        );
        assert_eq!(Fault::from_prompt("no fault here"), None);
        assert!(matches!(
            Fault::from_prompt("sim_fault:bogus"),
            Some(Err(_))
        ));
    }
}

//! A bounded server-sent-events decoder and the few encoder helpers the gateway needs.
//!
//! The decoder accepts every framing seen from upstreams: `data:` with or without a space,
//! LF, CRLF or CR line ends, comments, `event:` names and multi-line data. It never buffers more
//! than `max_event_bytes` for one event: a longer event is an error, not a memory blow-up.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// A `meta:` line (Zhipu's v3 API carries usage there), if any.
    pub meta: Option<String>,
}

/// Decoder failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// One event (or one line) grew past the configured bound.
    TooLarge(usize),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "server-sent event larger than {n} bytes"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Incremental decoder: feed bytes as they arrive, take complete events out.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    event: Option<String>,
    data: String,
    meta: Option<String>,
    has_data: bool,
    max_event_bytes: usize,
    /// A CR ended the last line; skip an LF that follows it.
    skip_lf: bool,
    /// Keep the space after `data:` (for servers whose data is raw text).
    keep_space: bool,
}

impl Decoder {
    /// A decoder that refuses events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            event: None,
            data: String::new(),
            meta: None,
            has_data: false,
            max_event_bytes,
            skip_lf: false,
            keep_space: false,
        }
    }

    /// A decoder that keeps the space after `data:` as part of the value (for servers that put
    /// raw text there without the customary separator).
    pub fn keeping_data_space(mut self) -> Self {
        self.keep_space = true;
        self
    }

    /// Feeds a chunk and appends every event it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(chunk);
        loop {
            if self.skip_lf && !self.buf.is_empty() {
                if self.buf[0] == b'\n' {
                    let _ = self.buf.split_to(1);
                }
                self.skip_lf = false;
            }
            let Some(pos) = memchr::memchr2(b'\n', b'\r', &self.buf) else {
                break;
            };
            let line = self.buf.split_to(pos);
            let term = self.buf.split_to(1);
            if term[0] == b'\r' {
                self.skip_lf = true;
            }
            self.line(&line, out)?;
        }
        if self.buf.len() + self.data.len() > self.max_event_bytes {
            return Err(DecodeError::TooLarge(self.max_event_bytes));
        }
        Ok(())
    }

    /// Ends the input: a final event without its blank line is still delivered.
    pub fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), DecodeError> {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), DecodeError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                let keep = self.keep_space && &line[..i] == b"data";
                (
                    &line[..i],
                    if keep {
                        v
                    } else {
                        v.strip_prefix(b" ").unwrap_or(v)
                    },
                )
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 is the rule: `from_utf8` checks it several times faster than the lossy
        // conversion, which is kept for the exception.
        let value = match std::str::from_utf8(value) {
            Ok(v) => Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
                if self.data.len() > self.max_event_bytes {
                    return Err(DecodeError::TooLarge(self.max_event_bytes));
                }
            }
            b"event" => self.event = Some(value.into_owned()),
            b"meta" => self.meta = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        if self.has_data || self.event.is_some() || self.meta.is_some() {
            out.push(Event {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
                meta: self.meta.take(),
            });
        }
        self.has_data = false;
    }
}

/// `data: <payload>\n\n`.
pub fn data_frame(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(payload.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(payload);
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// The OpenAI end-of-stream sentinel.
pub const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

/// A comment that keeps an idle connection alive; clients ignore it.
pub const KEEPALIVE_FRAME: &[u8] = b": keep-alive\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut d = Decoder::new(1 << 16);
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn every_framing_decodes_the_same() {
        let want = vec![
            Event {
                event: None,
                data: "{\"a\":1}".into(),
                meta: None,
            },
            Event {
                event: None,
                data: "[DONE]".into(),
                meta: None,
            },
        ];
        assert_eq!(decode_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]), want);
        assert_eq!(
            decode_all(&[b"data:{\"a\":1}\r\n\r\ndata:[DONE]\r\n\r\n"]),
            want
        );
        assert_eq!(decode_all(&[b"data: {\"a\":1}\r\rdata: [DONE]\r\r"]), want);
        assert_eq!(
            decode_all(&[b": ping\n\ndata: {\"a\"", b":1}\r", b"\n\r\ndata: [DONE]"]),
            want
        );
    }

    #[test]
    fn raw_data_keeps_its_leading_space() {
        let mut d = Decoder::new(1024).keeping_data_space();
        let mut out = Vec::new();
        d.feed(b"event:add\ndata: world\n\n", &mut out).unwrap();
        assert_eq!(out[0].data, " world");
        assert_eq!(decode_all(&[b"data: world\n\n"])[0].data, "world");
    }

    #[test]
    fn meta_lines_are_kept() {
        let got =
            decode_all(&[b"event:finish\nid:7\ndata:\nmeta:{\"usage\":{\"total_tokens\":59}}\n\n"]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.as_deref(), Some("finish"));
        assert_eq!(
            got[0].meta.as_deref(),
            Some("{\"usage\":{\"total_tokens\":59}}")
        );
    }

    #[test]
    fn split_at_every_byte() {
        let input = b"event: message_start\ndata: {\"x\":\"y\"}\r\n\r\n: c\ndata: a\ndata: b\n\n";
        for split in 0..input.len() {
            let got = decode_all(&[&input[..split], &input[split..]]);
            assert_eq!(got.len(), 2, "split {split}");
            assert_eq!(got[0].event.as_deref(), Some("message_start"));
            assert_eq!(got[1].data, "a\nb");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let out = decode_all(&[b"data: caf\xc3\xa9 \xff!\n\n"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "caf\u{e9} \u{fffd}!");
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut d = Decoder::new(16);
        let mut out = Vec::new();
        assert_eq!(
            d.feed(b"data: 0123456789abcdefghij", &mut out),
            Err(DecodeError::TooLarge(16))
        );
        let mut d = Decoder::new(16);
        assert!(
            d.feed(b"data: 0123456789\ndata: abcdefghij\n", &mut out)
                .is_err()
        );
    }

    #[test]
    fn frames() {
        assert_eq!(&data_frame(b"{}")[..], b"data: {}\n\n");
    }
}

//! Pass-through streams: a client that speaks the provider's own API (Anthropic's
//! `/v1/messages` to an Anthropic channel) gets the upstream's events as they came, while the
//! provider's ordinary converter still reads them for usage, errors and the end of the stream.
//!
//! Events are held until the converter has produced its first canonical chunk, so a stream
//! that fails before any content can still fail over to another channel, exactly as on the
//! converted path.

use bytes::{BufMut, Bytes, BytesMut};
use switchyard_sse::Event;

use crate::adapter::{ConvertError, Emit, StreamConverter, StreamStep};

/// Wraps a provider's converter; the chunks it emits are the upstream's own SSE frames.
pub struct Passthrough {
    inner: Box<dyn StreamConverter>,
    held: Vec<Bytes>,
    live: bool,
}

impl Passthrough {
    /// A pass-through reader over `inner`.
    pub fn new(inner: Box<dyn StreamConverter>) -> Self {
        Self {
            inner,
            held: Vec::new(),
            live: false,
        }
    }
}

/// One event written back as SSE: its `event:` line, then its data one line per `data:`.
pub fn frame(ev: &Event) -> Bytes {
    let mut b = BytesMut::with_capacity(ev.data.len() + 32);
    if let Some(name) = &ev.event {
        b.put_slice(b"event: ");
        b.put_slice(name.as_bytes());
        b.put_u8(b'\n');
    }
    for line in ev.data.split('\n') {
        b.put_slice(b"data: ");
        b.put_slice(line.as_bytes());
        b.put_u8(b'\n');
    }
    b.put_u8(b'\n');
    b.freeze()
}

impl StreamConverter for Passthrough {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let step = self.inner.event(ev, emit)?;
        let converted = !emit.chunks.is_empty();
        emit.chunks.clear();
        self.held.push(frame(ev));
        if converted || step == StreamStep::Done {
            self.live = true;
        }
        if self.live {
            emit.chunks.append(&mut self.held);
        }
        Ok(step)
    }

    fn identity(&self) -> (&str, u64, &str) {
        self.inner.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Adapter, ResponseCtx};

    fn ev(event: Option<&str>, data: &str) -> Event {
        Event {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            meta: None,
        }
    }

    const CTX: ResponseCtx<'static> = ResponseCtx {
        requested_model: "claude-3-haiku-20240307",
        upstream_model: "claude-3-haiku-20240307",
        now_unix: 1_700_000_000,
    };

    #[test]
    fn frames_keep_event_names_and_split_data_lines() {
        assert_eq!(
            &frame(&ev(Some("ping"), r#"{"type": "ping"}"#))[..],
            b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
        );
        assert_eq!(&frame(&ev(None, "a\nb"))[..], b"data: a\ndata: b\n\n");
    }

    #[test]
    fn anthropic_events_pass_verbatim_with_usage_read() {
        let mut p = Passthrough::new(crate::anthropic::ADAPTER.stream_converter(&CTX));
        let events = [
            ev(
                Some("message_start"),
                r#"{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":4}}}"#,
            ),
            ev(
                Some("content_block_start"),
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ev(Some("ping"), r#"{"type": "ping"}"#),
            ev(
                Some("content_block_delta"),
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            ev(
                Some("content_block_stop"),
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            ev(
                Some("message_delta"),
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
            ),
            ev(Some("message_stop"), r#"{"type":"message_stop"}"#),
        ];
        let mut out = Vec::new();
        let mut usage = None;
        let mut last = StreamStep::Continue;
        for e in &events {
            let mut emit = Emit::default();
            last = p.event(e, &mut emit).unwrap();
            usage = emit.usage.or(usage);
            out.extend(emit.chunks);
        }
        assert_eq!(last, StreamStep::Done);
        let expected: Vec<Bytes> = events.iter().map(frame).collect();
        assert_eq!(out, expected);
        let u = usage.unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (16, 7));
    }

    #[test]
    fn frames_are_held_until_the_first_content_so_failover_stays_possible() {
        let mut p = Passthrough::new(crate::gemini::ADAPTER.stream_converter(&CTX));
        let mut emit = Emit::default();
        // A Gemini chunk with no candidates yet produces no canonical chunk: held.
        p.event(
            &ev(None, r#"{"usageMetadata":{"promptTokenCount":3}}"#),
            &mut emit,
        )
        .unwrap();
        assert!(emit.chunks.is_empty());
        let text =
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}]}"#;
        p.event(&ev(None, text), &mut emit).unwrap();
        assert_eq!(emit.chunks.len(), 2, "the held frame comes out first");
        assert!(emit.chunks[0].starts_with(b"data: {\"usageMetadata\""));
        assert_eq!(emit.chunks[1], frame(&ev(None, text)));
    }

    #[test]
    fn an_upstream_error_event_is_an_error_not_a_frame() {
        let mut p = Passthrough::new(crate::anthropic::ADAPTER.stream_converter(&CTX));
        let mut emit = Emit::default();
        let err = p
            .event(
                &ev(
                    Some("error"),
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                ),
                &mut emit,
            )
            .unwrap_err();
        assert!(matches!(err, ConvertError::Upstream(e) if e.status == 503));
        assert!(emit.chunks.is_empty());
    }
}

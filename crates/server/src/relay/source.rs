//! Upstream event sources: SSE over HTTP, or messages over a WebSocket, both seen by the rest of
//! the pipeline as a stream of batches of [`Event`]s. Dropping a source closes the connection,
//! which cancels the upstream request.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use http_body_util::BodyDataStream;
use switchyard_providers::{Adapter, UpstreamRequest};
use switchyard_sse::{Decoder, Event};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

use super::upstream::{Failure, Response, connection_failure};

/// Largest single SSE event accepted from an upstream.
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Batches of events until the upstream ends; an error ends it too.
pub(crate) type Events = BoxStream<'static, Result<Vec<Event>, Failure>>;

/// Decodes an HTTP body of server-sent events (`raw`: the space after `data:` is text).
pub(crate) fn sse(resp: Response, raw: bool) -> Events {
    let body = BodyDataStream::new(resp.into_body());
    let decoder = Decoder::new(MAX_EVENT_BYTES);
    let decoder = if raw {
        decoder.keeping_data_space()
    } else {
        decoder
    };
    futures::stream::unfold(Some((body, decoder)), |state| async move {
        let (mut body, mut dec) = state?;
        let mut events = Vec::new();
        match body.next().await {
            Some(Ok(chunk)) => match dec.feed(&chunk, &mut events) {
                Ok(()) => Some((Ok(events), Some((body, dec)))),
                Err(e) => Some((Err(Failure::Protocol(e.to_string())), None)),
            },
            Some(Err(e)) => Some((Err(connection_failure(&e)), None)),
            None => match dec.finish(&mut events) {
                Ok(()) if events.is_empty() => None,
                Ok(()) => Some((Ok(events), None)),
                Err(e) => Some((Err(Failure::Protocol(e.to_string())), None)),
            },
        }
    })
    .boxed()
}

/// Opens a WebSocket (`wss://` trusting what `tls` trusts), sends the request body as one text
/// message, and yields every text message received as one event.
pub(crate) async fn websocket(
    req: UpstreamRequest,
    adapter: &dyn Adapter,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Events, Failure> {
    let mut request = req
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| Failure::Protocol(format!("invalid upstream WebSocket URL: {e}")))?;
    for (k, v) in &req.headers {
        if let (Ok(k), Ok(v)) = (
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()),
            tungstenite::http::HeaderValue::from_str(v),
        ) {
            request.headers_mut().insert(k, v);
        }
    }
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        Some(Connector::Rustls(tls)),
    );
    let (mut ws, _) = match tokio::time::timeout(timeout, connect).await {
        Err(_) => return Err(Failure::Timeout("WebSocket handshake timed out".into())),
        Ok(Err(tungstenite::Error::Http(resp))) => {
            let status = resp.status().as_u16();
            let body = resp.body().clone().unwrap_or_default();
            return Err(Failure::Status {
                err: adapter.error(status, &body),
                retry_after: None,
            });
        }
        Ok(Err(tungstenite::Error::Io(e))) => return Err(Failure::Connect(e.to_string())),
        Ok(Err(e)) => {
            return Err(Failure::Protocol(format!(
                "WebSocket handshake failed: {e}"
            )));
        }
        Ok(Ok(pair)) => pair,
    };
    let text = String::from_utf8_lossy(&req.body).into_owned();
    ws.send(Message::text(text))
        .await
        .map_err(|e| Failure::Connect(format!("WebSocket send failed: {e}")))?;
    Ok(ws
        .filter_map(|msg| async move {
            match msg {
                Ok(Message::Text(t)) => Some(Ok(vec![Event {
                    event: None,
                    data: t.to_string(),
                    meta: None,
                }])),
                Ok(Message::Binary(b)) => Some(Ok(vec![Event {
                    event: None,
                    data: String::from_utf8_lossy(&b).into_owned(),
                    meta: None,
                }])),
                Ok(_) => None,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    None
                }
                Err(e) => Some(Err(Failure::Protocol(format!("WebSocket failed: {e}")))),
            }
        })
        .boxed())
}

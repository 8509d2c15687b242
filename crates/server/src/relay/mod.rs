//! `POST /v1/chat/completions`: admission, routing, failover, and the answer.
//!
//! Order of checks: body size (413), key (401), JSON and required fields (400), key status,
//! expiry and allow-list (403), rate limit (429), model served (404), quota reservation (403).
//! Then channels are tried in routing order until one answers; failover happens only before
//! the first byte reaches the client.

mod billing;
mod client;
pub(crate) mod embeddings;
mod failover;
mod source;
mod stream;
pub(crate) mod upstream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use switchyard_core::meter::Meter;
use switchyard_core::routing::Channel;
use switchyard_core::tokens;
use switchyard_providers::aggregate::Aggregator;
use switchyard_providers::passthrough::Passthrough;
use switchyard_providers::{
    Adapter, ConvertError, NativeCall, Provider, ResponseCtx, StreamConverter, Target, Transport,
    UpstreamRequest, adapter,
};
use switchyard_types::ChatRequest;

pub(crate) use billing::Billing;
use failover::{failover, target, with_token};
use upstream::Failure;

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::gate::{self, RequestId};
use crate::state::AppState;

/// The chat completions handler, as a route. `POST` requests come to
/// [`chat_completions_for`] directly (see [`crate::gate::App`]); the route remains for the
/// router's answer to other methods.
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    chat_completions_for(&state, &rid, req).await
}

/// The chat completions handler.
pub(crate) async fn chat_completions_for(
    state: &AppState,
    rid: &RequestId,
    req: Request,
) -> Response {
    // The request taken whole (here and in the other relay handlers): axum's `HeaderMap`
    // extractor would clone the headers.
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let inbound = Inbound {
        endpoint: "chat/completions",
        dialect: Dialect::OpenAi { wants_usage: false },
        key: None,
    };
    handle(state, rid, headers, body, inbound, |bytes, dialect| {
        let req = parse_chat(bytes)?;
        *dialect = Dialect::OpenAi {
            wants_usage: req.wants_usage(),
        };
        Ok(req)
    })
    .await
}

/// What an inbound API contributes: its usage-log name, its dialect, and a key given outside
/// the headers (Gemini's `?key=`).
pub(crate) struct Inbound {
    pub(crate) endpoint: &'static str,
    pub(crate) dialect: Dialect,
    pub(crate) key: Option<String>,
}

/// Runs one chat-shaped request of any inbound dialect; `parse` turns the body into the
/// canonical request (and may refine the dialect).
pub(crate) async fn handle(
    state: &AppState,
    rid: &RequestId,
    headers: &HeaderMap,
    body: Body,
    mut inbound: Inbound,
    parse: impl FnOnce(&[u8], &mut Dialect) -> Result<ChatRequest, ApiError>,
) -> Response {
    let started = Instant::now();
    let mut ctx = gate::Attempt::default();
    match chat(
        state,
        rid,
        headers,
        body,
        started,
        &mut ctx,
        &mut inbound,
        parse,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            gate::log_rejection(state, rid, inbound.endpoint, &ctx, &e, started);
            inbound.dialect.error(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn chat(
    state: &AppState,
    rid: &RequestId,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
    ctx: &mut gate::Attempt,
    inbound: &mut Inbound,
    parse: impl FnOnce(&[u8], &mut Dialect) -> Result<ChatRequest, ApiError>,
) -> Result<Response, ApiError> {
    let bytes = gate::read_body(state, body).await?;
    let key = crate::auth::client_key(state, headers, inbound.key.as_deref()).await?;
    ctx.key_id = Some(key.id);
    let req = parse(&bytes, &mut inbound.dialect)?;
    // The model's name, shared by the rejection log, billing, the prompt count and the row.
    let model: Arc<str> = Arc::from(req.model.as_str());
    ctx.model = Some(model.clone());
    ctx.stream = req.is_stream();
    gate::admit(state, &key, &req.model)?;
    let routes = state.routes();
    if !routes.serves(&req.model) {
        return Err(ApiError::model_not_found(&req.model));
    }
    let native = inbound.dialect.native_provider().map(|provider| Native {
        provider,
        body: bytes.clone(),
        stream: req.is_stream(),
        headers: forwarded_headers(headers),
    });

    let prompt = Arc::new(tokens::Prompt::new(
        model.clone(),
        &req.messages,
        req.tools.as_deref(),
    ));
    let output = req
        .output_limit()
        .unwrap_or(0)
        .saturating_mul(req.choices());
    let billing = Billing::reserve(
        state,
        key,
        rid,
        inbound.endpoint,
        &model,
        (prompt.clone(), output),
        req.is_stream(),
        started,
    )?;
    ctx.billed = true;

    let first_byte = Duration::from_millis(state.inner.config.upstream.first_byte_timeout_ms);
    let candidates = routes.candidates(&req.model, gate::now_ms(), &mut rand::rng());
    let native_for = |ch: &Channel| native.as_ref().filter(|n| n.provider == ch.provider);
    let req = &req;
    let (answer, ch, mut billing) = failover(state, rid, &candidates, billing, &model, |ch, um| {
        let call = native_for(ch);
        async move { try_channel(state, ch, req, call, &um, first_byte).await }
    })
    .await?;
    let passthrough = native_for(ch).is_some();
    Ok(match answer {
        Answer::Json(body, mut meter) => {
            let m = meter.finish(|| billing.local_prompt());
            billing.first_token();
            billing.finish(m, 200, None);
            if passthrough {
                crate::dialect::json_response(body)
            } else {
                inbound.dialect.json(body, &req.model)
            }
        }
        Answer::Stream(started_stream) => {
            if prompt.pending_bytes() > BACKGROUND_COUNT_BYTES {
                // A long prompt is counted off the stream's path now, so that an open stream
                // does not hold its text until the end in case the upstream reports no usage.
                let prompt = prompt.clone();
                tokio::task::spawn_blocking(move || prompt.exact());
            }
            let encoder = if passthrough {
                inbound.dialect.passthrough()
            } else {
                inbound
                    .dialect
                    .encoder(&req.model, || billing.local_prompt())
            };
            stream::respond(state, started_stream, billing, encoder)
        }
    })
}

/// Prompt text above which a stream's local count is made at once on the blocking pool.
const BACKGROUND_COUNT_BYTES: usize = 32 * 1024;

enum Answer {
    Json(Bytes, Meter),
    Stream(stream::Started),
}

/// A request made in a provider's own API, kept as it came so that a channel of that provider
/// gets it unchanged (pass-through).
struct Native {
    provider: Provider,
    body: Bytes,
    stream: bool,
    headers: Vec<(String, String)>,
}

/// The client headers that belong to a provider's API and travel on with a pass-through.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    ["anthropic-version", "anthropic-beta"]
        .into_iter()
        .filter_map(|name| {
            let v = headers.get(name)?.to_str().ok()?;
            Some((name.to_owned(), v.to_owned()))
        })
        .collect()
}

/// One channel: token (if the provider needs one), request, answer.
async fn try_channel(
    state: &AppState,
    ch: &Channel,
    req: &ChatRequest,
    native: Option<&Native>,
    upstream_model: &str,
    first_byte: Duration,
) -> Result<Answer, Failure> {
    let adapter = adapter(ch.provider);
    let inlined;
    let req = if native.is_none() && ch.provider.needs_inline_images() && has_image_urls(req) {
        let mut copy = req.clone();
        crate::images::inline_images(state, &mut copy)
            .await
            .map_err(|e| Failure::Rejected(Box::new(e)))?;
        inlined = copy;
        &inlined
    } else {
        req
    };
    let call = native.map(|n| NativeCall {
        body: &n.body,
        stream: n.stream,
        headers: &n.headers,
    });
    with_token(
        state,
        ch,
        adapter,
        first_byte,
        |token, now_unix| async move {
            let target = target(ch, upstream_model, token.as_deref(), now_unix);
            let ureq = match call.and_then(|c| adapter.native_request(c, &target)) {
                Some(r) => r,
                None => adapter.chat_request(req, &target),
            };
            let ureq = ureq.map_err(request_failure)?;
            let passthrough = call.is_some();
            attempt(state, adapter, ureq, req, passthrough, &target, first_byte).await
        },
    )
    .await
}

/// A request the adapter cannot build: the client's fault (400) or the upstream's.
fn request_failure(e: ConvertError) -> Failure {
    match e {
        ConvertError::BadRequest { message, param } => Failure::bad_request(message, param),
        other => convert_failure(other),
    }
}

async fn attempt(
    state: &AppState,
    adapter: &'static dyn Adapter,
    ureq: UpstreamRequest,
    req: &ChatRequest,
    passthrough: bool,
    target: &Target<'_>,
    first_byte: Duration,
) -> Result<Answer, Failure> {
    let ctx = ResponseCtx {
        requested_model: &req.model,
        upstream_model: target.upstream_model,
        now_unix: target.now_unix,
    };
    let idle = Duration::from_millis(state.inner.config.upstream.idle_timeout_ms);
    let streamed = req.is_stream() || adapter.streams_only();
    let raw_sse = ureq.transport == Transport::HttpRawSse;
    let events = if ureq.transport == Transport::WebSocket {
        // Boxed: connecting a WebSocket is a large future (11 KB) that every HTTP attempt
        // would otherwise carry, and copy when the attempt is boxed.
        Box::pin(source::websocket(
            ureq,
            adapter,
            state.inner.http.ws_tls(),
            first_byte,
        ))
        .await?
    } else {
        let resp = upstream::send(state, ureq, first_byte).await?;
        if !resp.status().is_success() {
            return Err(upstream::status_failure(resp, adapter, first_byte).await);
        }
        if !streamed {
            return json_answer(resp, adapter, &ctx, passthrough, first_byte).await;
        }
        let is_json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            // A JSON answer to a stream request is an error reported with HTTP 200 (Qianfan
            // does this): read it the non-stream way so it is mapped, and never relayed.
            return match json_answer(resp, adapter, &ctx, false, first_byte).await {
                Err(f) => Err(f),
                Ok(_) => Err(Failure::Protocol(
                    "the upstream answered a stream request with a JSON body".into(),
                )),
            };
        }
        source::sse(resp, raw_sse)
    };
    let converter = adapter.stream_converter(&ctx);
    let converter: Box<dyn StreamConverter> = if passthrough {
        Box::new(Passthrough::new(converter))
    } else {
        converter
    };
    let started = stream::start(events, converter, &ctx, first_byte, idle).await?;
    if req.is_stream() {
        return Ok(Answer::Stream(started));
    }
    // A stream-only provider answering a non-stream request: aggregate the chunks.
    let (chunks, mut s) = stream::drain(started).await?;
    let mut agg = Aggregator::default();
    for c in &chunks {
        agg.push(c);
    }
    let m = s
        .meter
        .finish(|| tokens::count_prompt(&req.model, &req.messages, req.tools.as_deref()));
    let (id, created, _) = s.converter.identity();
    let usage = switchyard_types::Usage::new(m.prompt, m.completion);
    let body = agg.finish(id, created, &req.model, &usage);
    let mut meter = Meter::new(&req.model);
    meter.report(usage);
    Ok(Answer::Json(Bytes::from(body.to_string()), meter))
}

async fn json_answer(
    resp: upstream::Response,
    adapter: &'static dyn Adapter,
    ctx: &ResponseCtx<'_>,
    passthrough: bool,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let body = upstream::read_body(resp, timeout).await?;
    // A pass-through answer is still read by the converter: for usage, and for an error
    // reported inside a 200.
    let out = adapter
        .chat_response(body.clone(), ctx)
        .map_err(convert_failure)?;
    let mut meter = Meter::new(ctx.requested_model);
    match out.usage {
        Some(u) => meter.report(u),
        None => meter.text(out.text_for_count.as_deref().unwrap_or("")),
    }
    Ok(Answer::Json(
        if passthrough { body } else { out.body },
        meter,
    ))
}

fn has_image_urls(req: &ChatRequest) -> bool {
    req.messages.iter().any(|m| match &m.content {
        Some(switchyard_types::MessageContent::Parts(parts)) => parts.iter().any(|p| {
            p.pointer("/image_url/url")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
        }),
        _ => false,
    })
}

/// A conversion failure of an upstream answer.
pub(crate) fn convert_failure(e: ConvertError) -> Failure {
    match e {
        ConvertError::Upstream(err) => Failure::Status {
            err,
            retry_after: None,
        },
        ConvertError::Protocol(m) => Failure::Protocol(m),
        ConvertError::BadRequest { message, .. } => Failure::Protocol(message),
    }
}

/// Parses and checks a chat request; every problem is a 400 naming the parameter.
pub(crate) fn parse_chat(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
    // One typed parse for a good request; a bad one is parsed again to say what is wrong.
    if let Ok(req) = serde_json::from_slice::<ChatRequest>(bytes)
        && !req.model.is_empty()
        && !req.messages.is_empty()
    {
        return Ok(req);
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            format!("We could not parse the JSON body of your request: {e}"),
            None,
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
            None,
        ));
    };
    match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "`model` must be a non-empty string.",
                Some("model"),
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "you must provide a model parameter",
                Some("model"),
            ));
        }
    }
    match obj.get("messages") {
        Some(Value::Array(a)) if !a.is_empty() => {}
        Some(Value::Array(_)) => {
            return Err(ApiError::bad_request(
                "`messages` must not be empty.",
                Some("messages"),
            ));
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "`messages` must be an array.",
                Some("messages"),
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "Missing required parameter: 'messages'.",
                Some("messages"),
            ));
        }
    }
    serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request(format!("Invalid request: {e}"), None))
}

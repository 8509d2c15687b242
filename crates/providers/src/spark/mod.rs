//! iFlytek Spark over its signed WebSocket (`wss://spark-api.xf-yun.com/<version>/chat`).
//!
//! A request is one JSON frame sent after the upgrade to a URL signed with HMAC-SHA256
//! ([`auth`]); the answer is a series of frames with incremental text and usage in the last one
//! ([`stream`]). Spark only streams, so [`Adapter::streams_only`] is true and non-stream client
//! requests are aggregated by the gateway from the stream chunks. The channel key is
//! `APP_ID|API_KEY|API_SECRET`; the upstream model is a `SparkDesk-vX.Y` name (or the bare
//! `domain`), which picks the URL path and `parameter.chat.domain` ([`request`]).

mod auth;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, Method, ResponseCtx, StreamConverter, Target, Transport,
    UpstreamError, UpstreamRequest,
};

/// Models routed to this provider by default.
pub const DEFAULT_MODELS: &[&str] = &[
    "SparkDesk-v1.1",
    "SparkDesk-v2.1",
    "SparkDesk-v3.1",
    "SparkDesk-v3.5",
    "SparkDesk-v4.0",
];

/// The Spark WebSocket adapter.
#[derive(Debug)]
pub struct Spark;

/// The iFlytek Spark adapter.
pub static ADAPTER: Spark = Spark;

impl Adapter for Spark {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        let model = target.upstream_model;
        let version = request::version(model).ok_or_else(|| ConvertError::BadRequest {
            message: format!(
                "unknown Spark model `{model}` (known: SparkDesk-v1.1, -v2.1, -v3.1, -v3.1-128K, -v3.5, -v3.5-32K, -v4.0, or a Spark domain such as generalv3.5)"
            ),
            param: Some("model".into()),
        })?;
        let creds = request::credentials(target.key)?;
        let frame = request::frame(req, version, model, creds.app_id)?;
        let ep = auth::endpoint(target.base_url, version.path).map_err(|why| {
            ConvertError::BadRequest {
                message: format!("the Spark channel's base_url is unusable: {why}"),
                param: None,
            }
        })?;
        let url = auth::signed_url(&ep, creds.api_key, creds.api_secret, target.now_unix);
        let body = serde_json::to_vec(&frame).map_err(|e| ConvertError::BadRequest {
            message: format!("cannot serialise the Spark request frame: {e}"),
            param: None,
        })?;
        Ok(UpstreamRequest {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: Bytes::from(body),
            transport: Transport::WebSocket,
        })
    }

    fn chat_response(
        &self,
        _body: Bytes,
        _ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        Err(ConvertError::Protocol(
            "Spark answers only as a WebSocket stream (streams_only); there is no non-stream body to convert"
                .into(),
        ))
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(stream::SparkStream::new(ctx))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        response::error(status, body)
    }

    fn streams_only(&self) -> bool {
        true
    }
}

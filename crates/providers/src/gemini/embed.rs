//! Embeddings through `:batchEmbedContents` (what the official SDK uses for the Gemini API):
//! one request per input text, each naming the model as `models/<id>`, with
//! `outputDimensionality` when the client asked for `dimensions`. The answer
//! `{"embeddings":[{"values":[…]}, …]}` keeps input order; the Gemini API reports no usage for
//! it (a `usageMetadata.promptTokenCount`, as Vertex sends, is read when present), so the gateway
//! counts the input itself.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_types::Usage;

use super::{auth, wire};
use crate::adapter::{ConvertError, EmbeddingsInput, EmbeddingsOutput, Target, UpstreamRequest};

/// Builds the request.
pub(crate) fn request(
    input: &EmbeddingsInput<'_>,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let key = auth::check_key(target.key)?;
    if input.texts.is_empty() {
        return Err(ConvertError::BadRequest {
            message: "`input` must not be empty.".into(),
            param: Some("input".into()),
        });
    }
    let model = auth::model_path(target.upstream_model)?;
    let requests: Vec<Value> = input
        .texts
        .iter()
        .map(|t| {
            let mut r = json!({"model": model, "content": {"parts": [{"text": t}]}});
            if let (Some(d), Some(obj)) = (input.dimensions, r.as_object_mut()) {
                obj.insert("outputDimensionality".into(), json!(d));
            }
            r
        })
        .collect();
    let body = json!({ "requests": requests });
    Ok(UpstreamRequest::post_json(
        auth::url(target.base_url, target.upstream_model, "batchEmbedContents")?,
        auth::headers(key),
        Bytes::from(body.to_string()),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    embeddings: Option<Vec<Embedding>>,
    /// `:embedContent` shape, accepted too.
    #[serde(default)]
    embedding: Option<Embedding>,
    #[serde(default)]
    usage_metadata: Option<wire::UsageMetadata>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Embedding {
    #[serde(default)]
    values: Vec<f32>,
}

/// Reads the answer.
pub(crate) fn response(body: &[u8]) -> Result<EmbeddingsOutput, ConvertError> {
    let a: Answer = serde_json::from_slice(body).map_err(|e| {
        ConvertError::Protocol(format!(
            "Gemini embeddings answer is not JSON of the documented shape: {e}"
        ))
    })?;
    if let Some(err) = a.error.filter(|e| !e.is_null()) {
        let http = err
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        let body = json!({ "error": err }).to_string();
        return Err(ConvertError::Upstream(super::errors::map(
            http,
            body.as_bytes(),
        )));
    }
    let vectors: Vec<Vec<f32>> = match (a.embeddings, a.embedding) {
        (Some(list), _) => list.into_iter().map(|e| e.values).collect(),
        (None, Some(one)) => vec![one.values],
        (None, None) => {
            return Err(ConvertError::Protocol(
                "Gemini embeddings answer has no embeddings".into(),
            ));
        }
    };
    let usage = a
        .usage_metadata
        .filter(|u| u.prompt_token_count > 0)
        .map(|u| Usage::new(u.prompt_token_count, 0));
    Ok(EmbeddingsOutput { vectors, usage })
}

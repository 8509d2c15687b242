//! The Gemini API key and the request URLs.
//!
//! The key travels in the `x-goog-api-key` header (as the official SDK sends it), never in the
//! URL, so it cannot leak through logged URLs. URLs are
//! `{base}/v1beta/models/{model}:{method}`; a base that already ends in an API version
//! (`…/v1beta`, `…/v1`, `…/v1alpha`) is used as it is. The model may be written with or without
//! its `models/` prefix; tuned models (`tunedModels/…`) keep theirs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::adapter::{ConvertError, Header};

/// Header that carries the key.
pub(crate) const KEY_HEADER: &str = "x-goog-api-key";

/// Characters left as they are in a model path segment (`gemini-2.5-flash`, `models/x`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Checks the channel key: one part, printable ASCII, no spaces. The key itself never appears
/// in the message.
pub(crate) fn check_key(key: &str) -> Result<&str, ConvertError> {
    let bad = |why: &str| ConvertError::BadRequest {
        message: format!(
            "the Gemini channel key is malformed: {why} (expected one API key, such as AIza…)"
        ),
        param: None,
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.contains('|') {
        return Err(bad("it has several `|`-separated parts"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("it contains spaces or non-ASCII characters"));
    }
    Ok(key)
}

/// The model's resource path: `models/<id>` (or `tunedModels/<id>` as given).
pub(crate) fn model_path(model: &str) -> Result<String, ConvertError> {
    let model = model.trim();
    let path = if model.starts_with("models/") || model.starts_with("tunedModels/") {
        model.to_owned()
    } else {
        format!("models/{model}")
    };
    let id = path.split_once('/').map_or("", |(_, id)| id);
    if id.is_empty() || id.contains("..") {
        return Err(ConvertError::BadRequest {
            message: format!("`{model}` is not a Gemini model name"),
            param: Some("model".into()),
        });
    }
    Ok(path)
}

/// `{base}/{version}/{model_path}:{method}`.
pub(crate) fn url(base: &str, model: &str, method: &str) -> Result<String, ConvertError> {
    let base = base.trim_end_matches('/');
    let versioned = ["/v1beta", "/v1", "/v1alpha"]
        .iter()
        .any(|v| base.ends_with(v));
    let path = utf8_percent_encode(&model_path(model)?, PATH).to_string();
    Ok(if versioned {
        format!("{base}/{path}:{method}")
    } else {
        format!("{base}/v1beta/{path}:{method}")
    })
}

/// The key header.
pub(crate) fn headers(key: &str) -> Vec<Header> {
    vec![(KEY_HEADER.into(), key.to_owned().into())]
}

//! Tencent Cloud error codes (`Response.Error.Code`, sent with HTTP 200) mapped to the HTTP
//! status and OpenAI error code the gateway reports.
//!
//! Sources: the API 3.0 common error code table and the Hunyuan `errorcodes.py` of the official
//! SDK (see `docs/providers/hunyuan.md`). Exact codes are matched first, then the code family
//! (the part before the first `.`), so an undocumented sub-code still lands in the right class.
//! Statuses follow the gateway's failover rules: a problem of the channel's account (credentials,
//! arrears, service not activated) is 401/403 so the next channel is tried; a problem of the
//! request (parameters, blocked content, unknown model) is 400/404 and goes to the client.

use crate::adapter::UpstreamError;

/// How one code is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mapped {
    /// The HTTP status the error stands for.
    pub(super) status: u16,
    /// OpenAI error `type`.
    pub(super) kind: &'static str,
    /// OpenAI error `code`; `None` keeps the Tencent code.
    pub(super) code: Option<&'static str>,
}

const fn m(status: u16, kind: &'static str, code: Option<&'static str>) -> Mapped {
    Mapped { status, kind, code }
}

const AUTH: Mapped = m(401, "authentication_error", Some("invalid_api_key"));
const DENIED: Mapped = m(403, "permission_error", None);
const QUOTA: Mapped = m(403, "insufficient_quota", Some("insufficient_quota"));
const RATE: Mapped = m(429, "rate_limit_error", Some("rate_limit_exceeded"));
const CONTENT: Mapped = m(400, "invalid_request_error", Some("content_filter"));
const INVALID: Mapped = m(400, "invalid_request_error", None);
const INTERNAL: Mapped = m(500, "server_error", None);
const UNAVAILABLE: Mapped = m(503, "server_error", Some("upstream_unavailable"));
const TIMEOUT: Mapped = m(504, "server_error", Some("upstream_timeout"));

/// Every documented code, exactly.
const TABLE: &[(&str, Mapped)] = &[
    // Common API 3.0 codes.
    ("ActionOffline", m(400, "invalid_request_error", None)),
    ("AuthFailure.InvalidAuthorization", AUTH),
    ("AuthFailure.InvalidSecretId", AUTH),
    ("AuthFailure.MFAFailure", AUTH),
    ("AuthFailure.SecretIdNotFound", AUTH),
    ("AuthFailure.SignatureExpire", AUTH),
    ("AuthFailure.SignatureFailure", AUTH),
    ("AuthFailure.TokenFailure", AUTH),
    ("AuthFailure.UnauthorizedOperation", AUTH),
    ("DryRunOperation", INVALID),
    ("FailedOperation", INTERNAL),
    ("InternalError", INTERNAL),
    ("InvalidAction", INVALID),
    ("InvalidParameter", INVALID),
    ("InvalidParameterValue", INVALID),
    ("InvalidRequest", INVALID),
    ("IpInBlacklist", DENIED),
    ("IpNotInWhitelist", DENIED),
    ("LimitExceeded", RATE),
    ("MissingParameter", INVALID),
    ("NoSuchProduct", INVALID),
    ("NoSuchVersion", INVALID),
    ("RequestLimitExceeded", RATE),
    ("RequestLimitExceeded.GlobalRegionUinLimitExceeded", RATE),
    ("RequestLimitExceeded.IPLimitExceeded", RATE),
    ("RequestLimitExceeded.UinLimitExceeded", RATE),
    (
        "RequestSizeLimitExceeded",
        m(413, "invalid_request_error", None),
    ),
    ("ResourceInUse", m(409, "invalid_request_error", None)),
    ("ResourceInsufficient", QUOTA),
    ("ResourceNotFound", m(404, "invalid_request_error", None)),
    ("ResourceUnavailable", UNAVAILABLE),
    ("ResponseSizeLimitExceeded", m(502, "server_error", None)),
    ("ServiceUnavailable", UNAVAILABLE),
    ("UnauthorizedOperation", DENIED),
    ("UnknownParameter", INVALID),
    ("UnsupportedOperation", INVALID),
    ("UnsupportedProtocol", INVALID),
    ("UnsupportedRegion", INVALID),
    // Hunyuan's own codes.
    ("FailedOperation.ConsoleServerError", INTERNAL),
    ("FailedOperation.DownloadError", INVALID),
    ("FailedOperation.EngineRequestTimeout", TIMEOUT),
    ("FailedOperation.EngineServerError", INTERNAL),
    ("FailedOperation.EngineServerLimitExceeded", RATE),
    ("FailedOperation.FreeResourcePackExhausted", QUOTA),
    ("FailedOperation.GenerateImageFailed", CONTENT),
    ("FailedOperation.ImageDecodeFailed", INVALID),
    ("FailedOperation.ImageDownloadError", INVALID),
    ("FailedOperation.PartnerAccountUnSupport", DENIED),
    ("FailedOperation.ResourcePackExhausted", QUOTA),
    ("FailedOperation.ServiceNotActivated", DENIED),
    ("FailedOperation.ServiceStop", DENIED),
    ("FailedOperation.ServiceStopArrears", QUOTA),
    ("FailedOperation.SetPayModeExceed", DENIED),
    ("FailedOperation.UserUnAuthError", DENIED),
    ("InvalidParameter.ImageCountLimitExceededError", INVALID),
    ("InvalidParameter.ImageProcessingFailureError", INVALID),
    ("InvalidParameter.InvalidParameter", INVALID),
    ("InvalidParameterValue.ImageRequestError", INVALID),
    (
        "InvalidParameterValue.Model",
        m(404, "invalid_request_error", Some("model_not_found")),
    ),
    ("InvalidParameterValue.ParameterValueError", INVALID),
    ("OperationDenied.ImageIllegalDetected", CONTENT),
    ("OperationDenied.TextIllegalDetected", CONTENT),
    ("ResourceInsufficient.ChargeResourceExhaust", QUOTA),
    ("ResourceUnavailable.InArrears", QUOTA),
    ("ResourceUnavailable.LowBalance", QUOTA),
    ("ResourceUnavailable.NotExist", DENIED),
    ("ResourceUnavailable.StopUsing", DENIED),
];

/// Every code in the table (for the exhaustive mapping test).
#[cfg(test)]
pub(super) fn documented_codes() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(c, _)| *c)
}

/// Classifies a Tencent error code.
pub(super) fn classify(code: &str) -> Mapped {
    if let Some((_, m)) = TABLE.iter().find(|(c, _)| *c == code) {
        return *m;
    }
    let family = code.split('.').next().unwrap_or(code);
    match family {
        "AuthFailure" => AUTH,
        "RequestLimitExceeded" | "LimitExceeded" => RATE,
        "OperationDenied" => CONTENT,
        "InvalidParameter"
        | "InvalidParameterValue"
        | "MissingParameter"
        | "UnknownParameter"
        | "UnsupportedOperation" => INVALID,
        "ResourceInsufficient" => QUOTA,
        "ResourceUnavailable" => UNAVAILABLE,
        "UnauthorizedOperation" => DENIED,
        "ResourceNotFound" => m(404, "invalid_request_error", None),
        "InternalError" | "FailedOperation" => INTERNAL,
        _ => m(502, "upstream_error", None),
    }
}

/// The provider-neutral error for a `Response.Error`.
pub(super) fn upstream_error(code: &str, message: &str) -> UpstreamError {
    let mapped = classify(code);
    UpstreamError {
        status: mapped.status,
        message: if message.is_empty() {
            format!("Tencent Hunyuan error {code}")
        } else {
            format!("{code}: {message}")
        },
        kind: Some(mapped.kind.to_owned()),
        code: Some(mapped.code.unwrap_or(code).to_owned()),
    }
}

/// The error for a mid-stream `ErrorMsg` (4000: internal error, 4001: model timeout).
pub(super) fn stream_error(code: i64, msg: &str) -> UpstreamError {
    let (status, openai_code) = match code {
        4001 => (504, "upstream_timeout"),
        _ => (500, "upstream_error"),
    };
    UpstreamError {
        status,
        message: format!("Tencent Hunyuan stream error {code}: {msg}"),
        kind: Some("server_error".to_owned()),
        code: Some(openai_code.to_owned()),
    }
}

//! Tencent Cloud API 3.0 error answers: HTTP 200, `Content-Type: application/json`, body
//! `{"Response":{"Error":{"Code","Message"},"RequestId"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorInner<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse<'a> {
    error: ErrorInner<'a>,
    request_id: String,
}

#[derive(Serialize)]
struct Envelope<T> {
    #[serde(rename = "Response")]
    response: T,
}

/// A fresh `RequestId`.
pub(super) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Serialises `{"Response": body}`.
pub(super) fn wrap<T: Serialize>(body: T) -> String {
    serde_json::to_string(&Envelope { response: body }).unwrap_or_default()
}

/// The JSON text of a `Response.Error`.
pub(super) fn error_json(code: &str, message: &str) -> String {
    wrap(ErrorResponse {
        error: ErrorInner { code, message },
        request_id: request_id(),
    })
}

/// A JSON answer with exactly `Content-Type: application/json`.
pub(super) fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The HTTP-200 error answer Tencent sends for `code`.
pub(super) fn error_response(code: &str, message: &str) -> Response {
    json_response(StatusCode::OK, error_json(code, message))
}

/// The message Tencent documents for a code (used by `sim_error:<Code>`).
pub(super) fn canned_message(code: &str) -> String {
    let known = match code {
        "AuthFailure.SignatureFailure" => {
            "The provided credentials could not be validated. Please check your signature is correct."
        }
        "AuthFailure.SignatureExpire" => "Signature expired.",
        "AuthFailure.SecretIdNotFound" => "The SecretId is not found.",
        "AuthFailure.UnauthorizedOperation" => "The request is not authorized.",
        "RequestLimitExceeded" => {
            "Your current request times equals to `21` in a second, which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls."
        }
        "LimitExceeded" => "超过配额限制。",
        "InternalError" => "内部错误。",
        "FailedOperation.EngineRequestTimeout" => "引擎层请求超时；请稍后重试。",
        "FailedOperation.EngineServerError" => "引擎层内部错误；请稍后重试。",
        "FailedOperation.EngineServerLimitExceeded" => "引擎层请求超过限额；请稍后重试。",
        "FailedOperation.FreeResourcePackExhausted" => {
            "免费资源包余量已用尽，请购买资源包或开通后付费。"
        }
        "FailedOperation.ResourcePackExhausted" => "资源包余量已用尽，请购买资源包或开通后付费。",
        "FailedOperation.ServiceNotActivated" => "服务未开通，请前往控制台申请试用。",
        "FailedOperation.ServiceStop" => "用户主动停服。",
        "FailedOperation.ServiceStopArrears" => "欠费停服。",
        "InvalidParameterValue.Model" => "模型不存在。",
        "OperationDenied.TextIllegalDetected" => "文本包含违法违规信息，审核不通过。",
        "OperationDenied.ImageIllegalDetected" => "图片可能包含敏感信息，请重试",
        "ResourceInsufficient.ChargeResourceExhaust" => "计费资源已耗尽。",
        "ResourceUnavailable.InArrears" => "账号已欠费。",
        "ResourceUnavailable.LowBalance" => "余额不足。",
        "ResourceUnavailable.NotExist" => "计费状态未知，请确认是否已在控制台开通服务。",
        "ResourceUnavailable.StopUsing" => "账号已停服。",
        _ => "",
    };
    if known.is_empty() {
        format!("simulated error {code}")
    } else {
        known.to_owned()
    }
}

/// The Tencent code used for a `Fault::Status` without a body, by HTTP status.
pub(super) fn code_for_status(status: u16) -> &'static str {
    match status {
        401 => "AuthFailure.SignatureFailure",
        403 => "AuthFailure.UnauthorizedOperation",
        404 => "ResourceNotFound",
        413 => "RequestSizeLimitExceeded",
        429 => "RequestLimitExceeded",
        503 => "ServiceUnavailable",
        504 => "FailedOperation.EngineRequestTimeout",
        400..=499 => "InvalidParameter",
        _ => "InternalError",
    }
}

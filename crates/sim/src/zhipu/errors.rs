//! Zhipu error bodies: every documented business code with the HTTP status the service sends
//! it with (v4), and the v3 convention of `{"code":N,"msg":…,"success":false}` inside a 200.
//!
//! Sources: the API code page (docs.bigmodel.cn / docs.z.ai `api-code`) for codes and messages;
//! its HTTP table (400 parameters, 401 auth, 429 concurrency/balance/account, 500) plus real
//! captures (1002→401, 1113→429, 1261→400, 1301→400, 1302→429) for statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

/// `(code, HTTP status, message)` of every documented business code.
pub const CODES: &[(u32, u16, &str)] = &[
    (500, 500, "Internal Error"),
    (1000, 401, "身份验证失败。"),
    (
        1001,
        401,
        "Header中未收到Authorization参数，无法进行身份验证。",
    ),
    (
        1002,
        401,
        "Authorization Token非法，请确认Authorization Token正确传递。",
    ),
    (1003, 401, "Authorization Token已过期，请重新生成/获取。"),
    (1004, 401, "通过Authorization Token的验证失败。"),
    (1100, 429, "账户读写错误。"),
    (1110, 429, "您的账户当前处于非活动状态。请检查账户信息。"),
    (1111, 429, "您的账户不存在。"),
    (1112, 429, "您的账户已被锁定，请联系客服解锁。"),
    (1113, 429, "您的账户已欠费，请充值后重试。"),
    (1120, 429, "无法成功访问您的账户，请稍后重试。"),
    (1121, 429, "账户存违规行为，账号已被锁定。"),
    (1200, 400, "API 调用错误。"),
    (1210, 400, "API 调用参数有误，请检查文档。"),
    (1211, 400, "模型不存在，请检查模型代码。"),
    (1212, 400, "当前模型不支持该调用方式。"),
    (1213, 400, "未正常接收到参数。"),
    (1214, 400, "参数非法。请检查文档。"),
    (1215, 400, "参数冲突，不能同时设置，请检查文档。"),
    (1220, 400, "您无权访问该API。"),
    (1221, 400, "API 已下线。"),
    (1222, 400, "API 不存在。"),
    (1230, 500, "API 调用流程出错。"),
    (1231, 400, "您已有请求。"),
    (1234, 500, "网络错误，请联系客服。"),
    (1261, 400, "Prompt exceeds max length"),
    (1300, 400, "API 调用被策略阻止。"),
    (
        1301,
        400,
        "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合。",
    ),
    (
        1302,
        429,
        "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。",
    ),
    (
        1303,
        429,
        "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。",
    ),
    (
        1304,
        429,
        "该API已达今日调用次数限额，如有更多需求，请联系客服购买。",
    ),
    (1305, 429, "该API已触发流量限制。"),
    (1308, 429, "已达到使用上限，您的限额将在稍后重置。"),
    (1309, 429, "您的 GLM Coding Plan 套餐已到期，暂无法使用。"),
    (1310, 429, "您已达到每周/每月使用上限。"),
    (1311, 429, "当前订阅套餐暂未开放该模型权限。"),
    (1312, 429, "该模型当前访问量过大，请您稍后再试。"),
    (
        1313,
        429,
        "您的账户当前使用模式不符合公平使用策略，请求频率已受到限制。",
    ),
];

/// The status and message of a documented code.
pub fn lookup(code: u32) -> Option<(u16, &'static str)> {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, s, m)| (*s, *m))
}

/// The business code a bare HTTP status fault stands for.
pub(super) fn code_for_status(status: u16) -> u32 {
    match status {
        401 => 1002,
        403 => 1220,
        404 => 1222,
        429 => 1302,
        400..=499 => 1210,
        _ => 500,
    }
}

fn json_response(status: u16, body: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A v4 error: the code's own HTTP status (or `status`), `{"error":{"code":"<code>","message"}}`.
pub(super) fn v4_error(code: u32, status: Option<u16>, message: Option<&str>) -> Response {
    let (default_status, default_message) = lookup(code).unwrap_or((500, "Internal Error"));
    let body =
        json!({"error": {"code": code.to_string(), "message": message.unwrap_or(default_message)}});
    json_response(status.unwrap_or(default_status), body.to_string())
}

/// A v3 error: HTTP 200 (or `status`) with `{"code":N,"msg":…,"success":false}`.
pub(super) fn v3_error(code: u32, status: Option<u16>, message: Option<&str>) -> Response {
    let default_message = lookup(code).map_or("Internal Error", |(_, m)| m);
    let body = json!({"code": code, "msg": message.unwrap_or(default_message), "success": false});
    json_response(status.unwrap_or(200), body.to_string())
}

/// A JSON 200 body.
pub(super) fn ok_json(body: String) -> Response {
    json_response(200, body)
}

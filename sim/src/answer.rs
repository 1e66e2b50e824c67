//! DingTalk's two error shapes, shared by every route.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A new-API error: HTTP `status` with `{"requestid", "code", "message"}`.
pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"requestid": uuid::Uuid::new_v4().to_string(), "code": code, "message": message})),
    )
        .into_response()
}

/// A legacy-API or webhook error: HTTP 200 with `{"errcode", "errmsg"}`.
pub(crate) fn webhook_error(errcode: i64, errmsg: &str) -> Response {
    Json(json!({"errcode": errcode, "errmsg": errmsg})).into_response()
}

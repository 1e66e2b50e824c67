//! The token-authenticated APIs: media upload, file download, StandardCards.
//!
//! Each checks what DingTalk checks: a valid access token (new API: header
//! `x-acs-dingtalk-access-token`, 400 `InvalidAuthentication` otherwise; legacy API:
//! `access_token` query, errcode 40014 otherwise), the body's shape, and the fields
//! that must be JSON strings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::server::{api_error, webhook_error};
use crate::state::{CardRecord, Inner, MediaRecord, now_ms};

type Shared = Arc<Inner>;

fn token_valid(inner: &Inner, token: Option<&str>) -> bool {
    token.is_some_and(|t| {
        inner
            .lock()
            .tokens
            .get(t)
            .is_some_and(|exp| *exp > now_ms())
    })
}

/// A 400 answer in the new API's error shape.
struct Refusal {
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        api_error(StatusCode::BAD_REQUEST, self.code, &self.message)
    }
}

fn require_token(inner: &Inner, headers: &HeaderMap) -> Result<(), Refusal> {
    let token = headers
        .get("x-acs-dingtalk-access-token")
        .and_then(|v| v.to_str().ok());
    if token_valid(inner, token) {
        Ok(())
    } else {
        Err(Refusal {
            code: "InvalidAuthentication",
            message: "不合法的access_token".into(),
        })
    }
}

fn json_string_field(body: &Value, key: &str) -> Result<Value, Refusal> {
    let text = body
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal {
            code: "param.invalid",
            message: format!("{key} must be a JSON string"),
        })?;
    serde_json::from_str(text).map_err(|_| Refusal {
        code: "param.invalid",
        message: format!("{key} is not valid JSON"),
    })
}

pub(crate) async fn media_upload(
    AxState(inner): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
    mut form: Multipart,
) -> Response {
    if !token_valid(&inner, q.get("access_token").map(String::as_str)) {
        return webhook_error(40014, "不合法的access_token");
    }
    let mut kind = q.get("type").cloned();
    let mut file: Option<(String, usize)> = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("type") => kind = field.text().await.ok(),
            Some("media") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let len = field.bytes().await.map(|b| b.len()).unwrap_or(0);
                file = Some((name, len));
            }
            _ => {}
        }
    }
    let Some(kind) = kind.filter(|k| ["image", "voice", "video", "file"].contains(&k.as_str()))
    else {
        return webhook_error(40004, "无效的媒体文件类型");
    };
    let Some((filename, bytes)) = file.filter(|(_, len)| *len > 0) else {
        return webhook_error(40005, "无效的文件大小");
    };
    let limit = if kind == "voice" { 2 << 20 } else { 20 << 20 };
    if bytes > limit {
        return webhook_error(40005, "无效的文件大小");
    }
    let media_id = format!("@lAsim{:x}", rand::random::<u64>());
    inner.lock().media.push(MediaRecord {
        media_id: media_id.clone(),
        kind: kind.clone(),
        filename,
        bytes,
    });
    inner.bump();
    Json(json!({"errcode": 0, "errmsg": "ok", "media_id": media_id, "created_at": now_ms(), "type": kind})).into_response()
}

pub(crate) async fn file_download(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let (Some(code), Some(robot)) = (
        body.get("downloadCode").and_then(Value::as_str),
        body.get("robotCode").and_then(Value::as_str),
    ) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.empty",
            "downloadCode and robotCode are required",
        );
    };
    if robot != inner.config.client_id {
        return api_error(
            StatusCode::BAD_REQUEST,
            "robot.notFound",
            "robotCode does not match the app",
        );
    }
    let url = format!("http://{}/_files/{}", inner.addr, urlencode(code));
    Json(json!({"downloadUrl": url})).into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The bytes behind a download code: deterministic, so tests can check them.
pub fn file_content(code: &str) -> Vec<u8> {
    format!("sim file for {code}\n").into_bytes()
}

pub(crate) async fn file_bytes(Path(code): Path<String>) -> Response {
    file_content(&code).into_response()
}

pub(crate) async fn card_send(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    if body.get("cardTemplateId").and_then(Value::as_str) != Some("StandardCard") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "cardTemplateInvalid",
            "cardTemplateId must be StandardCard",
        );
    }
    if body.get("robotCode").and_then(Value::as_str) != Some(&inner.config.client_id) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "chatbotNotInstall",
            "robotCode does not match the app",
        );
    }
    let Some(biz_id) = body
        .get("cardBizId")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.invalid",
            "cardBizId is required",
        );
    };
    let card = match json_string_field(&body, "cardData") {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let receiver = match (
        body.get("openConversationId"),
        body.get("singleChatReceiver"),
    ) {
        (Some(Value::String(cid)), None) => json!({"openConversationId": cid}),
        (None, Some(_)) => match json_string_field(&body, "singleChatReceiver") {
            Ok(r) if r.get("userId").is_some_and(Value::is_string) => r,
            Ok(_) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "param.invalid",
                    "singleChatReceiver needs userId",
                );
            }
            Err(r) => return r.into_response(),
        },
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "param.invalid",
                "exactly one of openConversationId and singleChatReceiver is required",
            );
        }
    };
    let mut s = inner.lock();
    s.card_store.insert(biz_id.to_owned(), card.clone());
    s.cards.push(CardRecord {
        action: "send".into(),
        biz_id: biz_id.to_owned(),
        card,
        receiver,
    });
    drop(s);
    inner.bump();
    Json(json!({"processQueryKey": format!("pqk{:x}", rand::random::<u64>())})).into_response()
}

pub(crate) async fn card_update(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let Some(biz_id) = body.get("cardBizId").and_then(Value::as_str) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.invalid",
            "cardBizId is required",
        );
    };
    let card = match json_string_field(&body, "cardData") {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let mut s = inner.lock();
    if !s.card_store.contains_key(biz_id) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.invalid",
            "no card with this cardBizId",
        );
    }
    s.card_store.insert(biz_id.to_owned(), card.clone());
    s.cards.push(CardRecord {
        action: "update".into(),
        biz_id: biz_id.to_owned(),
        card,
        receiver: Value::Null,
    });
    drop(s);
    inner.bump();
    Json(json!({"processQueryKey": format!("pqk{:x}", rand::random::<u64>())})).into_response()
}

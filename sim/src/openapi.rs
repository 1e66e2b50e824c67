//! The token-authenticated APIs: media upload, file download, StandardCards.
//!
//! Each checks what DingTalk checks: a valid access token (new API: header
//! `x-acs-dingtalk-access-token`, 400 `InvalidAuthentication` otherwise; legacy API:
//! `access_token` query, errcode 40014 otherwise), the body's shape, and the fields
//! that must be JSON strings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::answer::{api_error, webhook_error};
use crate::knobs::CardFault;
use crate::message::{MAX_SIZED_FILE, SIZED_FILE_PREFIX};
use crate::state::{CardRecord, Inner, MediaRecord, now_ms};

type Shared = Arc<Inner>;

fn card_fault(inner: &Inner) -> Option<CardFault> {
    inner.lock().card_fault
}

/// The token-authenticated API routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/media/upload", post(media_upload))
        .route("/v1.0/robot/messageFiles/download", post(file_download))
        .route("/_files/{code}", get(file_bytes))
        .route("/v1.0/im/v1.0/robot/interactiveCards/send", post(card_send))
        .route("/v1.0/im/robots/interactiveCards", put(card_update))
        .route(
            "/v1.0/card/instances",
            post(instance_create).put(instance_update),
        )
        .route("/v1.0/card/instances/deliver", post(instance_deliver))
        .route(
            "/v1.0/card/instances/createAndDeliver",
            post(instance_create_and_deliver),
        )
        .route("/v1.0/card/streaming", put(instance_stream))
        .route("/v1.0/robot/oToMessages/batchSend", post(batch_send))
        .route("/v1.0/robot/groupMessages/send", post(group_send))
        .route("/v1.0/sim/echo", any(echo))
        .route("/v1.0/sim/unauthorized", any(unauthorized))
        .route("/v1.0/sim/big", any(big))
}

/// The client id a live token was issued to.
fn token_app(inner: &Inner, token: Option<&str>) -> Option<String> {
    let s = inner.lock();
    let (expires, app) = s.tokens.get(token?)?;
    (*expires > now_ms()).then(|| app.clone())
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

/// The client id of the app whose token the request carries.
fn require_token(inner: &Inner, headers: &HeaderMap) -> Result<String, Refusal> {
    let token = headers
        .get("x-acs-dingtalk-access-token")
        .and_then(|v| v.to_str().ok());
    token_app(inner, token).ok_or_else(|| Refusal {
        code: "InvalidAuthentication",
        message: "不合法的access_token".into(),
    })
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

async fn media_upload(
    AxState(inner): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
    mut form: Multipart,
) -> Response {
    if token_app(&inner, q.get("access_token").map(String::as_str)).is_none() {
        return webhook_error(40014, "不合法的access_token");
    }
    if inner.lock().break_uploads {
        // Read a little of the body, then drop the connection with no answer: the
        // connection task unwinds without running the panic hook.
        let _ = form.next_field().await;
        std::panic::resume_unwind(Box::new("the upload connection broke"));
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

async fn file_download(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let app = match require_token(&inner, &headers) {
        Ok(app) => app,
        Err(r) => return r.into_response(),
    };
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
    if robot != app {
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

async fn file_bytes(Path(code): Path<String>) -> Response {
    match code
        .strip_prefix(SIZED_FILE_PREFIX)
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) => vec![b'f'; n.min(MAX_SIZED_FILE)].into_response(),
        None => file_content(&code).into_response(),
    }
}

async fn card_send(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let app = match require_token(&inner, &headers) {
        Ok(app) => app,
        Err(r) => return r.into_response(),
    };
    if body.get("cardTemplateId").and_then(Value::as_str) != Some("StandardCard") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "cardTemplateInvalid",
            "cardTemplateId must be StandardCard",
        );
    }
    if body.get("robotCode").and_then(Value::as_str) != Some(&app) {
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

async fn card_update(
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

fn card_record(inner: &Inner, action: &str, out_track_id: &str, card: Value, receiver: Value) {
    inner.lock().cards.push(CardRecord {
        action: action.into(),
        biz_id: out_track_id.into(),
        card,
        receiver,
    });
    inner.bump();
}

/// Checks a create body: template, outTrackId, string-only params, callback type.
fn check_instance(body: &Value) -> Result<(String, Value), Refusal> {
    let refuse = |code: &'static str, message: &str| Refusal {
        code,
        message: message.into(),
    };
    if body
        .get("cardTemplateId")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(refuse(
            "param.cardTemplateIdEmpty",
            "cardTemplateId is required",
        ));
    }
    let Some(id) = body
        .get("outTrackId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(refuse("param.outTrackIdEmpty", "outTrackId is required"));
    };
    let params = body
        .pointer("/cardData/cardParamMap")
        .and_then(Value::as_object)
        .ok_or_else(|| refuse("param.empty", "cardData.cardParamMap is required"))?;
    if params.values().any(|v| !v.is_string()) {
        return Err(refuse(
            "param.invalid",
            "cardParamMap values must be strings",
        ));
    }
    match body.get("callbackType").and_then(Value::as_str) {
        Some("STREAM") | None => {}
        Some("HTTP") if body.get("callbackRouteKey").is_some_and(Value::is_string) => {}
        _ => {
            return Err(refuse(
                "param.invalid",
                "callbackType must be STREAM, or HTTP with a callbackRouteKey",
            ));
        }
    }
    Ok((id.to_owned(), Value::Object(params.clone())))
}

/// Checks deliver fields: an openSpaceId and the model matching its space type.
fn check_deliver(app: &str, body: &Value) -> Result<Value, Refusal> {
    let refuse = |message: &str| Refusal {
        code: "param.invalid",
        message: message.into(),
    };
    let space = body
        .get("openSpaceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(cid) = space.strip_prefix("dtv1.card//IM_GROUP.") {
        let robot = body
            .pointer("/imGroupOpenDeliverModel/robotCode")
            .and_then(Value::as_str);
        if robot != Some(app) {
            return Err(refuse(
                "imGroupOpenDeliverModel.robotCode must be the app's robot code",
            ));
        }
        return Ok(json!({"openConversationId": cid}));
    }
    if let Some(user) = space.strip_prefix("dtv1.card//IM_ROBOT.") {
        if body.get("imRobotOpenDeliverModel").is_none() {
            return Err(refuse("imRobotOpenDeliverModel is required for IM_ROBOT"));
        }
        return Ok(json!({"userId": user}));
    }
    Err(refuse(
        "openSpaceId must be dtv1.card//IM_GROUP.<cid> or dtv1.card//IM_ROBOT.<userId>",
    ))
}

fn template_unpublished() -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        "param.templateUnpublished",
        "param.templateUnpublished",
    )
}

/// The `spaceId is illegal` refusal of a 1:1 delivery, when that fault is set.
fn illegal_space(inner: &Inner, receiver: &Value) -> Option<Response> {
    (card_fault(inner) == Some(CardFault::IllegalSpace) && receiver.get("userId").is_some()).then(
        || {
            api_error(
                StatusCode::BAD_REQUEST,
                "param.invalid",
                "spaceId is illegal",
            )
        },
    )
}

fn out_track_id(body: &Value) -> String {
    body.get("outTrackId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn unknown_instance() -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        "param.invalid",
        "no card instance with this outTrackId",
    )
}

fn success(result: Value) -> Response {
    Json(json!({"success": true, "result": result})).into_response()
}

async fn instance_create(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if card_fault(&inner) == Some(CardFault::TemplateUnpublished) {
        return template_unpublished();
    }
    let checked = require_token(&inner, &headers).and_then(|_| check_instance(&body));
    let (id, params) = match checked {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    inner.lock().card_store.insert(id.clone(), params.clone());
    card_record(&inner, "instance.create", &id, params, Value::Null);
    success(json!(id))
}

async fn instance_deliver(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let app = match require_token(&inner, &headers) {
        Ok(app) => app,
        Err(r) => return r.into_response(),
    };
    let id = out_track_id(&body);
    let Some(card) = inner.lock().card_store.get(&id).cloned() else {
        return unknown_instance();
    };
    let receiver = match check_deliver(&app, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if let Some(illegal) = illegal_space(&inner, &receiver) {
        return illegal;
    }
    card_record(&inner, "instance.deliver", &id, card, receiver);
    success(json!([{"success": true, "carrierId": format!("carrier{:x}", rand::random::<u32>())}]))
}

async fn instance_create_and_deliver(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let checked = require_token(&inner, &headers).and_then(|app| {
        let (id, params) = check_instance(&body)?;
        Ok((id, params, check_deliver(&app, &body)?))
    });
    let (id, params, receiver) = match checked {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if card_fault(&inner) == Some(CardFault::TemplateUnpublished) {
        return template_unpublished();
    }
    if let Some(illegal) = illegal_space(&inner, &receiver) {
        return illegal;
    }
    inner.lock().card_store.insert(id.clone(), params.clone());
    card_record(&inner, "instance.createAndDeliver", &id, params, receiver);
    success(json!({"outTrackId": id, "deliverResults": [{"success": true}]}))
}

async fn instance_update(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let id = out_track_id(&body);
    let Some(params) = body
        .pointer("/cardData/cardParamMap")
        .and_then(Value::as_object)
        .cloned()
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.empty",
            "cardData.cardParamMap is required",
        );
    };
    if params.values().any(|v| !v.is_string()) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.invalid",
            "cardParamMap values must be strings",
        );
    }
    let by_key = body
        .pointer("/cardUpdateOptions/updateCardDataByKey")
        .and_then(Value::as_bool)
        == Some(true);
    let merged = {
        let mut s = inner.lock();
        let Some(current) = s.card_store.get_mut(&id) else {
            return unknown_instance();
        };
        match (by_key, current.as_object_mut()) {
            (true, Some(map)) => map.extend(params),
            _ => *current = Value::Object(params),
        }
        current.clone()
    };
    card_record(
        &inner,
        "instance.update",
        &id,
        merged,
        body.get("privateData").cloned().unwrap_or_default(),
    );
    success(json!(true))
}

async fn instance_stream(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let id = out_track_id(&body);
    let fields_ok = ["guid", "key", "content"]
        .iter()
        .all(|k| body.get(k).is_some_and(Value::is_string))
        && ["isFull", "isFinalize", "isError"]
            .iter()
            .all(|k| body.get(k).is_some_and(Value::is_boolean));
    if !fields_ok {
        return api_error(
            StatusCode::BAD_REQUEST,
            "param.invalid",
            "guid, key, content, isFull, isFinalize, isError are required",
        );
    }
    if !inner.lock().card_store.contains_key(&id) {
        return unknown_instance();
    }
    match card_fault(&inner) {
        Some(CardFault::StreamingThrottled) => {
            return api_error(
                StatusCode::FORBIDDEN,
                "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                "the card streaming API is throttled for this app",
            );
        }
        Some(CardFault::StreamingUnknown) => {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unknownError",
                "未知错误",
            );
        }
        _ => {}
    }
    card_record(&inner, "instance.stream", &id, body, Value::Null);
    success(json!(true))
}

fn proactive_record(inner: &Inner, app: &str, action: &str, body: &Value) -> Result<(), Refusal> {
    let refuse = |message: &str| Refusal {
        code: "param.invalid",
        message: message.into(),
    };
    if body.get("robotCode").and_then(Value::as_str) != Some(app) {
        return Err(refuse("robotCode does not match the app"));
    }
    if body
        .get("msgKey")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(refuse("msgKey is required"));
    }
    let param = json_string_field(body, "msgParam")?;
    if body
        .get("msgParam")
        .and_then(Value::as_str)
        .is_some_and(|p| p.len() > 15_000)
    {
        return Err(refuse("msgParam is longer than 15000 bytes"));
    }
    let receiver = match action {
        "proactive.users" => body
            .get("userIds")
            .cloned()
            .filter(Value::is_array)
            .ok_or_else(|| refuse("userIds is required"))?,
        _ => body
            .get("openConversationId")
            .cloned()
            .filter(Value::is_string)
            .ok_or_else(|| refuse("openConversationId is required"))?,
    };
    let key = body
        .get("msgKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    card_record(inner, action, key, param, receiver);
    Ok(())
}

async fn batch_send(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    match require_token(&inner, &headers).and_then(|app| proactive_record(&inner, &app, "proactive.users", &body)) {
        Ok(()) => Json(json!({"processQueryKey": format!("pqk{:x}", rand::random::<u64>()), "invalidStaffIdList": [], "flowControlledStaffIdList": []})).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn group_send(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    match require_token(&inner, &headers)
        .and_then(|app| proactive_record(&inner, &app, "proactive.group", &body))
    {
        Ok(()) => Json(json!({"processQueryKey": format!("pqk{:x}", rand::random::<u64>())}))
            .into_response(),
        Err(r) => r.into_response(),
    }
}

/// A token-checked endpoint that answers with what it received, for exercising the
/// generic OpenAPI call (any method).
async fn echo(
    AxState(inner): AxState<Shared>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    Json(json!({"method": method.as_str(), "body": body})).into_response()
}

/// A token-checked endpoint that always answers 401, as DingTalk does for a token it
/// no longer accepts: a plugin calling it must not make the host refetch in a loop.
async fn unauthorized(AxState(inner): AxState<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    api_error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "the token is not authorised for this API",
    )
}

/// A token-checked endpoint answering a JSON string of `bytes` bytes (query), to
/// check that answers are read with a size cap.
async fn big(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = require_token(&inner, &headers) {
        return r.into_response();
    }
    let n: usize = q.get("bytes").and_then(|b| b.parse().ok()).unwrap_or(0);
    Json(json!({"data": "b".repeat(n.min(64 << 20))})).into_response()
}

//! HTTP routes: open connection, WebSocket upgrade, access token, session webhooks,
//! and the `/_sim` control API (the injection API over HTTP, for other processes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answer::{api_error, webhook_error};
use crate::message::MessageSpec;
use crate::state::{Inner, OpenRecord, Ticket, now_ms};

type Shared = Arc<Inner>;

pub(crate) fn router(inner: Shared) -> Router {
    Router::new()
        .route("/v1.0/gateway/connections/open", post(open))
        .route("/connect", get(connect))
        .route("/v1.0/oauth2/accessToken", post(access_token))
        .route("/robot/sendBySession", post(webhook))
        .route("/_sim/chatbot", post(control_chatbot))
        .route("/_sim/event", post(control_event))
        .route("/_sim/ping", post(control_ping))
        .route("/_sim/disconnect", post(control_disconnect))
        .route("/_sim/drop", post(control_drop))
        .route("/_sim/records", get(control_records))
        .merge(crate::openapi::routes())
        .merge(crate::model::routes())
        .with_state(inner)
}

async fn open(AxState(inner): AxState<Shared>, body: String) -> Response {
    let refused = {
        let mut s = inner.lock();
        match s.refuse_opens {
            Some((n, status)) if n > 0 => {
                s.refuse_opens = if n > 1 { Some((n - 1, status)) } else { None };
                Some(status)
            }
            _ => None,
        }
    };
    if let Some(status) = refused {
        inner.lock().opens.push(OpenRecord {
            client_id: String::new(),
            subscriptions: Vec::new(),
            ua: None,
            local_ip: None,
            status,
        });
        inner.bump();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, "<html><body>Service Unavailable</body></html>").into_response();
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter",
            "body is not JSON",
        );
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let client_id = text("clientId").unwrap_or_default();
    let mut subscriptions = Vec::new();
    for sub in v
        .get("subscriptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(kind), Some(topic)) = (
            sub.get("type").and_then(Value::as_str),
            sub.get("topic").and_then(Value::as_str),
        ) else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalidParameter",
                "subscription needs type and topic",
            );
        };
        subscriptions.push((kind.to_owned(), topic.to_owned()));
    }
    let authorized = !client_id.is_empty()
        && text("clientSecret").as_deref() == inner.config.secret_of(&client_id);
    let status = if !authorized {
        401
    } else if subscriptions.is_empty() {
        400
    } else {
        200
    };
    inner.lock().opens.push(OpenRecord {
        client_id: client_id.clone(),
        subscriptions: subscriptions.clone(),
        ua: text("ua"),
        local_ip: text("localIp"),
        status,
    });
    inner.bump();
    match status {
        401 => api_error(StatusCode::UNAUTHORIZED, "authFailed", "鉴权失败"),
        400 => api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter",
            "subscriptions is empty",
        ),
        _ => {
            let ticket = uuid::Uuid::new_v4().to_string();
            inner.lock().tickets.insert(
                ticket.clone(),
                Ticket {
                    created: Instant::now(),
                    used: false,
                    subscriptions,
                    client_id,
                },
            );
            Json(json!({"endpoint": format!("ws://{}/connect", inner.addr), "ticket": ticket}))
                .into_response()
        }
    }
}

async fn connect(
    AxState(inner): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(ticket) = q.get("ticket") else {
        return (StatusCode::UNAUTHORIZED, "missing ticket").into_response();
    };
    let (subscriptions, client_id) = {
        let mut s = inner.lock();
        match s.tickets.get_mut(ticket) {
            None => return (StatusCode::UNAUTHORIZED, "unknown ticket").into_response(),
            Some(t) if t.used => {
                return (StatusCode::UNAUTHORIZED, "ticket already used").into_response();
            }
            Some(t) if t.created.elapsed() > inner.config.ticket_ttl => {
                return (StatusCode::UNAUTHORIZED, "ticket expired").into_response();
            }
            Some(t) => {
                t.used = true;
                (t.subscriptions.clone(), t.client_id.clone())
            }
        }
    };
    ws.on_upgrade(move |socket| crate::gateway::serve(inner, socket, subscriptions, client_id))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    app_key: Option<String>,
    app_secret: Option<String>,
}

async fn access_token(AxState(inner): AxState<Shared>, Json(req): Json<TokenRequest>) -> Response {
    let app = req.app_key.unwrap_or_default();
    if req.app_secret.is_none() || req.app_secret.as_deref() != inner.config.secret_of(&app) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthentication",
            "appKey or appSecret is invalid",
        );
    }
    let token = format!("simtoken{:032x}", rand::random::<u128>());
    let mut s = inner.lock();
    let ttl = inner.config.token_ttl;
    s.tokens
        .insert(token.clone(), (now_ms() + ttl.as_millis() as i64, app));
    s.token_fetches += 1;
    drop(s);
    Json(json!({"accessToken": token, "expireIn": ttl.as_secs()})).into_response()
}

/// Checks a webhook body the way DingTalk does: known msgtype, its object present.
fn check_webhook_body(body: &Value) -> Result<(), String> {
    let msgtype = body
        .get("msgtype")
        .and_then(Value::as_str)
        .ok_or("msgtype is missing")?;
    let required: &[&str] = match msgtype {
        "text" => &["content"],
        "markdown" => &["title", "text"],
        "actionCard" => &["title", "text"],
        "link" => &["title", "text", "messageUrl"],
        "feedCard" => &["links"],
        other => return Err(format!("unsupported msgtype {other}")),
    };
    let inner = body
        .get(msgtype)
        .ok_or_else(|| format!("{msgtype} object is missing"))?;
    for field in required {
        if inner.get(field).is_none() {
            return Err(format!("{msgtype}.{field} is missing"));
        }
    }
    Ok(())
}

async fn webhook(
    AxState(inner): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let Some(session) = q.get("session") else {
        return webhook_error(300001, "session is missing");
    };
    let (delay, forced) = {
        let s = inner.lock();
        (s.webhook_delay, s.webhook_error.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some((errcode, errmsg)) = forced {
        return webhook_error(errcode, &errmsg);
    }
    let app = match inner.lock().sessions.get(session) {
        None => return webhook_error(300001, "session does not exist"),
        Some(s) if now_ms() >= s.expires_ms => return webhook_error(300001, "session has expired"),
        Some(s) => s.app.clone(),
    };
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return webhook_error(400_002, "body is not JSON");
    };
    if let Err(reason) = check_webhook_body(&body) {
        return webhook_error(40035, &reason);
    }
    let received = inner.started.elapsed();
    inner.lock().replies.push(crate::state::Reply {
        session: session.clone(),
        app,
        body,
        received,
    });
    inner.bump();
    webhook_error(0, "ok")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatbotRequest {
    #[serde(default = "text_type")]
    msgtype: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    group: Option<String>,
}

fn text_type() -> String {
    "text".into()
}

async fn control_chatbot(
    AxState(inner): AxState<Shared>,
    Json(req): Json<ChatbotRequest>,
) -> Response {
    let spec = match req.msgtype.as_str() {
        "text" => MessageSpec::text(&req.text),
        "picture" => MessageSpec::picture(),
        "richText" => MessageSpec::rich_text(&req.text),
        "audio" => MessageSpec::audio(&req.text),
        "video" => MessageSpec::video(),
        "file" => MessageSpec::file(&req.text),
        other => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalidParameter",
                &format!("unknown msgtype {other}"),
            );
        }
    };
    let spec = match req.group {
        Some(title) => spec.in_group(&title),
        None => spec,
    };
    match inner.push_chatbot(spec).await {
        Ok(p) => Json(
            json!({"messageId": p.message_id, "session": p.session, "connection": p.connection}),
        )
        .into_response(),
        Err(e) => api_error(StatusCode::CONFLICT, "noSubscriber", &e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventRequest {
    event_type: String,
    #[serde(default)]
    data: Value,
}

async fn control_event(AxState(inner): AxState<Shared>, Json(req): Json<EventRequest>) -> Response {
    match inner.push_event(&req.event_type, req.data).await {
        Ok(id) => Json(json!({"messageId": id})).into_response(),
        Err(e) => api_error(StatusCode::CONFLICT, "noSubscriber", &e.to_string()),
    }
}

async fn control_ping(AxState(inner): AxState<Shared>) -> Response {
    Json(json!({"messageIds": inner.ping_all()})).into_response()
}

async fn control_disconnect(AxState(inner): AxState<Shared>) -> Response {
    inner.disconnect_all("connection is expired");
    Json(json!({"ok": true})).into_response()
}

async fn control_drop(AxState(inner): AxState<Shared>) -> Response {
    inner.drop_all();
    Json(json!({"ok": true})).into_response()
}

async fn control_records(AxState(inner): AxState<Shared>) -> Response {
    let s = inner.lock();
    Json(json!({
        "opens": s.opens,
        "connections": s.connection_records(),
        "acks": s.acks,
        "replies": s.replies,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_bodies_are_checked_like_dingtalk() {
        assert!(check_webhook_body(&json!({"msgtype":"text","text":{"content":"x"}})).is_ok());
        assert!(
            check_webhook_body(&json!({"msgtype":"markdown","markdown":{"title":"t","text":"x"}}))
                .is_ok()
        );
        assert_eq!(
            check_webhook_body(&json!({"msgtype":"text","text":{}})).unwrap_err(),
            "text.content is missing"
        );
        assert!(check_webhook_body(&json!({"msgtype":"bogus"})).is_err());
    }
}

//! An OpenAI-compatible chat-completions server (`POST /v1/chat/completions`), for
//! AI assistant plugins: deterministic, so tests can predict every token.
//!
//! The answer is `You said: <the last user message>`, streamed word by word (a
//! leading space before every word but the first) with a configurable delay per
//! chunk, after a comment line, a role chunk and a `reasoning_content` chunk (which a
//! client must not show), and followed by a finish chunk, a usage chunk with empty
//! `choices` and `data: [DONE]`: the shapes real servers send (ai-assistant.md 1).
//! `Authorization: Bearer <key>` must carry the sim's model key (401 otherwise).
//! Fault knobs: 429 with `Retry-After`, 500, a stream that breaks halfway, a slow
//! first byte.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::knobs::{ModelFault, ModelRequest};
use crate::state::Inner;

type Shared = Arc<Inner>;

/// The answer to a conversation whose last user message is `last`.
pub fn answer_to(last: &str) -> String {
    format!("You said: {last}")
}

/// The route.
pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/v1/chat/completions", post(completions))
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "code": kind}})),
    )
        .into_response()
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let event = json!({
        "id": "chatcmpl-sim",
        "object": "chat.completion.chunk",
        "model": "sim-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {event}\n\n")
}

async fn completions(
    AxState(inner): AxState<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!("Bearer {}", inner.config.model_key);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    let (delay, fault) = {
        let mut s = inner.lock();
        s.model.requests.push(ModelRequest {
            body: body.clone(),
            authorized,
        });
        (s.model.chunk_delay, s.model.fault)
    };
    inner.bump();
    if !authorized {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Incorrect API key provided.",
        );
    }
    match fault {
        Some(ModelFault::RateLimited) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "Rate limit reached for requests.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
            return r;
        }
        Some(ModelFault::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server had an error while processing your request.",
            );
        }
        Some(ModelFault::SlowFirstByte(wait)) => tokio::time::sleep(wait).await,
        _ => {}
    }
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    let text = answer_to(&last);
    if body["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-sim",
            "object": "chat.completion",
            "model": "sim-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }))
        .into_response();
    }
    let words: Vec<String> = text
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect();
    let break_at = (fault == Some(ModelFault::BreakHalfway)).then_some(words.len() / 2);
    let mut head = vec![
        ": keep-alive\n\n".to_owned(),
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"reasoning_content": "Thinking it over."}), None),
    ];
    head.extend(
        words
            .into_iter()
            .map(|w| chunk(json!({"content": w}), None)),
    );
    let total = head.len();
    let tail = [
        chunk(json!({}), Some("stop")),
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-sim", "choices": [], "usage": {"total_tokens": total}})
        ),
        "data: [DONE]\n\n".to_owned(),
    ];
    let items: Vec<String> = head.into_iter().chain(tail).collect();
    let end = items.len();
    let stream = futures_util::stream::unfold(0usize, move |i| {
        let item = items.get(i).cloned();
        async move {
            // The comment, role and reasoning chunks come first; break after half the words.
            if break_at.is_some_and(|b| i == b + 3) {
                return Some((Err(std::io::Error::other("the model stream broke")), end));
            }
            let item = item?;
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            Some((Ok(Bytes::from(item)), i + 1))
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

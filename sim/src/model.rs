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
//!
//! A request without tools takes the script's next turn when it is text (and is
//! answered `You said: ...` otherwise). A request that offers `tools` is answered by the test's script
//! ([`ModelTurn`]) or, without one, by a rule: a last user message naming an offered
//! function followed by a JSON object calls it (several such, in parallel); after
//! tool results the answer is `Tool said: <results>`. Tool calls are streamed in the
//! configured [`Dialect`], and every stream ends with a usage chunk
//! (`prompt_tokens` 10 per message, `completion_tokens` 5 per call or word).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::knobs::{Dialect, ModelFault, ModelRequest, ModelTurn};
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
    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (delay, fault, dialect, scripted) = {
        let mut s = inner.lock();
        s.model.requests.push(ModelRequest {
            body: body.clone(),
            authorized,
        });
        // A request without tools can only take a scripted text turn; a call waits
        // for a request that offers tools.
        let takes_front = authorized
            && (offers_tools || matches!(s.model.script.front(), Some(ModelTurn::Text(_))));
        let scripted = if takes_front {
            s.model.script.pop_front()
        } else {
            None
        };
        (
            s.model.chunk_delay,
            s.model.fault,
            s.model.dialect,
            scripted,
        )
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
    if offers_tools {
        if dialect == Dialect::DeepSeek && lacks_reasoning(&body) {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "The `reasoning_content` in the thinking mode must be passed back to the API.",
            );
        }
        let turn = scripted.unwrap_or_else(|| default_turn(&body));
        return stream(tool_items(&body, dialect, turn), delay, None);
    }
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    let text = match scripted {
        Some(ModelTurn::Text(t)) => t,
        _ => answer_to(&last),
    };
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
    let break_at = (fault == Some(ModelFault::BreakHalfway)).then_some(words.len() / 2 + 3);
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
    // The comment, role and reasoning chunks come first; break after half the words.
    stream(items, delay, break_at)
}

/// `items` as an event stream, `delay` between them, broken before item `break_at`.
fn stream(items: Vec<String>, delay: std::time::Duration, break_at: Option<usize>) -> Response {
    let end = items.len();
    let stream = futures_util::stream::unfold(0usize, move |i| {
        let item = items.get(i).cloned();
        async move {
            if break_at == Some(i) {
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

/// Whether an assistant tool turn of the request lacks its `reasoning_content`.
fn lacks_reasoning(body: &Value) -> bool {
    body["messages"].as_array().is_some_and(|m| {
        m.iter().any(|m| {
            m["role"] == "assistant"
                && m.get("tool_calls").is_some()
                && !m.get("reasoning_content").is_some_and(Value::is_string)
        })
    })
}

/// The unscripted answer to a request offering tools.
fn default_turn(body: &Value) -> ModelTurn {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let results: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    if !results.is_empty() {
        let results: Vec<String> = results.into_iter().rev().collect();
        return ModelTurn::Text(format!("Tool said: {}", results.join(" | ")));
    }
    let last = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let names: Vec<&str> = body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut calls = Vec::new();
    for (at, _) in last.match_indices(|c: char| c.is_ascii_alphanumeric()) {
        if at > 0 && last.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &last[at..];
        let Some(name) = names.iter().find(|n| {
            rest.strip_prefix(**n)
                .is_some_and(|after| after.trim_start().starts_with('{'))
        }) else {
            continue;
        };
        let after = rest[name.len()..].trim_start();
        let mut args = serde_json::Deserializer::from_str(after).into_iter::<Value>();
        if let Some(Ok(v @ Value::Object(_))) = args.next() {
            calls.push(((*name).to_owned(), v));
        }
    }
    if calls.is_empty() {
        ModelTurn::Text(answer_to(last))
    } else {
        ModelTurn::Call(calls)
    }
}

fn tool_chunk(calls: Value, finish: Option<&str>) -> String {
    chunk(json!({"tool_calls": calls}), finish)
}

/// The events of one answer to a request offering tools, in `dialect`.
fn tool_items(body: &Value, dialect: Dialect, turn: ModelTurn) -> Vec<String> {
    let mut items = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    if dialect == Dialect::DeepSeek {
        items.push(chunk(json!({"reasoning_content": "Let me "}), None));
        items.push(chunk(json!({"reasoning_content": "think."}), None));
    }
    let prompt = 10 * body["messages"].as_array().map_or(0, Vec::len);
    let (completion, finish) = match turn {
        ModelTurn::Text(text) => {
            let words: Vec<&str> = text.split(' ').collect();
            for (i, w) in words.iter().enumerate() {
                let piece = if i == 0 {
                    (*w).to_owned()
                } else {
                    format!(" {w}")
                };
                items.push(chunk(json!({"content": piece}), None));
            }
            (5 * words.len(), "stop")
        }
        ModelTurn::Call(mut calls) => {
            if dialect == Dialect::Qwen && body["parallel_tool_calls"] != json!(true) {
                calls.truncate(1);
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                let id = format!("call_sim_{i}");
                let text = args.to_string();
                let (a, b) = text.split_at(text.len() / 2);
                match dialect {
                    Dialect::OpenAi | Dialect::DeepSeek => {
                        items.push(tool_chunk(
                            json!([{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]),
                            None,
                        ));
                        items.push(tool_chunk(json!([{"index": i, "function": {"arguments": a}}]), None));
                        items.push(tool_chunk(json!([{"index": i, "function": {"arguments": b}}]), None));
                    }
                    Dialect::Ollama => items.push(tool_chunk(
                        json!([{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": text}}]),
                        None,
                    )),
                    Dialect::Qwen => {
                        items.push(tool_chunk(
                            json!([{"index": i, "id": id, "type": "function", "function": {"name": name}}]),
                            None,
                        ));
                        items.push(tool_chunk(json!([{"index": i, "id": id, "function": {"arguments": a}}]), None));
                        items.push(tool_chunk(json!([{"index": i, "function": {"arguments": b}}]), None));
                    }
                }
            }
            let finish = if dialect == Dialect::Ollama {
                "stop"
            } else {
                "tool_calls"
            };
            (5 * calls.len(), finish)
        }
    };
    items.push(chunk(json!({}), Some(finish)));
    items.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-sim", "choices": [], "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
    ));
    items.push("data: [DONE]\n\n".to_owned());
    items
}

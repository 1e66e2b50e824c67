//! What the simulator can be told to do wrong (its fault knobs) and what its model
//! endpoint records; below the state that holds them and the routes that obey them.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// A failure the card instance APIs can be told to produce: the ones DingTalk AI
/// bridges hit in the field (ai-assistant.md 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardFault {
    /// Create answers 400 `param.templateUnpublished`.
    TemplateUnpublished,
    /// Delivering into a 1:1 chat (`IM_ROBOT`) answers 400 `spaceId is illegal`.
    IllegalSpace,
    /// Streaming answers 403, as under throttling.
    StreamingThrottled,
    /// Streaming answers 500 `unknownError` (no streaming permission).
    StreamingUnknown,
}

/// A failure the model endpoint can be told to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFault {
    /// 429 with `Retry-After: 7` and an OpenAI-style error body.
    RateLimited,
    /// 500 with an OpenAI-style error body.
    ServerError,
    /// The stream stops halfway through the answer, without `[DONE]`, by breaking the
    /// connection.
    BreakHalfway,
    /// Nothing (not even headers) for this long, then the normal answer.
    SlowFirstByte(Duration),
}

/// How the model endpoint streams tool calls: the dialects real servers speak
/// (ai-agents.md 3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Each call opens with id and name at its own `index`, arguments follow in
    /// pieces; `finish_reason: "tool_calls"`.
    #[default]
    OpenAi,
    /// Every call whole in one delta, all at `index: 0`; `finish_reason: "stop"`.
    Ollama,
    /// `{id, name}` and `{id, arguments}` in separate chunks; one call only unless the
    /// request sets `parallel_tool_calls: true`.
    Qwen,
    /// Thinking mode: `reasoning_content` before every answer, and HTTP 400 unless
    /// every earlier assistant tool turn sends its `reasoning_content` back.
    DeepSeek,
}

/// What the model answers to one request that offers tools (a test's script).
#[derive(Debug, Clone, PartialEq)]
pub enum ModelTurn {
    /// Call these functions (model-facing name, arguments), in parallel.
    Call(Vec<(String, Value)>),
    /// Answer with this text.
    Text(String),
}

/// One request the model endpoint received.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRequest {
    /// The JSON body.
    pub body: Value,
    /// Whether it carried the right bearer key.
    pub authorized: bool,
}

impl ModelRequest {
    /// The `messages` as (role, content) pairs.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or_default().to_owned(),
                            m["content"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the model endpoint is set to do.
#[derive(Debug, Clone)]
pub(crate) struct ModelState {
    pub chunk_delay: Duration,
    pub fault: Option<ModelFault>,
    pub requests: Vec<ModelRequest>,
    pub dialect: Dialect,
    pub script: std::collections::VecDeque<ModelTurn>,
}

impl Default for ModelState {
    fn default() -> Self {
        Self {
            chunk_delay: Duration::from_millis(10),
            fault: None,
            requests: Vec::new(),
            dialect: Dialect::default(),
            script: std::collections::VecDeque::new(),
        }
    }
}

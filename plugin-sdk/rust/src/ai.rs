//! AI assistants in a few lines: an OpenAI-compatible streaming chat client
//! ([`ChatClient`]), an AI card that types the answer out and always ends in a final
//! state ([`AiCard`]), conversation memory in key-value state ([`Memory`]), and
//! [`answer`], which ties them together the way the field taught (ai-assistant.md):
//!
//! - the card is created and delivered before the model is called, so the user sees
//!   "thinking" at once;
//! - at most one streaming update is in flight (a host call), the newest text wins
//!   (`isFull`), and updates are at least an interval apart, so a fast model does not
//!   burn the app's streaming quota;
//! - one final update carries the whole answer with `isFinalize`;
//! - if the card cannot be created, delivered or streamed, the whole answer goes once
//!   as a markdown reply instead;
//! - if the model fails, the card shows the failed state and the user gets one short
//!   text saying what went wrong. Nothing is left "generating".
//!
//! ```no_run
//! use std::time::Duration;
//! use dingtalk_bot_sdk::ai::{self, AiCard, ChatClient, Memory, MemoryScope, Message};
//! # fn handle(msg: &dingtalk_bot_sdk::ChatbotMessage) -> Result<(), dingtalk_bot_sdk::Error> {
//! let memory = Memory::new(msg, MemoryScope::Sender, 10, Duration::from_secs(1800));
//! let mut messages = vec![Message::system("You are a helpful assistant.")];
//! messages.extend(memory.load()?);
//! messages.push(Message::user(msg.text_content().unwrap_or_default()));
//! let client = ChatClient::new("https://api.deepseek.com/v1", "deepseek-chat");
//! let card = AiCard::start(msg, ai::AI_CARD_TEMPLATE);
//! if let Some(text) = ai::answer(msg, card, &client, &messages, ai::Pacing::default())? {
//!     memory.remember(msg.text_content().unwrap_or_default(), &text)?;
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cards::{self, CardInstance, StreamMode};
use crate::http::{Body, Read, Request, SseParser};
use crate::{ChatbotMessage, Error, kv, log, reply};

pub mod agent;

/// DingTalk's AI markdown card template (protocol.md D.7).
pub const AI_CARD_TEMPLATE: &str = "382e4302-551d-4880-bf29-a30acfab2e71.schema";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A system prompt.
    pub fn system(content: &str) -> Self {
        Self::new("system", content)
    }

    /// What the user said.
    pub fn user(content: &str) -> Self {
        Self::new("user", content)
    }

    /// What the assistant answered.
    pub fn assistant(content: &str) -> Self {
        Self::new("assistant", content)
    }

    fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// Why the model gave no (whole) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The server answered with an error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's `error.message`, or the start of its body.
        message: String,
        /// Seconds from `Retry-After`, when given.
        retry_after: Option<u64>,
    },
    /// No answer in time.
    Timeout(String),
    /// The stream ended or broke before `[DONE]`; what arrived is kept.
    Broken {
        /// The answer so far.
        partial: String,
        /// What went wrong.
        reason: String,
    },
    /// The request could not be sent (refused by the host, network).
    Request(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Status { status: 401, .. } => {
                write!(f, "the model service refused the API key (401)")
            }
            ModelError::Status {
                status: 429,
                retry_after,
                ..
            } => match retry_after {
                Some(s) => write!(f, "the model service is busy (429); try again in {s} s"),
                None => write!(f, "the model service is busy (429); try again shortly"),
            },
            ModelError::Status {
                status, message, ..
            } if *status >= 500 => {
                write!(f, "the model service failed ({status}): {message}")
            }
            ModelError::Status {
                status, message, ..
            } => write!(
                f,
                "the model service refused the request ({status}): {message}"
            ),
            ModelError::Timeout(what) => {
                write!(f, "the model service did not answer in time ({what})")
            }
            ModelError::Broken { reason, .. } => {
                write!(f, "the model's answer broke off ({reason})")
            }
            ModelError::Request(why) => write!(f, "the model service could not be reached ({why})"),
        }
    }
}

/// An OpenAI-compatible chat-completions client (OpenAI, DeepSeek, Qwen's compatible
/// mode, Moonshot, a local Ollama, vLLM). The API key is not here: the host adds it
/// (`http_headers` with a secret), so the plugin never holds it.
#[derive(Debug, Clone)]
pub struct ChatClient {
    base_url: String,
    model: String,
    first_byte_timeout: Option<Duration>,
}

impl ChatClient {
    /// A client for `base_url` (e.g. `https://api.openai.com/v1`) and `model`.
    pub fn new(base_url: &str, model: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            first_byte_timeout: None,
        }
    }

    /// Wait at most this long for the first byte (the host's limit still applies).
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// Start a streamed completion of `messages`.
    pub fn stream(&self, messages: &[Message]) -> Result<ChatStream, ModelError> {
        self.stream_body(json!({"model": self.model, "stream": true, "messages": messages}))
    }

    /// Start a streamed completion of `messages` (OpenAI's shape, tool turns
    /// included) offering `tools` (OpenAI's `tools` entries), asking for usage in the
    /// stream and for parallel calls.
    pub fn stream_with_tools(
        &self,
        messages: &[Value],
        tools: &[Value],
    ) -> Result<ChatStream, ModelError> {
        let mut body = json!({
            "model": self.model,
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": messages,
        });
        if !tools.is_empty() {
            body["tools"] = json!(tools);
            body["parallel_tool_calls"] = json!(true);
        }
        self.stream_body(body)
    }

    fn stream_body(&self, body: Value) -> Result<ChatStream, ModelError> {
        let mut request = Request::post(&format!("{}/chat/completions", self.base_url))
            .header("accept", "text/event-stream")
            .json(&body)
            .map_err(|e| ModelError::Request(e.reason()))?;
        if let Some(t) = self.first_byte_timeout {
            request = request.first_byte_timeout(t);
        }
        let response = request.send().map_err(|e| match e {
            Error::Timeout(what) => ModelError::Timeout(what),
            other => ModelError::Request(other.reason()),
        })?;
        let status = response.status();
        if status != 200 {
            let retry_after = response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok());
            let text = response.text().unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(ModelError::Status {
                status,
                message,
                retry_after,
            });
        }
        Ok(ChatStream {
            body: response.into_body(),
            parser: SseParser::default(),
            answer: Answer::default(),
        })
    }
}

/// What [`ChatStream::poll`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The answer grew.
    Grew,
    /// Nothing new in the time given.
    Idle,
    /// The answer is complete (`[DONE]`).
    Done,
}

/// A completion being streamed; its text grows as [`poll`](ChatStream::poll) reads.
#[derive(Debug)]
pub struct ChatStream {
    body: Body,
    parser: SseParser,
    answer: Answer,
}

impl ChatStream {
    /// The answer so far.
    pub fn text(&self) -> &str {
        &self.answer.text
    }

    /// The reasoning so far (`reasoning_content`), and whether the server sent the
    /// field at all (DeepSeek wants it back, even empty, on tool turns).
    pub fn reasoning(&self) -> (&str, bool) {
        (&self.answer.reasoning, self.answer.saw_reasoning)
    }

    /// The tool calls the model asked for, in order (complete once the stream is).
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.answer.calls
    }

    /// The tokens the stream reported using (`usage.total_tokens`), if it did.
    pub fn usage(&self) -> Option<u64> {
        self.answer.usage
    }

    /// Read what arrives within `wait` (all of it, when several events are already
    /// there), and say whether the answer grew, stayed, or is complete.
    pub fn poll(&mut self, wait: Duration) -> Result<Progress, ModelError> {
        if self.answer.done {
            return Ok(Progress::Done);
        }
        let answer = &mut self.answer;
        let broken = |answer: &Answer, reason: String| ModelError::Broken {
            partial: answer.text.clone(),
            reason,
        };
        let mut grew = false;
        let mut wait = wait;
        loop {
            match self.body.read_within(wait) {
                Ok(Read::Data(bytes)) => {
                    for event in self.parser.feed(&bytes) {
                        grew |= answer.apply(&event.data).map_err(|r| broken(answer, r))?;
                        if answer.done {
                            return Ok(Progress::Done);
                        }
                    }
                    // Take whatever else is already there before reporting.
                    wait = Duration::ZERO;
                }
                Ok(Read::Idle) => return Ok(if grew { Progress::Grew } else { Progress::Idle }),
                Ok(Read::End) => {
                    if let Some(event) = self.parser.finish() {
                        answer.apply(&event.data).map_err(|r| broken(answer, r))?;
                    }
                    if answer.done {
                        return Ok(Progress::Done);
                    }
                    return Err(broken(answer, "the stream ended without [DONE]".into()));
                }
                Err(e) => return Err(broken(answer, e.reason())),
            }
        }
    }
}

/// One tool call a model asked for, accumulated from its deltas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id (`tool_call_id` of the answer); made up when the server sent none.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// Its arguments, as the model wrote them (JSON text, not yet checked).
    pub arguments: String,
}

/// The answer a stream's events spell out (conformance/chat-stream.json and
/// conformance/tool-stream.json).
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) done: bool,
    pub(crate) reasoning: String,
    pub(crate) saw_reasoning: bool,
    pub(crate) calls: Vec<ToolCall>,
    /// The `index` each call came under (a reused index with a new id is a new call).
    indexes: Vec<u64>,
    pub(crate) usage: Option<u64>,
}

impl Answer {
    /// Apply one event's data; whether the text grew.
    pub(crate) fn apply(&mut self, data: &str) -> Result<bool, String> {
        if data.trim() == "[DONE]" {
            self.done = true;
            self.finish_calls();
            return Ok(false);
        }
        let event: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => return Err(format!("an event is not JSON: {e}")),
        };
        if let Some(message) = event.pointer("/error/message").and_then(Value::as_str) {
            return Err(message.to_owned());
        }
        if let Some(total) = event.pointer("/usage/total_tokens").and_then(Value::as_u64) {
            self.usage = Some(total);
        }
        let delta = event.pointer("/choices/0/delta");
        if let Some(reasoning) = delta.and_then(|d| d.get("reasoning_content")) {
            self.saw_reasoning = true;
            if let Some(piece) = reasoning.as_str() {
                self.reasoning.push_str(piece);
            }
        }
        if let Some(calls) = delta
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array)
        {
            for call in calls {
                self.add_call_delta(call);
            }
        }
        // `reasoning_content` (thinking models) is not the answer; `content` may be
        // absent or null.
        match event
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
        {
            Some(piece) if !piece.is_empty() => {
                self.text.push_str(piece);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl Answer {
    /// Fold one `tool_calls[]` delta in, by `index`: a delta whose `id` differs from
    /// the id already at its index starts a new call (Ollama reuses index 0 for
    /// parallel calls); a name is kept once set (a replayed opener changes nothing);
    /// string arguments are appended, object arguments (Ollama's native shape) taken
    /// whole.
    fn add_call_delta(&mut self, delta: &Value) {
        let index = delta.get("index").and_then(Value::as_u64).unwrap_or(0);
        let id = delta
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let at = self
            .indexes
            .iter()
            .rposition(|i| *i == index)
            .filter(|&at| {
                id.is_none_or(|id| self.calls[at].id.is_empty() || self.calls[at].id == id)
            });
        let at = match at {
            Some(at) => at,
            None => {
                self.calls.push(ToolCall::default());
                self.indexes.push(index);
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at];
        if let Some(id) = id {
            call.id = id.to_owned();
        }
        let function = delta.get("function");
        if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str)
            && call.name.is_empty()
        {
            call.name = name.to_owned();
        }
        match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(piece)) => call.arguments.push_str(piece),
            Some(object @ Value::Object(_)) => call.arguments = object.to_string(),
            _ => {}
        }
    }

    /// The calls, each with an id (`call_<n>` when the server gave none).
    pub(crate) fn finish_calls(&mut self) {
        for (n, call) in self.calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("call_{n}");
            }
        }
    }
}

/// How an [`AiCard`] is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CardState {
    /// Created and delivered; streaming has not begun.
    Shown,
    /// Streaming.
    Streaming,
    /// Gone wrong: the answer goes as markdown instead.
    Broken(String),
}

/// An AI card showing one answer as it is written.
#[derive(Debug)]
pub struct AiCard {
    out_track_id: String,
    delivered: bool,
    state: CardState,
    last_update: Option<Instant>,
    shown: String,
    updates: u32,
}

/// How an answer reached the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// In the AI card.
    Card,
    /// As a markdown reply, because the card failed.
    Markdown,
}

impl AiCard {
    /// Create the card in the message's conversation, "thinking", and show it. If
    /// DingTalk refuses (template not published, illegal space, ...) the card is
    /// marked broken and [`AiCard::finish`] replies with markdown instead.
    pub fn start(msg: &ChatbotMessage, template_id: &str) -> Self {
        let out_track_id = format!("ai-{}", msg.msg_id);
        let params = json!({"flowStatus": "1", "msgContent": "", "staticMsgContent": ""});
        let state = match cards::create_and_deliver(&CardInstance::new(
            template_id,
            &out_track_id,
            &params,
        )) {
            Ok(()) => CardState::Shown,
            Err(e) => broken("create and deliver", &e),
        };
        Self {
            out_track_id,
            delivered: state == CardState::Shown,
            state,
            last_update: None,
            shown: String::new(),
            updates: 0,
        }
    }

    /// A card shown by an earlier frame (`start`ed there), to go on streaming into:
    /// an agent's turn resumed after an approval.
    pub fn resume(out_track_id: &str) -> Self {
        Self {
            out_track_id: out_track_id.to_owned(),
            delivered: true,
            state: CardState::Streaming,
            last_update: None,
            shown: String::new(),
            updates: 0,
        }
    }

    /// The card's id (`outTrackId`).
    pub fn out_track_id(&self) -> &str {
        &self.out_track_id
    }

    /// Whether the card still works (the answer will be shown in it).
    pub fn is_live(&self) -> bool {
        !matches!(self.state, CardState::Broken(_))
    }

    /// Streaming updates sent so far.
    pub fn updates(&self) -> u32 {
        self.updates
    }

    /// How long until an update may be sent, `interval` after the last one; zero
    /// when one may go now.
    pub fn next_update_in(&self, interval: Duration) -> Duration {
        self.last_update
            .map_or(Duration::ZERO, |t| interval.saturating_sub(t.elapsed()))
    }

    /// Show `text` (the whole answer so far) if it changed; a failure breaks the
    /// card (the answer then goes as markdown).
    pub fn update(&mut self, text: &str) {
        if !self.is_live() || text == self.shown {
            return;
        }
        if self.state == CardState::Shown {
            let params = json!({"msgContent": text, "staticMsgContent": "", "flowStatus": "2"});
            if let Err(e) = cards::update_instance(&self.out_track_id, &params, None, true) {
                self.state = broken("update", &e);
                return;
            }
            self.state = CardState::Streaming;
        }
        let mode = StreamMode {
            full: true,
            ..StreamMode::default()
        };
        match cards::stream_instance(&self.out_track_id, "msgContent", text, mode) {
            Ok(()) => {
                self.shown = text.to_owned();
                self.updates += 1;
                self.last_update = Some(Instant::now());
            }
            Err(e) => self.state = broken("streaming", &e),
        }
    }

    /// Show the whole answer as final: one streaming update with `isFinalize`, then
    /// the finished state. If the card is broken, or breaks now, reply with the
    /// answer as markdown instead (once).
    pub fn finish(self, msg: &ChatbotMessage, answer: &str) -> Result<Delivered, Error> {
        self.finish_for(Some(msg), answer)
    }

    /// [`AiCard::finish`], where the markdown fallback needs the message being
    /// answered; without one (a card callback frame, which has no webhook) a broken
    /// card is only logged.
    pub fn finish_for(
        mut self,
        msg: Option<&ChatbotMessage>,
        answer: &str,
    ) -> Result<Delivered, Error> {
        if self.is_live() {
            let mode = StreamMode {
                full: true,
                finalize: true,
                failed: false,
            };
            let done = cards::stream_instance(&self.out_track_id, "msgContent", answer, mode)
                .and_then(|()| {
                    self.updates += 1;
                    let params = json!({"msgContent": answer, "flowStatus": "3"});
                    cards::update_instance(&self.out_track_id, &params, None, true)
                });
            match done {
                Ok(()) => return Ok(Delivered::Card),
                Err(e) => self.state = broken("final update", &e),
            }
        }
        self.mark_failed();
        match msg {
            Some(msg) => reply::reply_markdown(msg, &title(answer), answer)?,
            None => log::warn(
                "the answer could not be shown: the card broke and there is no message to reply to",
            ),
        }
        Ok(Delivered::Markdown)
    }

    /// The model failed: show the failed state (never leave "generating") and tell
    /// the user, in one short text, what went wrong.
    pub fn fail(self, msg: &ChatbotMessage, what_went_wrong: &str) -> Result<(), Error> {
        self.fail_for(Some(msg), what_went_wrong)
    }

    /// [`AiCard::fail`], telling `msg`'s sender when there is a message to reply to.
    pub fn fail_for(
        mut self,
        msg: Option<&ChatbotMessage>,
        what_went_wrong: &str,
    ) -> Result<(), Error> {
        if self.is_live() {
            let mode = StreamMode {
                full: true,
                finalize: true,
                failed: true,
            };
            let shown = if self.shown.is_empty() {
                what_went_wrong.to_owned()
            } else {
                self.shown.clone()
            };
            if let Err(e) = cards::stream_instance(&self.out_track_id, "msgContent", &shown, mode) {
                self.state = broken("failed state", &e);
            }
        }
        self.mark_failed();
        match msg {
            Some(msg) => reply::reply_text(msg, what_went_wrong),
            None => Ok(()),
        }
    }

    /// Best effort: a card that was shown must not stay "generating".
    fn mark_failed(&self) {
        if self.delivered {
            let failed = json!({"flowStatus": "5"});
            let _ = cards::update_instance(&self.out_track_id, &failed, None, true);
        }
    }
}

fn broken(step: &str, e: &Error) -> CardState {
    log::warn(&format!(
        "AI card {step} failed, the answer will go as markdown: {}",
        e.reason()
    ));
    CardState::Broken(e.reason())
}

/// How [`answer`] paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The least time between two card updates.
    pub interval: Duration,
    /// When to give up on the model and show the failed state, counted from the
    /// start: keep it under the host's frame timeout (`timeout_ms`), so the card is
    /// finished by the plugin rather than left "generating" when the frame is killed.
    pub deadline: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(300),
            deadline: Duration::from_secs(25),
        }
    }
}

/// Stream the model's answer to `messages` into `card`, at most one update per
/// interval; finish the card (or reply with markdown if it broke), or on a model
/// failure show the failed state and tell the user. The whole answer when the model
/// gave one.
pub fn answer(
    msg: &ChatbotMessage,
    mut card: AiCard,
    client: &ChatClient,
    messages: &[Message],
    pacing: Pacing,
) -> Result<Option<String>, Error> {
    let started = Instant::now();
    let failed = |card: AiCard, e: ModelError| -> Result<Option<String>, Error> {
        log::warn(&format!("model failed: {e}"));
        card.fail(msg, &format!("Sorry, {e}."))?;
        Ok(None)
    };
    let mut stream = match client.stream(messages) {
        Ok(s) => s,
        Err(e) => return failed(card, e),
    };
    loop {
        let left = pacing.deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            let waited = format!("no complete answer within {:?}", pacing.deadline);
            return failed(card, ModelError::Timeout(waited));
        }
        // Wait for more text, but not past the moment the card may show what is new.
        let pending = card.is_live() && stream.text() != card.shown;
        let wait = if pending {
            card.next_update_in(pacing.interval)
        } else {
            Duration::from_secs(1)
        };
        match stream.poll(wait.min(left)) {
            Ok(Progress::Done) => break,
            Ok(Progress::Grew | Progress::Idle) => {
                if card.next_update_in(pacing.interval).is_zero() {
                    card.update(stream.text());
                }
            }
            Err(e) => return failed(card, e),
        }
    }
    let text = stream.text().to_owned();
    card.finish(msg, &text)?;
    Ok(Some(text))
}

/// A markdown reply's title (what notifications show): the answer's first words.
fn title(answer: &str) -> String {
    let first: String = answer.chars().take(20).collect();
    if first.trim().is_empty() {
        "Answer".to_owned()
    } else {
        first
    }
}

/// Whose memory a message belongs to in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryScope {
    /// Each member of a group has their own (1:1 chats are per conversation anyway).
    Sender,
    /// A group shares one.
    Conversation,
}

/// The last turns of a conversation, in key-value state, forgotten after a quiet
/// while.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    key: String,
    turns: usize,
    ttl: Duration,
}

impl Memory {
    /// The memory `msg` belongs to: per 1:1 chat; in groups per member, or shared
    /// with [`MemoryScope::Conversation`]. Keeps `turns` user/assistant pairs and
    /// expires after `ttl` without a new turn.
    pub fn new(msg: &ChatbotMessage, scope: MemoryScope, turns: usize, ttl: Duration) -> Self {
        let sender = msg
            .sender_staff_id
            .clone()
            .unwrap_or_else(|| msg.sender_id.clone());
        let key = match (msg.is_group(), scope) {
            (true, MemoryScope::Sender) => {
                format!("memory:{}:{}", msg.conversation_id, sender)
            }
            _ => format!("memory:{}", msg.conversation_id),
        };
        Self { key, turns, ttl }
    }

    /// The remembered messages, oldest first.
    pub fn load(&self) -> Result<Vec<Message>, Error> {
        Ok(kv::get_json(&self.key)?.unwrap_or_default())
    }

    /// Add one exchange, dropping the oldest past the limit.
    pub fn remember(&self, user: &str, assistant: &str) -> Result<(), Error> {
        let keep = self.turns * 2;
        let remember = |old: Option<Vec<Message>>| {
            let mut all = old.unwrap_or_default();
            all.push(Message::user(user));
            all.push(Message::assistant(assistant));
            let extra = all.len().saturating_sub(keep);
            all.drain(..extra);
            all
        };
        kv::update(&self.key, remember, Some(self.ttl)).map(drop)
    }

    /// Store the question before the model is called, so a follow-up sees it even
    /// while its answer is still being written.
    pub fn ask(&self, user: &str) -> Result<(), Error> {
        self.push(Message::user(user))
    }

    /// Store the answer to the last question.
    pub fn answered(&self, assistant: &str) -> Result<(), Error> {
        self.push(Message::assistant(assistant))
    }

    fn push(&self, message: Message) -> Result<(), Error> {
        let keep = self.turns * 2;
        let push = |old: Option<Vec<Message>>| {
            let mut all = old.unwrap_or_default();
            all.push(message.clone());
            let extra = all.len().saturating_sub(keep);
            all.drain(..extra);
            all
        };
        kv::update(&self.key, push, Some(self.ttl)).map(drop)
    }

    /// Forget everything; whether there was anything.
    pub fn clear(&self) -> Result<bool, Error> {
        kv::delete(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_read_as_one_short_sentence() {
        let busy = ModelError::Status {
            status: 429,
            message: "Rate limit".into(),
            retry_after: Some(7),
        };
        assert_eq!(
            busy.to_string(),
            "the model service is busy (429); try again in 7 s"
        );
        let key = ModelError::Status {
            status: 401,
            message: "Incorrect API key".into(),
            retry_after: None,
        };
        assert!(key.to_string().contains("API key"));
        let broke = ModelError::Broken {
            partial: "half".into(),
            reason: "the stream ended without [DONE]".into(),
        };
        assert!(broke.to_string().contains("broke off"));
    }
}

//! Which of a topic's plugins gets a chatbot message, by the operator's routing rules
//! (`commands`, `match`, `fallback`; see `runtime::capability::routing`).
//!
//! Rules apply to chatbot messages (`/v1.0/im/bot/messages/get` and the delegate
//! topic) once any of the topic's plugins has one; without any, every subscriber gets
//! every message as before. With rules, exactly one plugin gets a message, tried in
//! this order: the first plugin (load order) whose command starts the text (it sees
//! the text after the command), then the first whose `match` finds the text, then the
//! fallback; a message none of them takes goes to nobody (ACKed, logged). Text is the
//! message's `text.content` with leading whitespace trimmed (DingTalk already removes
//! the @ mention in groups); other message kinds have no text and go to the fallback.

use std::sync::Arc;

use serde_json::Value;

use crate::runtime::Plugin;
use crate::stream::topic;

/// Where a frame goes.
#[derive(Debug)]
pub(crate) enum Route {
    /// To every subscriber (no rules, or not a chatbot message).
    Everyone,
    /// To this plugin only; with the text to hand it instead of the message's own
    /// (a command's remainder), as the new frame data.
    One(Arc<Plugin>, Option<String>),
    /// To nobody: no rule matched and no plugin is the fallback.
    Nobody,
}

/// Route a frame on `topic` with `data` and the `text` dispatch decoded from it
/// among `plugins` (the topic's subscribers). Only a command's match reads `data`
/// again, to hand the plugin the text after the command.
pub(crate) fn route(plugins: &[Arc<Plugin>], topic: &str, text: Option<&str>, data: &str) -> Route {
    if topic != topic::CHATBOT && topic != topic::DELEGATE {
        return Route::Everyone;
    }
    if plugins.iter().all(|p| p.grants().routing.is_empty()) {
        return Route::Everyone;
    }
    if let Some(text) = text {
        for p in plugins {
            if let Some(rest) = p.grants().routing.command(text) {
                let mut message: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                message["text"]["content"] = Value::String(rest.to_owned());
                return Route::One(p.clone(), Some(message.to_string()));
            }
        }
        if let Some(p) = plugins.iter().find(|p| p.grants().routing.matches(text)) {
            return Route::One(p.clone(), None);
        }
    }
    match plugins.iter().find(|p| p.grants().routing.fallback) {
        Some(p) => Route::One(p.clone(), None),
        None => Route::Nobody,
    }
}

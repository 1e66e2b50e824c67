//! Events (EVENT frames, topic `*`): the headers that identify them, and the body.
//!
//! ```no_run
//! use dingtalk_bot_sdk::{Error, Event, Outcome, Plugin, log};
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("audit", "0.1.0").on_event(audit)
//! }
//!
//! fn audit(event: Event) -> Result<Outcome, Error> {
//!     log::info(&format!("{} {}", event.event_type, event.data));
//!     // `Outcome::Later(..)` would ask DingTalk to push it again.
//!     Ok(Outcome::Done)
//! }
//! # fn main() {}
//! ```

use serde_json::Value;

use crate::{Error, Frame};

/// One event, as DingTalk pushed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// e.g. `user_add_org`, `chat_update_title`.
    pub event_type: String,
    /// Unique id; the key for de-duplicating re-pushed events.
    pub event_id: String,
    /// The organisation it happened in.
    pub corp_id: String,
    /// When it happened, epoch milliseconds.
    pub born_time: i64,
    /// The event body; its fields depend on `event_type` (an empty body is `{}`).
    pub data: Value,
}

impl Event {
    /// Read an event from an EVENT frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, Error> {
        let header = |k: &str| frame.header(k).unwrap_or_default().to_owned();
        Ok(Self {
            event_type: header("eventType"),
            event_id: header("eventId"),
            corp_id: header("eventCorpId"),
            born_time: header("eventBornTime").parse().unwrap_or(0),
            data: crate::frame::json_or_empty(&frame.data)?,
        })
    }
}

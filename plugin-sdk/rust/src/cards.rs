//! Interactive cards: StandardCards sent to the conversation of the message being
//! handled, card instances of advanced templates, and the card callbacks DingTalk
//! pushes when a user presses a button.
//!
//! Answering a card callback with new card data:
//!
//! ```no_run
//! use dingtalk_bot_sdk::cards::{self, CardCallback, CardUpdate};
//! use dingtalk_bot_sdk::{Error, Outcome, Plugin};
//! use serde_json::Value;
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("likes", "0.1.0").on_callback(cards::CALLBACK_TOPIC, pressed)
//! }
//!
//! fn pressed(data: Value) -> Result<Outcome, Error> {
//!     let cb = CardCallback::from_data(&data)?;
//!     let liked = cb.params.get("action").and_then(|a| a.as_str()) == Some("like");
//!     Ok(CardUpdate::new()
//!         .card_param("status", if liked { "liked" } else { "neutral" })
//!         .private_param("likedByMe", liked)
//!         .into_outcome())
//! }
//! # fn main() {}
//! ```
//!
//! Sending a StandardCard in answer to a message, then updating it:
//!
//! ```no_run
//! # fn demo() -> Result<(), dingtalk_bot_sdk::Error> {
//! use dingtalk_bot_sdk::cards;
//! let mut c = serde_json::json!({"header": {"title": {"type": "text", "text": "Build"}},
//!     "contents": [{"type": "text", "text": "running…", "id": "t1"}]});
//! cards::send_standard("build-42", &c)?;
//! c["contents"][0]["text"] = "passed".into();
//! cards::update_standard("build-42", &c)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::Error;
use crate::bindings::dingtalk::bot::cards as wit;

/// Send a StandardCard (its JSON object) to the conversation of the message being
/// handled; returns DingTalk's processQueryKey. Keep `card_biz_id` to update it.
pub fn send_standard(card_biz_id: &str, card: &Value) -> Result<String, Error> {
    wit::send_standard(card_biz_id, &card.to_string())
}

/// Replace the data of a StandardCard sent earlier.
pub fn update_standard(card_biz_id: &str, card: &Value) -> Result<(), Error> {
    wit::update_standard(card_biz_id, &card.to_string())
}

pub use wit::CardInstance;

impl CardInstance {
    /// An instance of `template_id` called `out_track_id` with variables `params`
    /// (any JSON object; non-string values are sent JSON-encoded). Callbacks come
    /// over the Stream connection.
    pub fn new(template_id: &str, out_track_id: &str, params: &Value) -> Self {
        Self {
            template_id: template_id.to_owned(),
            out_track_id: out_track_id.to_owned(),
            params: params.to_string(),
            callback_route_key: None,
        }
    }
}

/// Create a card instance (not yet shown).
pub fn create_instance(card: &CardInstance) -> Result<(), Error> {
    wit::create_instance(card)
}

/// Show a created instance in the conversation of the message being handled.
pub fn deliver_instance(out_track_id: &str) -> Result<(), Error> {
    wit::deliver_instance(out_track_id)
}

/// Create an instance and show it in the conversation of the message being handled.
pub fn create_and_deliver(card: &CardInstance) -> Result<(), Error> {
    wit::create_and_deliver(card)
}

/// Update an instance's variables (only the given keys with `by_key`), and
/// optionally per-user private variables (`{"<userId>": {..}}`).
pub fn update_instance(
    out_track_id: &str,
    params: &Value,
    private: Option<&Value>,
    by_key: bool,
) -> Result<(), Error> {
    let private = private.map(Value::to_string);
    wit::update_instance(
        out_track_id,
        &params.to_string(),
        private.as_deref(),
        by_key,
    )
}

/// How a streaming update applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamMode {
    /// Replace the variable instead of appending.
    pub full: bool,
    /// End the stream.
    pub finalize: bool,
    /// Show the failed state.
    pub failed: bool,
}

/// Stream `content` into variable `key` of an AI card instance.
pub fn stream_instance(
    out_track_id: &str,
    key: &str,
    content: &str,
    mode: StreamMode,
) -> Result<(), Error> {
    let mut flags = wit::StreamMode::empty();
    flags.set(wit::StreamMode::FULL, mode.full);
    flags.set(wit::StreamMode::FINALIZE, mode.finalize);
    flags.set(wit::StreamMode::FAILED, mode.failed);
    wit::stream_instance(out_track_id, key, content, flags)
}

/// The topic of card callbacks (a user pressed a button of a card).
pub const CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// The `data` of a card callback, its JSON-string fields decoded and the pressed
/// action's ids and parameters lifted out of `content.cardPrivateData`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardCallback {
    /// The card instance's outTrackId.
    pub out_track_id: String,
    /// Who pressed.
    pub user_id: String,
    /// Their organisation.
    pub corp_id: String,
    /// e.g. `actionCallback` (the `type` field; `type` is a Rust keyword).
    pub callback_type: String,
    /// e.g. `im`.
    pub space_type: String,
    /// The conversation.
    pub space_id: String,
    /// Ids of the components pressed.
    pub action_ids: Vec<String>,
    /// Their parameters.
    pub params: Map<String, Value>,
    /// The `extension` JSON string, decoded (`{}` when empty).
    pub extension: Value,
    /// Every other field, as sent.
    pub extra: Map<String, Value>,
}

impl CardCallback {
    /// Decode a callback's data (a JSON object).
    pub fn from_data(data: &Value) -> Result<Self, Error> {
        let Value::Object(fields) = data else {
            return Err(Error::InvalidArgument(
                "a card callback is a JSON object".into(),
            ));
        };
        let mut extra = fields.clone();
        let mut text = |key: &str| match extra.remove(key) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let (out_track_id, user_id, corp_id) = (text("outTrackId"), text("userId"), text("corpId"));
        let (callback_type, space_type, space_id) =
            (text("type"), text("spaceType"), text("spaceId"));
        let content = json_field("content", extra.remove("content"))?;
        let extension = json_field("extension", extra.remove("extension"))?;
        let private = content.get("cardPrivateData");
        let action_ids = private
            .and_then(|p| p.get("actionIds"))
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let params = private
            .and_then(|p| p.get("params"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            out_track_id,
            user_id,
            corp_id,
            callback_type,
            space_type,
            space_id,
            action_ids,
            params,
            extension,
            extra,
        })
    }
}

/// A field DingTalk sends as a JSON string (or, from some senders, already parsed);
/// empty or missing is `{}`.
fn json_field(name: &str, value: Option<Value>) -> Result<Value, Error> {
    match value {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Value::Object(Map::new())),
        Some(Value::String(s)) => serde_json::from_str(&s)
            .map_err(|e| Error::InvalidArgument(format!("card callback {name} is not JSON: {e}"))),
        Some(other) => Ok(other),
    }
}

/// The answer to a card callback: new public card data and private data for the
/// user who pressed. Every value is sent as a string, as DingTalk requires.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardUpdate {
    card: BTreeMap<String, String>,
    private: BTreeMap<String, String>,
}

impl CardUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a public card variable.
    pub fn card_param(mut self, key: &str, value: impl ToString) -> Self {
        self.card.insert(key.to_owned(), value.to_string());
        self
    }

    /// Set a variable only the pressing user sees.
    pub fn private_param(mut self, key: &str, value: impl ToString) -> Self {
        self.private.insert(key.to_owned(), value.to_string());
        self
    }

    /// The JSON DingTalk expects in the ACK's `response`.
    pub fn to_json(&self) -> Value {
        json!({
            "cardUpdateOptions": {"updateCardDataByKey": true, "updatePrivateDataByKey": true},
            "cardData": {"cardParamMap": self.card},
            "userPrivateData": {"cardParamMap": self.private},
        })
    }

    /// As the handler's outcome.
    pub fn into_outcome(self) -> crate::Outcome {
        crate::Outcome::Response(self.to_json().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_updates_send_every_value_as_a_string() {
        let u = CardUpdate::new()
            .card_param("count", 3)
            .private_param("liked", true);
        assert_eq!(u.to_json()["cardData"]["cardParamMap"]["count"], "3");
        assert_eq!(
            u.to_json()["userPrivateData"]["cardParamMap"]["liked"],
            "true"
        );
    }
}

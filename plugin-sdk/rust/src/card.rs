//! Interactive cards: StandardCards sent to the conversation of the message being
//! handled, card instances of advanced templates, and the card callbacks DingTalk
//! pushes when a user presses a button.
//!
//! Answering a card callback with new card data:
//!
//! ```no_run
//! use dingtalk_bot_sdk::card::{CardCallback, CardUpdate};
//! use dingtalk_bot_sdk::{Description, Error, Frame, Outcome, Plugin};
//!
//! struct Likes;
//!
//! impl Plugin for Likes {
//!     fn describe() -> Description {
//!         Description::new("likes", "0.1.0").callback("/v1.0/card/instances/callback")
//!     }
//!
//!     fn handle(frame: Frame) -> Result<Outcome, Error> {
//!         let cb: CardCallback = frame.json()?;
//!         let action = cb.content.card_private_data.params.get("action");
//!         let liked = action.and_then(|a| a.as_str()) == Some("like");
//!         Ok(CardUpdate::new()
//!             .card_param("status", if liked { "liked" } else { "neutral" })
//!             .private_param("likedByMe", liked)
//!             .into_outcome())
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Sending a StandardCard in answer to a message, then updating it:
//!
//! ```no_run
//! # fn demo() -> Result<(), dingtalk_bot_sdk::Error> {
//! use dingtalk_bot_sdk::card;
//! let mut c = serde_json::json!({"header": {"title": {"type": "text", "text": "Build"}},
//!     "contents": [{"type": "text", "text": "running…", "id": "t1"}]});
//! card::send_standard("build-42", &c)?;
//! c["contents"][0]["text"] = "passed".into();
//! card::update_standard("build-42", &c)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
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

/// The `data` of a card callback (topic `/v1.0/card/instances/callback`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardCallback {
    /// The card instance's outTrackId.
    #[serde(default)]
    pub out_track_id: String,
    /// Who pressed.
    #[serde(default)]
    pub user_id: String,
    /// Their organisation.
    #[serde(default)]
    pub corp_id: String,
    /// e.g. `actionCallback`.
    #[serde(default, rename = "type")]
    pub callback_type: String,
    /// e.g. `im`.
    #[serde(default)]
    pub space_type: String,
    /// The conversation.
    #[serde(default)]
    pub space_id: String,
    /// What was pressed, decoded from the `content` JSON string.
    #[serde(default, deserialize_with = "json_string")]
    pub content: CardAction,
    /// The `extension` JSON string, decoded.
    #[serde(default, deserialize_with = "json_string")]
    pub extension: Value,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `cardPrivateData` of a callback: which action, with which parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAction {
    /// The private data of the press.
    #[serde(default)]
    pub card_private_data: CardPrivateData,
}

/// The ids and parameters of a pressed action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardPrivateData {
    /// Ids of the components pressed.
    #[serde(default)]
    pub action_ids: Vec<String>,
    /// Their parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
}

fn json_string<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(
    d: D,
) -> Result<T, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if s.is_empty() => Ok(T::default()),
        Value::String(s) => serde_json::from_str(&s).map_err(serde::de::Error::custom),
        Value::Null => Ok(T::default()),
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
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
    fn a_card_callback_decodes_its_json_string_fields() {
        let data = json!({
            "extension": "{}",
            "corpId": "dingxxxx",
            "spaceType": "im",
            "userIdType": 1,
            "type": "actionCallback",
            "userId": "u1",
            "content": "{\"cardPrivateData\":{\"actionIds\":[\"btn\"],\"params\":{\"action\":\"like\"}}}",
            "spaceId": "cid1",
            "outTrackId": "t1",
            "value": "{}"
        });
        let cb: CardCallback = serde_json::from_value(data).unwrap();
        assert_eq!(cb.content.card_private_data.action_ids, ["btn"]);
        assert_eq!(cb.content.card_private_data.params["action"], "like");
        assert_eq!(cb.out_track_id, "t1");
        assert_eq!(cb.extra["userIdType"], 1);
    }

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

//! Typed chatbot messages (`data` of `/v1.0/im/bot/messages/get` and the delegate topic).
//!
//! Every field DingTalk documents has a typed home; anything else it sends lands in
//! [`ChatbotMessage::extra`] and survives a round trip, so a new DingTalk field is
//! never silently dropped.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// A message sent to the robot, 1:1 or in a group where it was @-mentioned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatbotMessage {
    /// `text`, `picture`, `richText`, `audio`, `video`, `file`, or something newer.
    pub msgtype: String,
    /// The text of a text message (DingTalk's `text.content`), as sent; in groups
    /// the @robot mention is removed and a space often leads. See
    /// [`ChatbotMessage::text_content`].
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text_field")]
    pub text: Option<String>,
    /// The raw `content` of non-text messages; [`ChatbotMessage::body`] types it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Unique message id; the key for de-duplicating re-pushed messages.
    #[serde(default, deserialize_with = "null_default")]
    pub msg_id: String,
    /// When the message was sent, epoch milliseconds.
    #[serde(default, deserialize_with = "number_or_string")]
    pub create_at: i64,
    /// `"1"` for a 1:1 chat, `"2"` for a group.
    #[serde(default, deserialize_with = "null_default")]
    pub conversation_type: String,
    /// The conversation; for groups, its openConversationId.
    #[serde(default, deserialize_with = "null_default")]
    pub conversation_id: String,
    /// The group's name (groups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_title: Option<String>,
    /// The sender, encrypted (`$:LWCP_v1:$…`).
    #[serde(default, deserialize_with = "null_default")]
    pub sender_id: String,
    /// The sender's display name.
    #[serde(default, deserialize_with = "null_default")]
    pub sender_nick: String,
    /// The sender's userId in the organisation (internal users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_staff_id: Option<String>,
    /// The sender's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_corp_id: Option<String>,
    /// `Mac`, `Win`, … as observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_platform: Option<String>,
    /// Where replies to this message go, until [`Self::session_webhook_expired_time`].
    #[serde(default, deserialize_with = "null_default")]
    pub session_webhook: String,
    /// Epoch milliseconds after which the session webhook is refused.
    #[serde(default, deserialize_with = "number_or_string")]
    pub session_webhook_expired_time: i64,
    /// Whether the sender is an admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
    /// Whether the robot was @-mentioned (groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_in_at_list: Option<bool>,
    /// Users mentioned in the message (groups).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub at_users: Vec<AtUser>,
    /// The robot's own user id (`$:LWCP_v1:$…`).
    #[serde(default, deserialize_with = "null_default")]
    pub chatbot_user_id: String,
    /// The robot's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatbot_corp_id: Option<String>,
    /// The robot's code; the app's client id for internal apps.
    #[serde(default, deserialize_with = "null_default")]
    pub robot_code: String,
    /// The thread; equals the conversation id in 1:1 chats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_thread_id: Option<String>,
    /// Who the delegate robot acts for (delegate topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_context: Option<HostingContext>,
    /// Recent messages of the conversation (delegate topic).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub conversation_msg_context: Vec<ConversationMsg>,
    /// Every field not listed above, exactly as DingTalk sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `text` is `{"content": …}` on the wire and the string itself here (as in the
/// other SDKs); a round trip gives the wire form back.
mod text_field {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct TextContent {
        #[serde(default)]
        content: Option<String>,
    }

    pub(super) fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        TextContent {
            content: text.clone(),
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<TextContent>::deserialize(d)?.and_then(|t| t.content))
    }
}

/// One entry of `atUsers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AtUser {
    /// The mentioned user's DingTalk id.
    #[serde(default)]
    pub dingtalk_id: String,
    /// The mentioned user's staff id, when DingTalk includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
}

/// `hostingContext` of a delegate message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostingContext {
    /// The user the robot acts for.
    #[serde(default)]
    pub user_id: String,
    /// Their display name.
    #[serde(default)]
    pub nick: String,
}

/// One entry of `conversationMsgContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationMsg {
    /// `"2"` when read by the hosting user.
    #[serde(default)]
    pub read_status: String,
    /// Who sent it.
    #[serde(default)]
    pub sender_user_id: String,
    /// When, epoch milliseconds.
    #[serde(default, deserialize_with = "number_or_string")]
    pub send_time: i64,
}

/// The typed body of a message, by `msgtype`.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    /// Plain text.
    Text(String),
    /// One picture; fetch it with its download code.
    Picture {
        /// Code to exchange for a download URL.
        download_code: String,
    },
    /// Text and pictures in order.
    RichText(Vec<RichTextItem>),
    /// A voice message (1:1 only).
    Audio {
        /// Code to exchange for a download URL.
        download_code: String,
        /// Length in milliseconds, when given.
        duration: Option<i64>,
        /// DingTalk's speech-to-text, when given.
        recognition: Option<String>,
    },
    /// A video (1:1 only).
    Video {
        /// Code to exchange for a download URL.
        download_code: String,
        /// Length as DingTalk gives it, when given.
        duration: Option<i64>,
        /// e.g. `mp4`.
        video_type: Option<String>,
    },
    /// A file (1:1 only).
    File {
        /// Code to exchange for a download URL.
        download_code: String,
        /// The file's name.
        file_name: String,
        /// DingTalk's file id.
        file_id: Option<String>,
        /// The drive space holding it.
        space_id: Option<String>,
    },
    /// A msgtype this SDK does not know; `content` is kept raw.
    Other {
        /// The msgtype as sent.
        msgtype: String,
        /// The raw content, if any.
        content: Option<Value>,
    },
}

/// One item of a rich-text message.
#[derive(Debug, Clone, PartialEq)]
pub enum RichTextItem {
    /// A run of text (`"\n"` for line breaks).
    Text(String),
    /// An inline picture.
    Picture {
        /// Use this one to download (not `pictureDownloadCode`).
        download_code: String,
    },
}

impl ChatbotMessage {
    /// Decode a frame's `data`: a JSON object with a string `msgtype`.
    pub fn from_json(data: &str) -> Result<Self, Error> {
        serde_json::from_str(data)
            .map_err(|e| Error::InvalidArgument(format!("malformed chatbot message: {e}")))
    }

    /// The text of a text message, trimmed; `None` for other types.
    pub fn text_content(&self) -> Option<&str> {
        match self.msgtype.as_str() {
            "text" => self.text.as_deref().map(str::trim),
            _ => None,
        }
    }

    /// Whether this came from a group chat.
    pub fn is_group(&self) -> bool {
        self.conversation_type == "2"
    }

    /// The message body, typed by `msgtype`.
    pub fn body(&self) -> MessageBody {
        let content = self.content.as_ref();
        let field = |name: &str| -> Option<String> {
            content
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let number = |name: &str| content.and_then(|c| c.get(name)).and_then(as_i64);
        let code = || field("downloadCode").unwrap_or_default();
        match self.msgtype.as_str() {
            "text" => MessageBody::Text(self.text_content().unwrap_or_default().to_owned()),
            "picture" => MessageBody::Picture {
                download_code: code(),
            },
            "richText" => MessageBody::RichText(
                content
                    .and_then(|c| c.get("richText"))
                    .and_then(Value::as_array)
                    .map(|items| items.iter().filter_map(rich_text_item).collect())
                    .unwrap_or_default(),
            ),
            "audio" => MessageBody::Audio {
                download_code: code(),
                duration: number("duration"),
                recognition: field("recognition"),
            },
            "video" => MessageBody::Video {
                download_code: code(),
                duration: number("duration"),
                video_type: field("videoType"),
            },
            "file" => MessageBody::File {
                download_code: code(),
                file_name: field("fileName").unwrap_or_default(),
                file_id: field("fileId"),
                space_id: field("spaceId"),
            },
            other => MessageBody::Other {
                msgtype: other.to_owned(),
                content: self.content.clone(),
            },
        }
    }
}

fn rich_text_item(item: &Value) -> Option<RichTextItem> {
    if let Some(text) = item.get("text").and_then(Value::as_str) {
        return Some(RichTextItem::Text(text.to_owned()));
    }
    let code = item.get("downloadCode").and_then(Value::as_str)?;
    Some(RichTextItem::Picture {
        download_code: code.to_owned(),
    })
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A null is an absent value (message-schema.json).
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// DingTalk documents some millisecond fields as strings but sends numbers; take both.
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(0),
        _ => as_i64(&v)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a number, got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../tests/fixtures/recorded/cb_msg_text.json");
    const PICTURE: &str = include_str!("../../../tests/fixtures/recorded/cb_msg_picture.json");
    const RICH: &str = include_str!("../../../tests/fixtures/recorded/cb_msg_rich_text.json");
    const FILE: &str = include_str!("../../../tests/fixtures/recorded/cb_msg_file.json");

    #[test]
    fn recorded_text_message_decodes_every_field() {
        let m: ChatbotMessage = serde_json::from_str(TEXT).unwrap();
        assert_eq!(m.text_content(), Some("hello"));
        assert_eq!(m.sender_staff_id.as_deref(), Some("032615015535634423"));
        assert_eq!(m.create_at, 1774080994334);
        assert_eq!(m.session_webhook_expired_time, 1774086394522);
        assert_eq!(m.sender_platform.as_deref(), Some("Mac"));
        assert_eq!(m.is_admin, Some(false));
        assert!(!m.is_group());
        assert!(m.extra.is_empty(), "unexpected extras: {:?}", m.extra);
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let mut v: Value = serde_json::from_str(TEXT).unwrap();
        v["brandNewField"] = serde_json::json!({"x": [1, 2]});
        let m: ChatbotMessage = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(m.extra["brandNewField"], v["brandNewField"]);
        assert_eq!(serde_json::to_value(&m).unwrap(), v);
    }

    #[test]
    fn recorded_picture_rich_text_and_file_messages_have_typed_bodies() {
        let p: ChatbotMessage = serde_json::from_str(PICTURE).unwrap();
        assert!(
            matches!(p.body(), MessageBody::Picture { download_code } if !download_code.is_empty())
        );
        let r: ChatbotMessage = serde_json::from_str(RICH).unwrap();
        let MessageBody::RichText(items) = r.body() else {
            panic!("not rich text: {:?}", r.body())
        };
        assert!(matches!(&items[0], RichTextItem::Picture { .. }));
        assert_eq!(
            items[1..],
            [
                RichTextItem::Text("\n".into()),
                RichTextItem::Text("abc".into())
            ]
        );
        let f: ChatbotMessage = serde_json::from_str(FILE).unwrap();
        assert!(matches!(f.body(), MessageBody::File { file_name, .. } if !file_name.is_empty()));
    }

    #[test]
    fn audio_and_video_durations_parse_as_numbers_or_strings() {
        let a: ChatbotMessage = serde_json::from_value(serde_json::json!({
            "msgtype": "audio",
            "content": {"duration": 4000, "downloadCode": "dc", "recognition": "hi"}
        }))
        .unwrap();
        assert_eq!(
            a.body(),
            MessageBody::Audio {
                download_code: "dc".into(),
                duration: Some(4000),
                recognition: Some("hi".into())
            }
        );
        let v: ChatbotMessage = serde_json::from_value(serde_json::json!({
            "msgtype": "video",
            "content": {"duration": "12", "downloadCode": "dc", "videoType": "mp4"}
        }))
        .unwrap();
        assert!(matches!(
            v.body(),
            MessageBody::Video {
                duration: Some(12),
                ..
            }
        ));
    }

    #[test]
    fn string_timestamps_are_accepted() {
        let m: ChatbotMessage = serde_json::from_value(
            serde_json::json!({"msgtype": "text", "createAt": "1690362101894"}),
        )
        .unwrap();
        assert_eq!(m.create_at, 1690362101894);
    }
}

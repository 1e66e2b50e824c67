//! What one frame lets its handler touch: the session webhook it carried (until it
//! expires; read by the reply capability), the conversation it came from (cards) and
//! the files it referenced (media).
//!
//! Parsed once per frame (by dispatch, shared by every plugin the frame goes to) from
//! the chatbot fields of `data`; a frame that is not a chatbot message grants nothing.
//! The same parse yields the message's `msgId`, the payload key for re-push handling.

use serde::Deserialize;
use serde_json::Value;

use crate::openapi::cards::Receiver;
use crate::stream::{Frame, FrameType};

/// A session webhook a frame carried, and until when it may be used.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWebhook {
    /// The URL.
    pub url: String,
    /// Epoch milliseconds after which it is refused (0: no expiry given).
    pub expires_at_ms: i64,
}

/// The frame's grants, and its payload id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameScope {
    /// The session webhook replies may use, and its expiry.
    pub webhook: Option<SessionWebhook>,
    /// Where cards go.
    pub conversation: Option<Receiver>,
    /// Files the handler may download.
    pub download_codes: Vec<String>,
    /// The chatbot message's `msgId`.
    pub msg_id: Option<String>,
    /// A card callback's `outTrackId`: the card whose creator it is routed to.
    pub card_out_track_id: Option<String>,
}

/// The topic of card callbacks.
pub const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardCallbackFields {
    out_track_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatbotFields {
    session_webhook: Option<String>,
    session_webhook_expired_time: Option<Value>,
    conversation_type: Option<String>,
    conversation_id: Option<String>,
    sender_staff_id: Option<String>,
    content: Option<Value>,
    msg_id: Option<String>,
}

fn millis(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn codes(content: &Value, out: &mut Vec<String>) {
    for key in ["downloadCode", "pictureDownloadCode"] {
        if let Some(code) = content.get(key).and_then(Value::as_str) {
            out.push(code.to_owned());
        }
    }
    if let Some(items) = content.get("richText").and_then(Value::as_array) {
        for item in items {
            codes(item, out);
        }
    }
}

impl FrameScope {
    /// The grants of `frame`.
    pub fn of(frame: &Frame) -> Self {
        if frame.frame_type == FrameType::Callback && frame.topic == CARD_CALLBACK_TOPIC {
            let fields = serde_json::from_str::<CardCallbackFields>(&frame.data).ok();
            return Self {
                card_out_track_id: fields.and_then(|f| f.out_track_id),
                ..Self::default()
            };
        }
        if frame.frame_type != FrameType::Callback || !frame.data.contains("sessionWebhook") {
            return Self::default();
        }
        let Ok(f) = serde_json::from_str::<ChatbotFields>(&frame.data) else {
            return Self::default();
        };
        let conversation = match (
            f.conversation_type.as_deref(),
            f.conversation_id,
            f.sender_staff_id,
        ) {
            (Some("2"), Some(cid), _) => Some(Receiver::Group(cid)),
            (_, _, Some(staff)) => Some(Receiver::User(staff)),
            _ => None,
        };
        let mut download_codes = Vec::new();
        if let Some(content) = &f.content {
            codes(content, &mut download_codes);
        }
        Self {
            webhook: f.session_webhook.map(|url| SessionWebhook {
                url,
                expires_at_ms: millis(f.session_webhook_expired_time.as_ref()),
            }),
            conversation,
            download_codes,
            msg_id: f.msg_id.filter(|id| !id.is_empty()),
            card_out_track_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &str) -> Frame {
        Frame {
            frame_type: FrameType::Callback,
            topic: "/v1.0/im/bot/messages/get".into(),
            message_id: "m".into(),
            headers: Vec::new(),
            data: data.into(),
        }
    }

    #[test]
    fn a_group_message_scopes_cards_to_its_group_and_files_to_its_codes() {
        let s = FrameScope::of(&frame(
            r#"{"sessionWebhook":"http://w","sessionWebhookExpiredTime":99999999999999,"conversationType":"2","conversationId":"cid1","senderStaffId":"u1","msgtype":"richText","content":{"richText":[{"type":"picture","downloadCode":"d1"},{"text":"x"}]}}"#,
        ));
        assert_eq!(s.conversation, Some(Receiver::Group("cid1".into())));
        assert_eq!(s.download_codes, ["d1"]);
        assert_eq!(s.webhook.map(|w| w.url).as_deref(), Some("http://w"));
    }

    #[test]
    fn a_direct_message_scopes_cards_to_its_sender_and_keeps_the_webhook_expiry() {
        let s = FrameScope::of(&frame(
            r#"{"sessionWebhook":"http://w","sessionWebhookExpiredTime":1,"conversationType":"1","conversationId":"cid","senderStaffId":"u1","msgId":"msgA=="}"#,
        ));
        assert_eq!(s.msg_id.as_deref(), Some("msgA=="));
        assert_eq!(s.conversation, Some(Receiver::User("u1".into())));
        assert_eq!(s.webhook.map(|w| w.expires_at_ms), Some(1));
    }

    #[test]
    fn frames_that_are_not_chatbot_messages_grant_nothing() {
        assert_eq!(
            FrameScope::of(&frame(r#"{"value":"x"}"#)),
            FrameScope::default()
        );
    }
}

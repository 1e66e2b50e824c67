//! What one frame lets its handler touch: the session webhook it carried (until it
//! expires; read by the reply capability), the conversation it came from (cards) and
//! the files it referenced (media).
//!
//! Decoded once per frame (by dispatch, shared by every plugin the frame goes to)
//! from the chatbot fields of `data`; a frame that is not a chatbot message grants
//! nothing. The same decoding yields the message's `msgId`, the payload key for
//! re-push handling, and its text, which the routing rules read.

use serde::Deserialize;
use serde_json::Value;

use crate::openapi::cards::Receiver;
use crate::stream::{Frame, FrameType, topic};

/// A session webhook a frame carried, and until when it may be used.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWebhook {
    /// The URL.
    pub url: String,
    /// Epoch milliseconds after which it is refused (0: no expiry given).
    pub expires_at_ms: i64,
    /// Where it leads; `None` when it is not a URL the host would call.
    pub target: Option<WebhookTarget>,
}

/// (scheme, host, port) of a URL.
pub type Origin = (String, String, u16);

/// A session webhook parsed once per frame: the origin the reply capability checks
/// and the URI the HTTP client connects to.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// Its origin, host in lower case and the port explicit.
    pub origin: Origin,
    /// The URI a reply is POSTed to.
    pub uri: http::Uri,
}

impl WebhookTarget {
    /// Parse `url` with the URL standard's parser, then parse its serialisation as the
    /// `http::Uri` requests use. `None` with user info, or unless both parsers agree
    /// on scheme, host and port, so the origin checked is the one connected to.
    pub fn parse(url: &str) -> Option<Self> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return None;
        }
        let origin = origin(&parsed)?;
        let uri: http::Uri = parsed.as_str().parse().ok()?;
        let agrees = uri.scheme_str() == Some(origin.0.as_str())
            && uri.host().map(str::to_ascii_lowercase).as_deref() == Some(origin.1.as_str())
            && uri.port_u16().unwrap_or(match origin.0.as_str() {
                "https" => 443,
                _ => 80,
            }) == origin.2;
        agrees.then_some(Self { origin, uri })
    }
}

/// The origin of `url`, if it has a host and a known port.
pub fn origin(url: &reqwest::Url) -> Option<Origin> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The conversation a call serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conversation {
    /// `conversationId`.
    pub id: String,
    /// `senderStaffId`, else `senderId`.
    pub sender: String,
    /// A group chat.
    pub is_group: bool,
}

/// The person and chat behind a chatbot message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Talk {
    /// Its conversation and sender.
    pub conversation: Conversation,
    /// `isAdmin`: the sender administers the group.
    pub is_admin: bool,
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
    /// A chatbot message's conversation and sender (what a tool call serves, who may
    /// settle an approval by text).
    pub talk: Option<Talk>,
    /// A card callback's `userId`: who pressed the button.
    pub presser: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardCallbackFields {
    out_track_id: Option<String>,
    user_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatbotFields {
    session_webhook: Option<String>,
    session_webhook_expired_time: Option<Value>,
    conversation_type: Option<String>,
    conversation_id: Option<String>,
    sender_staff_id: Option<String>,
    sender_id: Option<String>,
    is_admin: Option<Value>,
    content: Option<Value>,
    msg_id: Option<String>,
    // Read as values: a field of an unexpected shape is no text, and must not cost
    // the message its scope.
    msgtype: Option<Value>,
    text: Option<Value>,
}

impl ChatbotFields {
    /// The text of a text message, leading whitespace trimmed.
    fn text(&mut self) -> Option<String> {
        if self.msgtype.as_ref().and_then(Value::as_str) != Some("text") {
            return None;
        }
        let Some(Value::String(content)) = self.text.as_mut()?.get_mut("content").map(Value::take)
        else {
            return None;
        };
        Some(match content.trim_start() {
            trimmed if trimmed.len() == content.len() => content,
            trimmed => trimmed.to_owned(),
        })
    }
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
        Self::decode(frame).0
    }

    /// The grants of `frame` and, for a text message, its text (which the routing
    /// rules read; kept apart so the scope every plugin's store copies stays small).
    pub fn decode(frame: &Frame) -> (Self, Option<String>) {
        if frame.frame_type == FrameType::Callback && frame.topic == topic::CARD_CALLBACK {
            let fields = serde_json::from_str::<CardCallbackFields>(&frame.data).ok();
            let (card_out_track_id, presser) =
                fields.map_or((None, None), |f| (f.out_track_id, f.user_id));
            let scope = Self {
                card_out_track_id,
                presser: presser.filter(|p| !p.is_empty()),
                ..Self::default()
            };
            return (scope, None);
        }
        let chatbot = frame.topic == topic::CHATBOT || frame.topic == topic::DELEGATE;
        if frame.frame_type != FrameType::Callback
            || !(chatbot || frame.data.contains("sessionWebhook"))
        {
            return (Self::default(), None);
        }
        let Ok(mut f) = serde_json::from_str::<ChatbotFields>(&frame.data) else {
            return (Self::default(), None);
        };
        let text = f.text();
        if f.session_webhook.is_none() {
            return (Self::default(), text);
        }
        let is_group = f.conversation_type.as_deref() == Some("2");
        let talk = match (
            &f.conversation_id,
            f.sender_staff_id.as_ref().or(f.sender_id.as_ref()),
        ) {
            (Some(id), Some(sender)) if !id.is_empty() && !sender.is_empty() => Some(Talk {
                conversation: Conversation {
                    id: id.clone(),
                    sender: sender.clone(),
                    is_group,
                },
                is_admin: matches!(f.is_admin, Some(Value::Bool(true))),
            }),
            _ => None,
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
        let scope = Self {
            webhook: f.session_webhook.map(|url| SessionWebhook {
                target: WebhookTarget::parse(&url),
                url,
                expires_at_ms: millis(f.session_webhook_expired_time.as_ref()),
            }),
            conversation,
            download_codes,
            msg_id: f.msg_id.filter(|id| !id.is_empty()),
            card_out_track_id: None,
            talk,
            presser: None,
        };
        (scope, text)
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
    fn a_webhook_is_parsed_once_into_the_origin_checked_and_the_uri_called() {
        let t = WebhookTarget::parse("HTTPS://OAPI.DingTalk.com/robot/sendBySession?session=s%20x")
            .unwrap();
        assert_eq!(t.origin, ("https".into(), "oapi.dingtalk.com".into(), 443));
        assert_eq!(
            t.uri.to_string(),
            "https://oapi.dingtalk.com/robot/sendBySession?session=s%20x"
        );
        let v6 = WebhookTarget::parse("http://[::1]:9000/w").unwrap();
        assert_eq!(v6.origin, ("http".into(), "[::1]".into(), 9000));
        assert_eq!(v6.uri.port_u16(), Some(9000));
    }

    #[test]
    fn webhooks_the_two_parsers_could_read_differently_are_refused() {
        for url in [
            "https://user:pw@oapi.dingtalk.com/robot",
            "https://oapi.dingtalk.com@evil.example/robot",
            "https://evil.example\\@oapi.dingtalk.com/robot",
            "https://oapi.dingtalk.com:443@evil.example/",
            "mailto:x@oapi.dingtalk.com",
            "not a url",
        ] {
            let parsed = WebhookTarget::parse(url);
            assert!(
                parsed
                    .as_ref()
                    .is_none_or(|t| t.origin.1 != "oapi.dingtalk.com"
                        && t.uri.host() == Some(t.origin.1.as_str())),
                "{url}: {parsed:?}"
            );
        }
        // Backslashes are slashes to the URL standard: the host is evil.example, and
        // the URI called is on evil.example too, never on DingTalk's host.
        let t = WebhookTarget::parse("https://evil.example\\oapi.dingtalk.com/").unwrap();
        assert_eq!(t.uri.host(), Some("evil.example"));
    }

    #[test]
    fn an_oddly_shaped_text_field_costs_the_message_neither_its_webhook_nor_its_text_rule() {
        for data in [
            r#"{"sessionWebhook":"http://w","msgtype":"text","text":"not an object"}"#,
            r#"{"sessionWebhook":"http://w","msgtype":"text","text":{"content":5}}"#,
            r#"{"sessionWebhook":"http://w","msgtype":7,"text":{"content":"hi"}}"#,
        ] {
            let (scope, text) = FrameScope::decode(&frame(data));
            assert_eq!(
                scope.webhook.map(|w| w.url).as_deref(),
                Some("http://w"),
                "{data}"
            );
            assert_eq!(text, None, "{data}");
        }
        let (_, text) = FrameScope::decode(&frame(
            r#"{"sessionWebhook":"http://w","msgtype":"text","text":{"content":"  /card x"}}"#,
        ));
        assert_eq!(text.as_deref(), Some("/card x"));
    }

    #[test]
    fn a_message_names_its_conversation_and_sender_and_a_card_press_its_presser() {
        let s = FrameScope::of(&frame(
            r#"{"sessionWebhook":"http://w","conversationType":"2","conversationId":"cid1","senderId":"$:x","senderStaffId":"u1","isAdmin":true}"#,
        ));
        let talk = s.talk.unwrap();
        assert_eq!(talk.conversation.id, "cid1");
        assert_eq!(talk.conversation.sender, "u1");
        assert!(talk.conversation.is_group && talk.is_admin);
        let mut press = frame(r#"{"outTrackId":"ai-1","userId":"u2"}"#);
        press.topic = topic::CARD_CALLBACK.into();
        let s = FrameScope::of(&press);
        assert_eq!(s.presser.as_deref(), Some("u2"));
        assert_eq!(s.talk, None);
    }

    #[test]
    fn frames_that_are_not_chatbot_messages_grant_nothing() {
        assert_eq!(
            FrameScope::of(&frame(r#"{"value":"x"}"#)),
            FrameScope::default()
        );
    }
}

//! Chatbot messages of every msgtype (protocol.md C.2, C.3), as DingTalk pushes them.

use serde_json::{Value, json};

/// The chatbot message callback topic.
pub const CHATBOT_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// The card callback topic (a button pressed).
pub const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// The staff id a message comes from unless it names another.
pub const DEFAULT_STAFF_ID: &str = "032615015535634423";

/// The `data` of a card callback (protocol.md C.4): `user_id` pressed the button
/// `action_id` of card `card_id`, with `params` (an object; anything else is sent as
/// no params).
pub fn card_press(card_id: &str, action_id: &str, params: &Value, user_id: &str) -> Value {
    let params = if params.is_object() {
        params.clone()
    } else {
        json!({})
    };
    let private =
        json!({"cardPrivateData": {"actionIds": [action_id], "params": params}}).to_string();
    json!({
        "extension": "{}", "corpId": "dingsimcorp", "spaceType": "im", "userIdType": 1,
        "type": "actionCallback", "userId": user_id, "content": private,
        "spaceId": "cidsimspace", "outTrackId": card_id, "value": private,
    })
}

/// The download code prefix of a file of a given size (`sim-bytes-<n>`).
pub const SIZED_FILE_PREFIX: &str = "sim-bytes-";

/// The largest sized file the simulator serves.
pub const MAX_SIZED_FILE: usize = 64 << 20;

/// What a simulated user sends; [`crate::Sim::push_chatbot`] adds the common fields
/// (ids, times, session webhook).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSpec {
    /// The msgtype.
    pub msgtype: String,
    /// `text` for text messages, `content` for the others.
    pub body: Value,
    /// The group title, for a group chat; `None` is 1:1.
    pub group: Option<String>,
    /// The sender's staff id.
    pub sender_staff_id: String,
    /// The sender's display name.
    pub sender_nick: String,
    /// The client id of the app whose robot gets it; `None` is the sim's first app.
    pub app: Option<String>,
    /// Whether the sender is an admin of the organisation (`isAdmin`).
    pub admin: bool,
    /// In a group: whether the robot is @-mentioned (`isInAtList`, `atUsers`).
    pub at_bot: bool,
}

impl MessageSpec {
    fn new(msgtype: &str, body: Value) -> Self {
        Self {
            msgtype: msgtype.into(),
            body,
            group: None,
            sender_staff_id: DEFAULT_STAFF_ID.into(),
            sender_nick: "张三".into(),
            app: None,
            admin: false,
            at_bot: true,
        }
    }

    /// A text message.
    pub fn text(content: &str) -> Self {
        Self::new("text", json!({ "content": content }))
    }

    /// A picture.
    pub fn picture() -> Self {
        Self::new(
            "picture",
            json!({"downloadCode": "sim-picture-download-code", "pictureDownloadCode": "sim-picture-code"}),
        )
    }

    /// Rich text: a picture, a line break, then `text`.
    pub fn rich_text(text: &str) -> Self {
        Self::new(
            "richText",
            json!({"richText": [
                {"type": "picture", "downloadCode": "sim-rich-download-code", "pictureDownloadCode": "sim-rich-picture-code"},
                {"text": "\n"},
                {"text": text}
            ]}),
        )
    }

    /// A voice message with DingTalk's speech-to-text.
    pub fn audio(recognition: &str) -> Self {
        Self::new(
            "audio",
            json!({"duration": 4000, "downloadCode": "sim-audio-download-code", "recognition": recognition}),
        )
    }

    /// A video.
    pub fn video() -> Self {
        Self::new(
            "video",
            json!({"downloadCode": "sim-video-download-code", "duration": "12", "videoType": "mp4"}),
        )
    }

    /// A file.
    pub fn file(name: &str) -> Self {
        Self::new(
            "file",
            json!({"downloadCode": "sim-file-download-code", "fileId": "214980176385", "fileName": name, "spaceId": "28455378906"}),
        )
    }

    /// A file of `bytes` bytes (at most [`crate::MAX_SIZED_FILE`]) named
    /// `name`: its download serves that many bytes, declaring their length.
    pub fn sized_file(name: &str, bytes: usize) -> Self {
        Self::new(
            "file",
            json!({"downloadCode": format!("{}{bytes}", SIZED_FILE_PREFIX), "fileId": "214980176386", "fileName": name, "spaceId": "28455378906"}),
        )
    }

    /// Sent in a group with this title (with the robot @-mentioned).
    pub fn in_group(mut self, title: &str) -> Self {
        self.group = Some(title.into());
        self
    }

    /// Sent to the robot of the app `client_id` (one the sim was built with).
    pub fn to_app(mut self, client_id: &str) -> Self {
        self.app = Some(client_id.into());
        self
    }

    /// Sent by this user.
    pub fn from(mut self, staff_id: &str, nick: &str) -> Self {
        self.sender_staff_id = staff_id.into();
        self.sender_nick = nick.into();
        self
    }

    /// Sent by an admin of the organisation (or not).
    pub fn admin(mut self, admin: bool) -> Self {
        self.admin = admin;
        self
    }

    /// In a group, whether the robot is @-mentioned (it is by default).
    pub fn at_bot(mut self, at_bot: bool) -> Self {
        self.at_bot = at_bot;
        self
    }

    /// The full `data` object.
    pub(crate) fn to_data(
        &self,
        ids: &Ids,
        webhook: &str,
        now_ms: i64,
        webhook_ttl_ms: i64,
    ) -> Value {
        let chatbot_user_id = "$:LWCP_v1:$sim0robot0user0id==";
        let conversation_id = match &self.group {
            Some(_) => format!("cidGroup{}=", ids.conversation),
            None => format!("cidSingle{}=", ids.conversation),
        };
        let mut data = json!({
            "conversationId": conversation_id,
            "chatbotCorpId": "dingsimcorp",
            "chatbotUserId": chatbot_user_id,
            "msgId": format!("msgSim{}==", ids.msg),
            "senderNick": self.sender_nick,
            "isAdmin": self.admin,
            "senderStaffId": self.sender_staff_id,
            "sessionWebhookExpiredTime": now_ms + webhook_ttl_ms,
            "createAt": now_ms,
            "senderCorpId": "dingsimcorp",
            "conversationType": if self.group.is_some() { "2" } else { "1" },
            "senderId": format!("$:LWCP_v1:$sender{}==", self.sender_staff_id),
            "senderPlatform": "Mac",
            "sessionWebhook": webhook,
            "robotCode": ids.robot_code,
            "msgtype": self.msgtype,
        });
        let key = if self.msgtype == "text" {
            "text"
        } else {
            "content"
        };
        data[key] = self.body.clone();
        match &self.group {
            Some(title) => {
                data["conversationTitle"] = json!(title);
                data["isInAtList"] = json!(self.at_bot);
                if self.at_bot {
                    data["atUsers"] = json!([{ "dingtalkId": chatbot_user_id }]);
                }
            }
            None => data["openThreadId"] = json!(conversation_id),
        }
        data
    }
}

/// Ids a pushed message gets.
pub(crate) struct Ids {
    pub msg: u64,
    pub conversation: u64,
    pub robot_code: String,
}

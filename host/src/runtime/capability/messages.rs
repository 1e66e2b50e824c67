//! Proactive robot messages (protocol.md D.9), not in answer to a frame. Denied
//! unless the operator set `proactive = true` in the plugin's section.
//!
//! Limits: at most [`MAX_USERS`] users per call (DingTalk's own), ids and message keys
//! of at most 256 bytes, `msgParam` of at most 15,000 bytes (DingTalk's own).

use super::args::{MAX_ID, check_len, check_list, json_object};
use super::grant::{Grant as GrantTrait, GrantError};
use crate::openapi::messages as message_api;
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::messages;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied};
use crate::runtime::caller::Calls;

/// Most users one batch send may address (DingTalk's limit).
pub const MAX_USERS: usize = 20;

/// `proactive = true`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default, deserialize_with = "super::grant::switch")]
    proactive: bool,
}

/// Whether the plugin may send proactive messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// `proactive = true`.
    pub proactive: bool,
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["proactive"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        Ok(Self {
            proactive: keys.proactive,
        })
    }

    fn show(&self) -> Vec<String> {
        if self.proactive {
            vec!["proactive:  1:1 and group messages".to_owned()]
        } else {
            Vec::new()
        }
    }
}

/// What proactive messages use: the plugin's grant.
pub struct View<'a> {
    /// The plugin and its frame's DingTalk calls.
    pub calls: Calls<'a>,
    /// Whether it may send them.
    pub grant: &'a Grant,
}

linked_view!(View);

impl View<'_> {
    fn proactive(&self, msg_key: &str, msg_param: &str) -> HostResult<serde_json::Value> {
        if !self.grant.proactive {
            return Err(denied(format!(
                "plugin {:?} is not granted proactive messages (set `proactive = true` in its host config section)",
                self.calls.caller().name
            )));
        }
        check_len("msg-key", msg_key, MAX_ID)?;
        json_object("msgParam", msg_param, message_api::MAX_MSG_PARAM)
            .map(serde_json::Value::Object)
    }
}

impl messages::Host for View<'_> {
    async fn send_to_users(
        &mut self,
        user_ids: Vec<String>,
        msg_key: String,
        msg_param: String,
    ) -> HostResult<String> {
        self.calls
            .caller()
            .counted("messages", async {
                check_list("user-ids", &user_ids, MAX_USERS, MAX_ID)?;
                let param = self.proactive(&msg_key, &msg_param)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Message)?;
                Ok(message_api::send_to_users(&api, &user_ids, &msg_key, &param).await?)
            })
            .await
    }

    async fn send_to_group(
        &mut self,
        open_conversation_id: String,
        msg_key: String,
        msg_param: String,
    ) -> HostResult<String> {
        self.calls
            .caller()
            .counted("messages", async {
                check_len("open-conversation-id", &open_conversation_id, MAX_ID)?;
                let param = self.proactive(&msg_key, &msg_param)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Message)?;
                Ok(
                    message_api::send_to_group(&api, &open_conversation_id, &msg_key, &param)
                        .await?,
                )
            })
            .await
    }
}

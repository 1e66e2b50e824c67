//! Proactive robot messages (protocol.md D.9), not in answer to a frame. Denied
//! unless the operator set `proactive = true` in the plugin's section.
//!
//! Limits: at most [`MAX_USERS`] users per call (DingTalk's own), ids and message keys
//! of at most 256 bytes, `msgParam` of at most 15,000 bytes (DingTalk's own).

use wasmtime::component::Linker;

use super::{
    Grant as GrantTrait, HostResult, MAX_ID, check_len, check_list, denied, json_object, link_iface,
};
use crate::openapi::messages as message_api;
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::messages;
use crate::runtime::state::State;

/// Most users one batch send may address (DingTalk's limit).
pub const MAX_USERS: usize = 20;

/// The messages capability.
pub struct Capability;

impl super::Capability for Capability {
    type Grant = Grant;

    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        link_iface!(linker, messages)
    }
}

/// Whether the plugin may send proactive messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// `proactive = true`.
    pub proactive: bool,
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["proactive"];

    fn parse(section: &toml::Table) -> Result<Self, String> {
        let proactive = match section.get("proactive") {
            None => false,
            Some(v) => v.as_bool().ok_or("`proactive` must be true or false")?,
        };
        Ok(Self { proactive })
    }

    fn show(&self) -> Vec<String> {
        if self.proactive {
            vec!["proactive:  1:1 and group messages".to_owned()]
        } else {
            Vec::new()
        }
    }
}

impl State {
    fn proactive(&self, msg_key: &str, msg_param: &str) -> HostResult<serde_json::Value> {
        if !self.plugin.grants.messages.proactive {
            return Err(denied(format!(
                "plugin {:?} is not granted proactive messages (set `proactive = true` in its host config section)",
                self.plugin.name
            )));
        }
        check_len("msg-key", msg_key, MAX_ID)?;
        json_object("msgParam", msg_param, message_api::MAX_MSG_PARAM)
            .map(serde_json::Value::Object)
    }
}

impl messages::Host for State {
    async fn send_to_users(
        &mut self,
        user_ids: Vec<String>,
        msg_key: String,
        msg_param: String,
    ) -> HostResult<String> {
        let this = &mut *self;
        let result: HostResult<String> = async move {
            check_list("user-ids", &user_ids, MAX_USERS, MAX_ID)?;
            let param = this.proactive(&msg_key, &msg_param)?;
            let api = this.api()?;
            this.dingtalk_call(DingtalkCall::Message)?;
            Ok(message_api::send_to_users(&api, &user_ids, &msg_key, &param).await?)
        }
        .await;
        self.count_call("messages", &result);
        result
    }

    async fn send_to_group(
        &mut self,
        open_conversation_id: String,
        msg_key: String,
        msg_param: String,
    ) -> HostResult<String> {
        let this = &mut *self;
        let result: HostResult<String> = async move {
            check_len("open-conversation-id", &open_conversation_id, MAX_ID)?;
            let param = this.proactive(&msg_key, &msg_param)?;
            let api = this.api()?;
            this.dingtalk_call(DingtalkCall::Message)?;
            Ok(message_api::send_to_group(&api, &open_conversation_id, &msg_key, &param).await?)
        }
        .await;
        self.count_call("messages", &result);
        result
    }
}

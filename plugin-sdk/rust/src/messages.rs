//! Proactive robot messages: not in answer to a message. The operator must grant
//! them (`proactive = true` in this plugin's host config section).

use serde_json::Value;

use crate::Error;
use crate::bindings::dingtalk::bot::messages as wit;

/// Send `msg_key` (e.g. `sampleText`) with its parameters to users 1:1; returns
/// DingTalk's processQueryKey.
pub fn send_to_users(
    user_ids: &[String],
    msg_key: &str,
    msg_param: &Value,
) -> Result<String, Error> {
    wit::send_to_users(user_ids, msg_key, &msg_param.to_string())
}

/// Send `msg_key` with its parameters to a group by its openConversationId.
pub fn send_to_group(
    open_conversation_id: &str,
    msg_key: &str,
    msg_param: &Value,
) -> Result<String, Error> {
    wit::send_to_group(open_conversation_id, msg_key, &msg_param.to_string())
}

//! Proactive robot messages (protocol.md D.9): 1:1 batch send and group send.

use reqwest::Method;
use serde_json::{Value, json};

use super::answer::{Error, Step};
use super::api::OpenApi;

/// Largest `msgParam` DingTalk accepts, in bytes.
pub const MAX_MSG_PARAM: usize = 15_000;

fn query_key(answer: &Value) -> String {
    answer
        .get("processQueryKey")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn send(
    api: &OpenApi,
    path: &str,
    mut body: Value,
    msg_key: &str,
    msg_param: &Value,
) -> Result<String, Error> {
    body["robotCode"] = json!(api.robot_code());
    body["msgKey"] = json!(msg_key);
    body["msgParam"] = json!(msg_param.to_string());
    let answer = api
        .call(Step::Proactive, Method::POST, path, Some(&body))
        .await?;
    Ok(query_key(&answer))
}

/// Send `msg_key` with `msg_param` (a JSON object) to users 1:1.
pub async fn send_to_users(
    api: &OpenApi,
    user_ids: &[String],
    msg_key: &str,
    msg_param: &Value,
) -> Result<String, Error> {
    let body = json!({ "userIds": user_ids });
    send(
        api,
        "/v1.0/robot/oToMessages/batchSend",
        body,
        msg_key,
        msg_param,
    )
    .await
}

/// Send `msg_key` with `msg_param` to a group.
pub async fn send_to_group(
    api: &OpenApi,
    open_conversation_id: &str,
    msg_key: &str,
    msg_param: &Value,
) -> Result<String, Error> {
    let body = json!({ "openConversationId": open_conversation_id });
    send(
        api,
        "/v1.0/robot/groupMessages/send",
        body,
        msg_key,
        msg_param,
    )
    .await
}

//! StandardCard interactive cards sent by the robot (protocol.md D.5).
//!
//! The plugin gives the card as a JSON object; DingTalk wants it as a JSON *string*
//! in `cardData`, and a 1:1 receiver as a JSON string too. Both encodings happen
//! here and nowhere else.

use reqwest::Method;
use serde_json::{Value, json};

use super::api::OpenApi;
use super::{Error, Step};

/// Where a card goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiver {
    /// A group, by its openConversationId (the message's `conversationId`).
    Group(String),
    /// A 1:1 chat with this user (the message's `senderStaffId`).
    User(String),
}

/// The body of `interactiveCards/send`.
pub fn send_body(robot_code: &str, card_biz_id: &str, card: &Value, to: &Receiver) -> Value {
    let mut body = json!({
        "cardTemplateId": "StandardCard",
        "robotCode": robot_code,
        "cardBizId": card_biz_id,
        "cardData": card.to_string(),
        "sendOptions": {"atAll": false},
    });
    match to {
        Receiver::Group(id) => body["openConversationId"] = json!(id),
        Receiver::User(id) => body["singleChatReceiver"] = json!(json!({"userId": id}).to_string()),
    }
    body
}

/// Send a StandardCard; returns the processQueryKey.
pub async fn send_standard(
    api: &OpenApi,
    card_biz_id: &str,
    card: &Value,
    to: &Receiver,
) -> Result<String, Error> {
    let body = send_body(api.robot_code(), card_biz_id, card, to);
    let answer = api
        .call(
            Step::Card,
            Method::POST,
            "/v1.0/im/v1.0/robot/interactiveCards/send",
            Some(&body),
        )
        .await?;
    Ok(answer
        .get("processQueryKey")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

/// Replace a StandardCard's data.
pub async fn update_standard(api: &OpenApi, card_biz_id: &str, card: &Value) -> Result<(), Error> {
    let body = json!({"cardBizId": card_biz_id, "cardData": card.to_string()});
    api.call(
        Step::Card,
        Method::PUT,
        "/v1.0/im/robots/interactiveCards",
        Some(&body),
    )
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_and_a_single_chat_receiver_travel_as_json_strings() {
        let card = json!({"header": {"title": "t"}});
        let b = send_body("ding1", "biz", &card, &Receiver::User("u1".into()));
        assert_eq!(b["cardData"], json!(r#"{"header":{"title":"t"}}"#));
        assert_eq!(b["singleChatReceiver"], json!(r#"{"userId":"u1"}"#));
        assert!(b.get("openConversationId").is_none());
        let g = send_body("ding1", "biz", &card, &Receiver::Group("cid1".into()));
        assert_eq!(g["openConversationId"], "cid1");
        assert_eq!(g["cardTemplateId"], "StandardCard");
    }
}

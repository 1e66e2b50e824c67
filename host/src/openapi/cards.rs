//! StandardCard interactive cards sent by the robot (protocol.md D.5).
//!
//! The plugin gives the card as a JSON object; DingTalk wants it as a JSON *string*
//! in `cardData`, and a 1:1 receiver as a JSON string too. Both encodings happen
//! here and nowhere else.

use reqwest::Method;
use serde_json::{Value, json};

use super::answer::{Error, Step};
use super::api::OpenApi;

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

/// A card instance to create (protocol.md D.6).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The template.
    pub template_id: String,
    /// The caller's id for the instance.
    pub out_track_id: String,
    /// Variables; every value a string.
    pub params: serde_json::Map<String, Value>,
    /// HTTP callback route; `None` means callbacks over Stream.
    pub callback_route_key: Option<String>,
}

/// DingTalk takes card variables as strings only: encode any other value as JSON.
pub fn string_params(params: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    params
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(s))
        })
        .collect()
}

fn create_body(card: &Instance) -> Value {
    let mut body = json!({
        "cardTemplateId": card.template_id,
        "outTrackId": card.out_track_id,
        "cardData": {"cardParamMap": string_params(&card.params)},
        "imGroupOpenSpaceModel": {"supportForward": true},
        "imRobotOpenSpaceModel": {"supportForward": true},
    });
    match &card.callback_route_key {
        Some(key) => {
            body["callbackType"] = json!("HTTP");
            body["callbackRouteKey"] = json!(key);
        }
        None => body["callbackType"] = json!("STREAM"),
    }
    body
}

fn deliver_fields(robot_code: &str, to: &Receiver) -> Value {
    match to {
        Receiver::Group(cid) => json!({
            "openSpaceId": format!("dtv1.card//IM_GROUP.{cid}"),
            "userIdType": 1,
            "imGroupOpenDeliverModel": {"robotCode": robot_code},
        }),
        Receiver::User(staff) => json!({
            "openSpaceId": format!("dtv1.card//IM_ROBOT.{staff}"),
            "userIdType": 1,
            "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"},
        }),
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

async fn card_call(
    api: &OpenApi,
    method: Method,
    path: &str,
    body: &Value,
) -> Result<Value, Error> {
    let answer = api.call(Step::Card, method, path, Some(body)).await?;
    if answer.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(Error::Api {
            step: Step::Card,
            status: 200,
            code: "success=false".into(),
            message: answer.to_string(),
        });
    }
    Ok(answer)
}

/// Create a card instance.
pub async fn create_instance(api: &OpenApi, card: &Instance) -> Result<(), Error> {
    card_call(
        api,
        Method::POST,
        "/v1.0/card/instances",
        &create_body(card),
    )
    .await
    .map(drop)
}

/// Deliver a created instance to `to`.
pub async fn deliver_instance(
    api: &OpenApi,
    out_track_id: &str,
    to: &Receiver,
) -> Result<(), Error> {
    let body = merge(
        json!({"outTrackId": out_track_id}),
        deliver_fields(api.robot_code(), to),
    );
    card_call(api, Method::POST, "/v1.0/card/instances/deliver", &body)
        .await
        .map(drop)
}

/// Create and deliver in one call.
pub async fn create_and_deliver(
    api: &OpenApi,
    card: &Instance,
    to: &Receiver,
) -> Result<(), Error> {
    let body = merge(create_body(card), deliver_fields(api.robot_code(), to));
    card_call(
        api,
        Method::POST,
        "/v1.0/card/instances/createAndDeliver",
        &body,
    )
    .await
    .map(drop)
}

/// Update an instance's variables and, optionally, per-user private variables.
pub async fn update_instance(
    api: &OpenApi,
    out_track_id: &str,
    params: &serde_json::Map<String, Value>,
    private: Option<&serde_json::Map<String, Value>>,
    by_key: bool,
) -> Result<(), Error> {
    let mut body = json!({
        "outTrackId": out_track_id,
        "cardData": {"cardParamMap": string_params(params)},
        "cardUpdateOptions": {"updateCardDataByKey": by_key, "updatePrivateDataByKey": by_key},
        "userIdType": 1,
    });
    if let Some(private) = private {
        let per_user: serde_json::Map<String, Value> = private
            .iter()
            .map(|(user, p)| {
                let p = p.as_object().map(string_params).unwrap_or_default();
                (user.clone(), json!({"cardParamMap": p}))
            })
            .collect();
        body["privateData"] = Value::Object(per_user);
    }
    card_call(api, Method::PUT, "/v1.0/card/instances", &body)
        .await
        .map(drop)
}

/// One streaming update of an AI card.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamUpdate<'a> {
    /// The instance.
    pub out_track_id: &'a str,
    /// The variable streamed into.
    pub key: &'a str,
    /// The text.
    pub content: &'a str,
    /// Replace instead of append.
    pub full: bool,
    /// End the stream.
    pub finalize: bool,
    /// Show the failed state.
    pub failed: bool,
}

/// Stream text into an AI card.
pub async fn stream_instance(api: &OpenApi, update: &StreamUpdate<'_>) -> Result<(), Error> {
    let body = json!({
        "outTrackId": update.out_track_id,
        "guid": format!("{:032x}", rand::random::<u128>()),
        "key": update.key,
        "content": update.content,
        "isFull": update.full,
        "isFinalize": update.finalize,
        "isError": update.failed,
    });
    card_call(api, Method::PUT, "/v1.0/card/streaming", &body)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_default_to_stream_callbacks_with_string_params() {
        let card = Instance {
            template_id: "t.schema".into(),
            out_track_id: "o1".into(),
            params: serde_json::from_value(json!({"n": 3, "s": "x"})).unwrap(),
            callback_route_key: None,
        };
        let body = create_body(&card);
        assert_eq!(body["callbackType"], "STREAM");
        assert_eq!(
            body["cardData"]["cardParamMap"],
            json!({"n": "3", "s": "x"})
        );
        let delivered = merge(
            body,
            deliver_fields("ding1", &Receiver::Group("cid".into())),
        );
        assert_eq!(delivered["openSpaceId"], "dtv1.card//IM_GROUP.cid");
        assert_eq!(delivered["imGroupOpenDeliverModel"]["robotCode"], "ding1");
        assert_eq!(
            deliver_fields("ding1", &Receiver::User("u1".into()))["openSpaceId"],
            "dtv1.card//IM_ROBOT.u1"
        );
    }

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

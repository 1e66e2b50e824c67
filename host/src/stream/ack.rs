//! Up-stream ACK frames (protocol.md B.5, B.6).

use serde::Serialize;

/// An ACK: the answer to one pushed frame, matched by `messageId`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// 200 success, 400 bad request, 404 no handler, 500 handler failure.
    pub code: u16,
    /// Free text; DingTalk does not interpret it.
    pub message: String,
    /// The pushed frame's `messageId`.
    pub message_id: String,
    /// JSON text; its shape depends on the frame type.
    pub data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Headers<'a> {
    content_type: &'static str,
    message_id: &'a str,
}

#[derive(Serialize)]
struct Wire<'a> {
    code: u16,
    headers: Headers<'a>,
    message: &'a str,
    data: &'a str,
}

impl Ack {
    /// Success with `data`.
    pub fn ok(message_id: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            code: 200,
            message: "OK".into(),
            message_id: message_id.into(),
            data: data.into(),
        }
    }

    /// Failure `code` with `message`; `data` is an empty JSON object.
    pub fn error(message_id: impl Into<String>, code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            message_id: message_id.into(),
            data: "{}".into(),
        }
    }

    /// A callback answered with `response` (JSON text; `None` sends `null`).
    pub fn callback(message_id: impl Into<String>, response: Option<&str>) -> Self {
        Self::ok(
            message_id,
            format!("{{\"response\":{}}}", response.unwrap_or("null")),
        )
    }

    /// An event answered `SUCCESS`, or `LATER` with a reason (redeliver later).
    pub fn event(message_id: impl Into<String>, later: Option<&str>) -> Self {
        let data = match later {
            None => serde_json::json!({"status": "SUCCESS", "message": "success"}),
            Some(reason) => serde_json::json!({"status": "LATER", "message": reason}),
        };
        Self::ok(message_id, data.to_string())
    }

    /// The JSON text sent on the socket.
    pub fn encode(&self) -> String {
        let wire = Wire {
            code: self.code,
            headers: Headers {
                content_type: "application/json",
                message_id: &self.message_id,
            },
            message: &self.message,
            data: &self.data,
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn wire(a: &Ack) -> Value {
        serde_json::from_str(&a.encode()).unwrap()
    }

    #[test]
    fn a_callback_ack_wraps_the_response_and_echoes_the_message_id() {
        let v = wire(&Ack::callback("m1", Some(r#"{"a":1}"#)));
        assert_eq!(v["code"], 200);
        assert_eq!(
            v["headers"],
            json!({"contentType": "application/json", "messageId": "m1"})
        );
        let data: Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, json!({"response": {"a": 1}}));
        let empty: Value =
            serde_json::from_str(wire(&Ack::callback("m", None))["data"].as_str().unwrap())
                .unwrap();
        assert_eq!(empty, json!({"response": null}));
    }

    #[test]
    fn event_acks_carry_success_or_later() {
        let ok: Value =
            serde_json::from_str(wire(&Ack::event("e", None))["data"].as_str().unwrap()).unwrap();
        assert_eq!(ok["status"], "SUCCESS");
        let later: Value = serde_json::from_str(
            wire(&Ack::event("e", Some("busy")))["data"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(later, json!({"status": "LATER", "message": "busy"}));
    }

    #[test]
    fn error_acks_carry_code_and_reason() {
        let v = wire(&Ack::error("m", 404, "no plugin for topic /x"));
        assert_eq!(v["code"], 404);
        assert_eq!(v["message"], "no plugin for topic /x");
    }
}

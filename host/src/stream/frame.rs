//! Down-stream frames, decoded once at the edge (protocol.md B.2, B.3).
//!
//! A frame is one JSON object in a WebSocket text message: `type`, string-valued
//! `headers` (with `topic` and `messageId`) and a `data` *string* holding JSON. The
//! decoder checks exactly that and nothing more: `data` is passed on unparsed, so the
//! plugin that owns the topic decides what it means.

use serde_json::{Map, Value};

/// The `type` of a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Gateway housekeeping: `ping`, `disconnect`. Answered by the stream layer.
    System,
    /// A notification (topic `*`).
    Event,
    /// A request DingTalk expects an answer to.
    Callback,
    /// A type this host does not know; answered with an error ACK.
    Other(String),
}

impl FrameType {
    fn parse(s: &str) -> Self {
        match s {
            "SYSTEM" => FrameType::System,
            "EVENT" => FrameType::Event,
            "CALLBACK" => FrameType::Callback,
            other => FrameType::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            FrameType::System => "SYSTEM",
            FrameType::Event => "EVENT",
            FrameType::Callback => "CALLBACK",
            FrameType::Other(s) => s,
        }
    }
}

/// A decoded down-stream frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The frame's `type`.
    pub frame_type: FrameType,
    /// `headers.topic`.
    pub topic: String,
    /// `headers.messageId`, echoed in the ACK.
    pub message_id: String,
    /// Every header, in the order received.
    pub headers: Vec<(String, String)>,
    /// The `data` string (JSON text), unparsed; empty when absent.
    pub data: String,
}

impl Frame {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a text message is not a frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all.
    #[error("frame is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("frame is not a JSON object")]
    NotObject,
    /// No `headers` object.
    #[error("frame has no headers object")]
    MissingHeaders,
    /// A header whose value is not a string (protocol.md B.2: all are strings).
    #[error("header {0:?} is not a string")]
    HeaderNotString(String),
    /// A required header is absent.
    #[error("frame has no {0} header")]
    MissingHeader(&'static str),
    /// No `type`, or not a string.
    #[error("frame has no string type")]
    MissingType,
    /// `data` present but not a string.
    #[error("frame data is not a string")]
    DataNotString,
}

/// A frame that failed to decode, with its messageId when one could be read, so
/// the frame can still be answered with an error ACK.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What was wrong.
    pub error: DecodeError,
    /// `headers.messageId`, when it was a string.
    pub message_id: Option<String>,
}

/// Decode one text message.
pub fn decode(text: &str) -> Result<Frame, Rejected> {
    let value: Value = serde_json::from_str(text).map_err(|e| Rejected {
        error: DecodeError::NotJson(e.to_string()),
        message_id: None,
    })?;
    let Value::Object(mut obj) = value else {
        return Err(Rejected {
            error: DecodeError::NotObject,
            message_id: None,
        });
    };
    let message_id = obj
        .get("headers")
        .and_then(|h| h.get("messageId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    decode_object(&mut obj).map_err(|error| Rejected { error, message_id })
}

fn decode_object(obj: &mut Map<String, Value>) -> Result<Frame, DecodeError> {
    let Some(Value::Object(raw_headers)) = obj.remove("headers") else {
        return Err(DecodeError::MissingHeaders);
    };
    let mut headers = Vec::with_capacity(raw_headers.len());
    for (k, v) in raw_headers {
        match v {
            Value::String(s) => headers.push((k, s)),
            _ => return Err(DecodeError::HeaderNotString(k)),
        }
    }
    let find = |name: &'static str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(DecodeError::MissingHeader(name))
    };
    let topic = find("topic")?;
    let message_id = find("messageId")?;
    let frame_type = match obj.get("type") {
        Some(Value::String(t)) => FrameType::parse(t),
        _ => return Err(DecodeError::MissingType),
    };
    let data = match obj.remove("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(DecodeError::DataNotString),
    };
    Ok(Frame {
        frame_type,
        topic,
        message_id,
        headers,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str =
        include_str!("../../../tests/fixtures/recorded/client_downstream_msg.json");

    #[test]
    fn the_recorded_callback_frame_decodes() {
        let f = decode(RECORDED).unwrap();
        assert_eq!(f.frame_type, FrameType::Callback);
        assert_eq!(f.topic, "/v1.0/im/bot/messages/get");
        assert_eq!(f.message_id, "bbb43a7_fc9_19ce26ebc01_2925aa2");
        assert_eq!(f.header("time"), Some("1774098949543"));
        assert_eq!(f.headers.len(), 6);
        let data: Value = serde_json::from_str(&f.data).unwrap();
        assert_eq!(data["text"]["content"], "?");
    }

    #[test]
    fn a_system_ping_without_spec_version_decodes() {
        let f = decode(r#"{"type":"SYSTEM","headers":{"topic":"ping","messageId":"m1","contentType":"application/json","time":"1"},"data":"{\"opaque\":\"o\"}"}"#).unwrap();
        assert_eq!(f.frame_type, FrameType::System);
        assert_eq!(f.data, r#"{"opaque":"o"}"#);
    }

    #[test]
    fn malformed_frames_are_rejected_with_their_reason() {
        let cases = [
            ("{", "not valid JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"type":"CALLBACK","data":"{}"}"#, "no headers"),
            (
                r#"{"type":"CALLBACK","headers":{"topic":"t","messageId":"m","time":1},"data":"{}"}"#,
                "\"time\" is not a string",
            ),
            (
                r#"{"type":"CALLBACK","headers":{"messageId":"m"},"data":"{}"}"#,
                "no topic header",
            ),
            (
                r#"{"type":"CALLBACK","headers":{"topic":"t"},"data":"{}"}"#,
                "no messageId header",
            ),
            (
                r#"{"headers":{"topic":"t","messageId":"m"},"data":"{}"}"#,
                "no string type",
            ),
            (
                r#"{"type":"CALLBACK","headers":{"topic":"t","messageId":"m"},"data":{"a":1}}"#,
                "data is not a string",
            ),
        ];
        for (text, reason) in cases {
            let err = decode(text).unwrap_err();
            assert!(
                err.error.to_string().contains(reason),
                "{text}: {}",
                err.error
            );
        }
    }

    #[test]
    fn a_rejected_frame_keeps_its_message_id_when_readable() {
        let err =
            decode(r#"{"type":"CALLBACK","headers":{"topic":"t","messageId":"m9"},"data":7}"#)
                .unwrap_err();
        assert_eq!(err.message_id.as_deref(), Some("m9"));
        assert_eq!(decode("nope").unwrap_err().message_id, None);
    }

    #[test]
    fn unknown_types_decode_as_other() {
        let f = decode(r#"{"type":"WEIRD","headers":{"topic":"t","messageId":"m"}}"#).unwrap();
        assert_eq!(f.frame_type, FrameType::Other("WEIRD".into()));
        assert_eq!(f.data, "");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_frame() -> impl Strategy<Value = Frame> {
        let kind = prop_oneof![
            Just(FrameType::System),
            Just(FrameType::Event),
            Just(FrameType::Callback),
            "[A-Z]{1,8}".prop_map(FrameType::Other),
        ];
        let headers = proptest::collection::vec(("[a-zA-Z]{1,12}", ".{0,20}"), 0..6);
        (kind, ".{1,30}", ".{1,30}", headers, ".{0,200}").prop_map(
            |(frame_type, topic, message_id, extra, data)| {
                let mut headers = vec![
                    ("topic".to_owned(), topic.clone()),
                    ("messageId".to_owned(), message_id.clone()),
                ];
                for (k, v) in extra {
                    if k != "topic" && k != "messageId" && !headers.iter().any(|(h, _)| *h == k) {
                        headers.push((k, v));
                    }
                }
                Frame {
                    frame_type,
                    topic,
                    message_id,
                    headers,
                    data,
                }
            },
        )
    }

    fn encode(f: &Frame) -> String {
        let headers: serde_json::Map<String, Value> = f
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        serde_json::json!({"specVersion": "1.0", "type": f.frame_type.as_str(), "headers": headers, "data": f.data})
            .to_string()
    }

    proptest! {
        #[test]
        fn random_text_never_panics_the_decoder(text in ".{0,400}") {
            let _ = decode(&text);
        }

        #[test]
        fn valid_frames_round_trip(frame in arb_frame()) {
            let decoded = decode(&encode(&frame)).expect("a valid frame decodes");
            prop_assert_eq!(decoded.frame_type, frame.frame_type);
            prop_assert_eq!(decoded.topic, frame.topic);
            prop_assert_eq!(decoded.message_id, frame.message_id);
            prop_assert_eq!(decoded.data, frame.data);
            let mut a = decoded.headers.clone();
            let mut b = frame.headers.clone();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn mutated_frames_never_panic_and_keep_their_message_id_when_readable(
            frame in arb_frame(),
            cut in 0usize..400,
            byte in any::<u8>(),
        ) {
            let text = encode(&frame);
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = cut % bytes.len();
                bytes[i] = byte;
                bytes.truncate(bytes.len().max(1) - (cut % 3));
            }
            let mutated = String::from_utf8_lossy(&bytes);
            match decode(&mutated) {
                Ok(f) => prop_assert!(!f.message_id.is_empty()),
                Err(rejected) => prop_assert!(!rejected.error.to_string().is_empty()),
            }
        }
    }
}

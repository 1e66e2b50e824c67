//! probe: a test fixture whose answers the e2e tests steer through the frame.
//!
//! - EVENT `*`: `SUCCESS`, or `LATER` when the data has `"later": true`, or an error
//!   when the `eventType` header is `fail_me`.
//! - CALLBACK `/v1.0/card/instances/callback`: a card update echoing the data's
//!   `value` and this plugin's `greeting` config value; panics when `value` is
//!   `"panic"`, so tests can see the panic message reach the error ACK.

use dingtalk_bot_sdk::{Description, Error, Frame, FrameKind, Outcome, Plugin, config};
use serde_json::{Value, json};

/// The card callback topic.
const CARD_TOPIC: &str = "/v1.0/card/instances/callback";

struct Probe;

impl Plugin for Probe {
    fn describe() -> Description {
        Description::new("probe", env!("CARGO_PKG_VERSION"))
            .events()
            .callback(CARD_TOPIC)
    }

    fn handle(frame: Frame) -> Result<Outcome, Error> {
        let data: Value = frame.json()?;
        match frame.kind {
            FrameKind::Event if frame.header("eventType") == Some("fail_me") => {
                Err(Error::plugin("asked to fail"))
            }
            FrameKind::Event if data["later"] == json!(true) => {
                Ok(Outcome::Later("try again later".into()))
            }
            FrameKind::Event => Ok(Outcome::Done),
            FrameKind::Callback => {
                let value = data["value"].as_str().unwrap_or_default();
                if value == "panic" {
                    panic!("probe panicked on purpose");
                }
                let update = json!({
                    "cardData": {"cardParamMap": {
                        "echo": value,
                        "greeting": config::get("greeting").unwrap_or_default(),
                    }}
                });
                Ok(Outcome::Response(update.to_string()))
            }
        }
    }
}

dingtalk_bot_sdk::export_plugin!(Probe);

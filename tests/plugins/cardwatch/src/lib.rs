//! cardwatch: subscribes to card callbacks (which the operator must grant) and
//! answers each with `{"cardwatch": true}`. It creates no cards, so a callback for a
//! card another plugin created must never reach it.

use dingtalk_bot_sdk::{Description, Error, Frame, Outcome, Plugin};

struct CardWatch;

impl Plugin for CardWatch {
    fn describe() -> Description {
        Description::new("cardwatch", env!("CARGO_PKG_VERSION"))
            .callback("/v1.0/card/instances/callback")
    }

    fn handle(_frame: Frame) -> Result<Outcome, Error> {
        Ok(Outcome::Response("{\"cardwatch\":true}".into()))
    }
}

dingtalk_bot_sdk::export_plugin!(CardWatch);

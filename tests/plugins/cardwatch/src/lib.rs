//! cardwatch: subscribes to card callbacks (which the operator must grant) and
//! answers each with `{"cardwatch": true}`. It creates no cards, so a callback for a
//! card another plugin created must never reach it.

use dingtalk_bot_sdk::{Outcome, Plugin, cards};

fn plugin() -> Plugin {
    Plugin::new("cardwatch", env!("CARGO_PKG_VERSION")).on_callback(cards::CALLBACK_TOPIC, |_| {
        Ok(Outcome::Response("{\"cardwatch\":true}".into()))
    })
}

dingtalk_bot_sdk::export_plugin!(plugin);

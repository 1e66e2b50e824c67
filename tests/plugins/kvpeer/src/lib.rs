//! kvpeer: a second plugin with key-value access, on the delegate topic, that tries
//! to reach another plugin's keys.
//!
//! - `get <key>...`: replies each key's value or `none`, space-separated.
//! - `list`: replies every key it can list.

use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, kv};

fn plugin() -> Plugin {
    Plugin::new("kvpeer", env!("CARGO_PKG_VERSION")).on_delegate(message)
}

fn message(msg: ChatbotMessage) -> Result<Outcome, Error> {
    let text = msg.text_content().unwrap_or_default().trim().to_owned();
    let mut words = text.split_whitespace();
    let answer = match words.next() {
        Some("get") => words
            .map(|k| match kv::get(k) {
                Ok(Some(v)) => format!("{k}={}", String::from_utf8_lossy(&v)),
                Ok(None) => "none".to_owned(),
                Err(e) => format!("error: {}", e.reason()),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some("list") => match kv::keys("").collect::<Result<Vec<_>, _>>() {
            Ok(keys) => format!("keys=[{}]", keys.join(",")),
            Err(e) => format!("error: {}", e.reason()),
        },
        _ => "usage: get <key>... | list".to_owned(),
    };
    dingtalk_bot_sdk::reply_text(&msg, &answer)?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

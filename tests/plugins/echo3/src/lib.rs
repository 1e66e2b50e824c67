//! echo, version 3: replies `v3: <text>`, and its manifest requests an origin it is
//! not granted (so the upgrade rules hold it until the operator grants it). All
//! versions call themselves "echo": replacing one file with another is an upgrade.

use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, reply_text};

fn plugin() -> Plugin {
    Plugin::new("echo", env!("CARGO_PKG_VERSION")).on_message(echo)
}

fn echo(msg: ChatbotMessage) -> Result<Outcome, Error> {
    reply_text(
        &msg,
        &format!("v3: {}", msg.text_content().unwrap_or_default()),
    )?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

//! echo, version 2: replies `v2: <text>`. Both versions call themselves "echo", so
//! replacing one file with the other is an upgrade of the same plugin.

use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, reply_text};

fn plugin() -> Plugin {
    Plugin::new("echo", env!("CARGO_PKG_VERSION")).on_message(echo)
}

fn echo(msg: ChatbotMessage) -> Result<Outcome, Error> {
    reply_text(
        &msg,
        &format!("v2: {}", msg.text_content().unwrap_or_default()),
    )?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

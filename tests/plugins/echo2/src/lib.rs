//! echo, version 2: replies `v2: <text>`. Both versions call themselves "echo", so
//! replacing one file with the other is an upgrade of the same plugin.

use dingtalk_bot_sdk::{Description, Error, Frame, Outcome, Plugin, reply_text};

struct Echo;

impl Plugin for Echo {
    fn describe() -> Description {
        Description::new("echo", env!("CARGO_PKG_VERSION")).chatbot_messages()
    }

    fn handle(frame: Frame) -> Result<Outcome, Error> {
        let msg = frame.chatbot_message()?;
        reply_text(
            &msg,
            &format!("v2: {}", msg.text_content().unwrap_or_default()),
        )?;
        Ok(Outcome::Done)
    }
}

dingtalk_bot_sdk::export_plugin!(Echo);

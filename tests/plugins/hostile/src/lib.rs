//! hostile: a test fixture that misbehaves in the way its message asks.
//!
//! Subscribes to the delegate topic (which the operator must grant). The text of
//! the message picks the attack: `loop`, `alloc`, `panic`, `recurse`, `huge-reply`,
//! `huge-response`, `fs`, `env`, `socket <addr>`, `api`. Attacks that return report
//! what happened as a text reply, so tests can see the sandbox's answer.

use dingtalk_bot_sdk::{
    ChatbotMessage, Description, Error, Frame, Outcome, Plugin, openapi, reply_text,
};

struct Hostile;

impl Plugin for Hostile {
    fn describe() -> Description {
        Description::new("hostile", env!("CARGO_PKG_VERSION"))
            .callback(ChatbotMessage::DELEGATE_TOPIC)
    }

    fn handle(frame: Frame) -> Result<Outcome, Error> {
        let msg = frame.chatbot_message()?;
        let text = msg.text_content().unwrap_or_default().trim().to_owned();
        let (command, arg) = text.split_once(' ').unwrap_or((&text, ""));
        let report = match command {
            "loop" => loop {
                std::hint::black_box(0u64);
            },
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile panicked on purpose"),
            "recurse" => format!("{}", recurse(std::hint::black_box(1))),
            "huge-reply" => {
                reply_text(&msg, &"x".repeat(8 << 20))?;
                "sent".to_owned()
            }
            "huge-response" => {
                return Ok(Outcome::Response(format!("\"{}\"", "y".repeat(1 << 20))));
            }
            "fs" => match std::fs::read_to_string("/etc/passwd") {
                Ok(_) => "read /etc/passwd".to_owned(),
                Err(e) => format!("fs refused: {e}"),
            },
            "env" => format!(
                "env vars: {}, args: {}",
                std::env::vars().count(),
                std::env::args().count()
            ),
            "socket" => match std::net::TcpStream::connect(arg) {
                Ok(_) => format!("connected to {arg}"),
                Err(e) => format!("socket refused: {e}"),
            },
            "api" => match openapi::call("GET", "/v1.0/contact/users/me", None) {
                Ok(v) => format!("api answered {v}"),
                Err(e) => format!("api refused: {}", e.reason()),
            },
            other => format!("unknown attack {other:?}"),
        };
        reply_text(&msg, &report)?;
        Ok(Outcome::Done)
    }
}

fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    if pad[0] == 0 {
        0
    } else {
        recurse(n + 1) + pad[63]
    }
}

dingtalk_bot_sdk::export_plugin!(Hostile);

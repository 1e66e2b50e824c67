//! probe: a test fixture whose answers the e2e tests steer through the frame.
//!
//! - EVENT `*`: `SUCCESS`, or `LATER` when the data has `"later": true`, or an error
//!   when the `eventType` header is `fail_me`.
//! - CALLBACK `/v1.0/card/instances/callback`: a card update echoing the data's
//!   `value` and this plugin's `greeting` config value; panics when `value` is
//!   `"panic"`, so tests can see the panic message reach the error ACK.
//! - CALLBACK `/v1.0/im/bot/messages/delegate` (a chatbot message): runs the API
//!   named by the text (`instance`, `replies`, `proactive`, `openapi <path>`) or downloads the
//!   file of a file message, and replies with what happened.

use dingtalk_bot_sdk::cards::{self, CardInstance, StreamMode};
use dingtalk_bot_sdk::message::MessageBody;
use dingtalk_bot_sdk::reply::{self, ActionButton, ActionCardContent, FeedLink, LinkContent};
use dingtalk_bot_sdk::{
    ChatbotMessage, Error, Event, Outcome, Plugin, config, media, messages, openapi, reply_text,
};
use serde_json::{Value, json};

fn plugin() -> Plugin {
    Plugin::new("probe", env!("CARGO_PKG_VERSION"))
        .on_event(event)
        .on_callback(cards::CALLBACK_TOPIC, pressed)
        .on_delegate(message)
}

fn event(event: Event) -> Result<Outcome, Error> {
    if event.event_type == "fail_me" {
        return Err(Error::plugin("asked to fail"));
    }
    if event.data["later"] == json!(true) {
        return Ok(Outcome::Later("try again later".into()));
    }
    if event.data["reply"] == json!(true) {
        // An event carries no session webhook the host would reply to, whatever its
        // data says: this must be refused.
        let nobody = reply::At::nobody();
        dingtalk_bot_sdk::bindings::dingtalk::bot::reply::text("from an event", &nobody)?;
    }
    Ok(Outcome::Done)
}

fn pressed(data: Value) -> Result<Outcome, Error> {
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

fn message(msg: ChatbotMessage) -> Result<Outcome, Error> {
    let answer = match run_command(&msg) {
        Ok(text) => format!("ok: {text}"),
        Err(e) => format!("error: {}", e.reason()),
    };
    reply_text(&msg, &answer)?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

fn run_command(msg: &ChatbotMessage) -> Result<String, Error> {
    if let MessageBody::File { download_code, .. } = msg.body() {
        let bytes = media::download(&download_code, 1024)?;
        return Ok(String::from_utf8_lossy(&bytes).trim().to_owned());
    }
    let text = msg.text_content().unwrap_or_default().trim();
    let id = format!("o-{}", msg.msg_id);
    match text.split_once(' ').unwrap_or((text, "")) {
        ("instance", _) => {
            cards::create_and_deliver(&CardInstance::new(
                "t.schema",
                &id,
                &json!({"n": 1, "s": "x"}),
            ))?;
            cards::update_instance(
                &id,
                &json!({"s": "y"}),
                Some(&json!({"u1": {"liked": true}})),
                true,
            )?;
            let mode = StreamMode {
                full: true,
                finalize: true,
                failed: false,
            };
            cards::stream_instance(&id, "msgContent", "hello", mode)?;
            Ok(id)
        }
        ("replies", _) => {
            let button = |t: &str| ActionButton {
                title: t.to_owned(),
                action_url: format!("https://example.com/{t}"),
            };
            reply::action_card(
                msg,
                &ActionCardContent {
                    title: "choose".into(),
                    text: "**pick one**".into(),
                    single: None,
                    buttons: vec![button("a"), button("b")],
                    vertical: true,
                },
            )?;
            reply::link(
                msg,
                &LinkContent {
                    title: "t".into(),
                    text: "x".into(),
                    message_url: "https://example.com".into(),
                    pic_url: "@lADPmedia".into(),
                },
            )?;
            reply::feed_card(
                msg,
                &[FeedLink {
                    title: "f".into(),
                    message_url: "https://example.com/f".into(),
                    pic_url: "@lADPmedia".into(),
                }],
            )?;
            Ok("three replies".into())
        }
        ("proactive", _) => {
            messages::send_to_users(&["u1".to_owned()], "sampleText", &json!({"content": "hi"}))
        }
        ("download", code) => {
            let bytes = media::download(code, 1024)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        ("openapi", path) => Ok(openapi::call("POST", path, Some(&json!({"a": 1})))?.to_string()),
        (other, _) => Err(Error::plugin(format!("unknown command {other:?}"))),
    }
}

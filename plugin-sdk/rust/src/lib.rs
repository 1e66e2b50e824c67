//! Write DingTalk bot plugins for the `host` runtime in a few lines of Rust.
//!
//! A plugin is a WebAssembly component (built for `wasm32-wasip2`) that the host loads
//! and calls once per pushed frame, each time in a fresh sandboxed instance. The host
//! owns the connection, the credentials and every HTTP call; a plugin only sees the
//! frame it was given and the functions of this crate.
//!
//! ```no_run
//! use dingtalk_bot_sdk::{ChatbotMessage, Description, Error, Frame, Outcome, Plugin};
//!
//! struct Echo;
//!
//! impl Plugin for Echo {
//!     fn describe() -> Description {
//!         Description::new("echo", "0.1.0").chatbot_messages()
//!     }
//!
//!     fn handle(frame: Frame) -> Result<Outcome, Error> {
//!         let msg: ChatbotMessage = frame.chatbot_message()?;
//!         dingtalk_bot_sdk::reply_text(&msg, &format!("you said: {}", msg.text_content().unwrap_or("")))?;
//!         Ok(Outcome::Done)
//!     }
//! }
//!
//! dingtalk_bot_sdk::export_plugin!(Echo);
//! ```
//!
//! Build it with `host build` (a size-tuned `cargo build --release --target
//! wasm32-wasip2`) and hand the `.wasm` file to `host run`.
//!
//! The module layout follows the capabilities (plus [`ai`], helpers for AI assistants
//! built on them): [`message`] (typed chatbot messages of
//! every msgtype), [`event`], [`reply`] (session webhook replies: text, markdown,
//! action cards, links, feed cards), [`media`] (upload, download), [`card`]
//! (StandardCards, card instances, card callbacks), [`messages`] (proactive, needs a
//! grant), [`openapi`] (any other API, needs a grant), [`http`] (outbound HTTP to
//! granted origins, streaming, server-sent events), [`kv`] (state that outlives a
//! frame), [`clock`], [`log`] and [`config`]. The WIT contract in the
//! repository's `wit/` folder is the single source of truth for every type here.

#![deny(missing_docs)]

extern crate self as dingtalk_bot_sdk;

pub mod ai;
pub mod card;
pub mod clock;
pub mod config;
mod error;
pub mod event;
mod frame;
pub mod http;
pub mod kv;
pub mod log;
pub mod media;
pub mod message;
pub mod messages;
pub mod openapi;
pub mod reply;
pub mod sse;

#[doc(hidden)]
pub use wit_bindgen::rt as __wit_rt;

/// Bindings generated from `wit/` (the `plugin` world). Plugin authors rarely need
/// these directly; the crate root re-exports what they use.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../../wit",
        runtime_path: "::dingtalk_bot_sdk::__wit_rt",
        default_bindings_module: "::dingtalk_bot_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
    });
}

pub use bindings::dingtalk::bot::types::{
    Description, DingtalkError, Error, Frame, FrameKind, Outcome, Subscription,
};
pub use event::Event;
pub use message::ChatbotMessage;
pub use reply::{At, reply_markdown, reply_text};

/// What a plugin implements. Both functions are called in a fresh instance: keep no
/// state between calls, it would not survive.
pub trait Plugin {
    /// Name, version and the (kind, topic) pairs this plugin wants. Called once when
    /// the host loads the plugin.
    fn describe() -> Description;

    /// Handle one frame. The returned [`Outcome`] becomes the frame's ACK; an
    /// [`Error`] becomes an error ACK (code 500) carrying its text.
    fn handle(frame: Frame) -> Result<Outcome, Error>;
}

impl Description {
    /// A plugin called `name` at `version`, subscribed to nothing yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            subscriptions: Vec::new(),
        }
    }

    /// Subscribe to CALLBACK frames of `topic`.
    pub fn callback(mut self, topic: impl Into<String>) -> Self {
        self.subscriptions.push(Subscription {
            kind: FrameKind::Callback,
            topic: topic.into(),
        });
        self
    }

    /// Subscribe to messages sent to the robot (`/v1.0/im/bot/messages/get`).
    pub fn chatbot_messages(self) -> Self {
        self.callback(ChatbotMessage::TOPIC)
    }

    /// Subscribe to every event chosen in the developer console (topic `*`).
    pub fn events(mut self) -> Self {
        self.subscriptions.push(Subscription {
            kind: FrameKind::Event,
            topic: "*".into(),
        });
        self
    }
}

/// Export a type implementing [`Plugin`] as this component's `describe` and `handle`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            struct __DingtalkBotExport;

            impl $crate::bindings::Guest for __DingtalkBotExport {
                fn describe() -> $crate::Description {
                    <$plugin as $crate::Plugin>::describe()
                }

                fn handle(
                    frame: $crate::Frame,
                ) -> ::core::result::Result<$crate::Outcome, $crate::Error> {
                    <$plugin as $crate::Plugin>::handle(frame)
                }
            }

            $crate::bindings::__export_plugin_world!(__DingtalkBotExport);
        };
    };
}

//! Write DingTalk bot plugins for the `host` runtime in a few lines of Rust.
//!
//! A plugin is a WebAssembly component (built for `wasm32-wasip2`) that the host loads
//! and calls once per pushed frame, each time in a fresh sandboxed instance. The host
//! owns the connection, the credentials and every HTTP call; a plugin only sees the
//! frame it was given and the functions of this crate.
//!
//! ```no_run
//! use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, reply_text};
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("echo", "0.1.0").on_message(echo)
//! }
//!
//! fn echo(msg: ChatbotMessage) -> Result<Outcome, Error> {
//!     reply_text(&msg, &format!("you said: {}", msg.text_content().unwrap_or("")))?;
//!     Ok(Outcome::Done)
//! }
//!
//! dingtalk_bot_sdk::export_plugin!(plugin);
//! ```
//!
//! The same entry point as the TypeScript and Python SDKs: a [`Plugin`] object with
//! its handlers registered on it, its subscriptions read off the registrations (so
//! `describe` cannot list a topic nothing handles). `plugin-sdk/CONCEPTS.md` is the
//! table of names the three SDKs share.
//!
//! Build it with `host build` (a size-tuned `cargo build --release --target
//! wasm32-wasip2`) and hand the `.wasm` file to `host run`.
//!
//! The module layout follows the capabilities (plus [`ai`], helpers for AI assistants
//! built on them): [`message`] (typed chatbot messages of
//! every msgtype), [`event`], [`reply`] (session webhook replies: text, markdown,
//! action cards, links, feed cards), [`media`] (upload, download), [`cards`]
//! (StandardCards, card instances, card callbacks), [`messages`] (proactive, needs a
//! grant), [`openapi`] (any other API, needs a grant), [`http`] (outbound HTTP to
//! granted origins, streaming, server-sent events), [`kv`] (state that outlives a
//! frame), [`clock`], [`log`] and [`config`]. The WIT contract in the
//! repository's `wit/` folder is the single source of truth for every type here.

#![deny(missing_docs)]

extern crate self as dingtalk_bot_sdk;

pub mod ai;
pub mod cards;
pub mod clock;
pub mod config;
#[cfg(test)]
mod conformance;
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
mod plugin;
pub mod reply;
pub mod sse;
pub mod tools;

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
pub use plugin::{CHATBOT_TOPIC, DELEGATE_TOPIC, Plugin};
pub use reply::{At, reply_markdown, reply_text};

/// Export the [`Plugin`] a function builds as this component's `describe`,
/// `handle` and `call-tool`. The function runs once per call (each in a fresh instance), so it
/// should only register handlers.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:path) => {
        const _: () = {
            struct __DingtalkBotExport;

            impl $crate::bindings::Guest for __DingtalkBotExport {
                fn describe() -> $crate::Description {
                    $plugin().describe()
                }

                fn handle(
                    frame: $crate::Frame,
                ) -> ::core::result::Result<$crate::Outcome, $crate::Error> {
                    $plugin().handle(frame)
                }

                fn call_tool(
                    name: ::std::string::String,
                    arguments: ::std::string::String,
                    conversation: $crate::tools::Conversation,
                ) -> ::core::result::Result<::std::string::String, $crate::Error> {
                    $plugin().call_tool(&name, &arguments, &conversation)
                }
            }

            $crate::bindings::__export_plugin_world!(__DingtalkBotExport);
        };
    };
}

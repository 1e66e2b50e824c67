//! The host's only `bindgen!`, generated from the WIT package in `wit/`.
//!
//! Every import is `async` (host calls await HTTP without blocking a tokio worker).
//! Functions returning the WIT `error` return [`HostError`] instead
//! (`trappable_error_type`), so host functions use `?` on typed failures the guest
//! should see, and a host bug still traps the one guest call instead of panicking.

#![allow(missing_docs)]

use super::capability::HostError;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    // The frame handed to `handle` borrows the host's decoded frame: no copy of its
    // topic, headers and data per call.
    ownership: Borrowing { duplicate_if_necessary: true },
    trappable_error_type: { "dingtalk:bot/types.error" => HostError },
});

pub use dingtalk::bot::types::{DingtalkError, Error as WitError, Frame as WitFrame, FrameKind};

//! The host's only `bindgen!`, generated from the WIT package in `wit/`.
//!
//! Every import is `async` (host calls await HTTP without blocking a tokio worker)
//! and `trappable` (a host bug traps the one guest call instead of panicking); typed
//! failures the guest should see travel inside the WIT `error` variant.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use dingtalk::bot::types::{DingtalkError, Error as WitError, Frame as WitFrame, FrameKind};

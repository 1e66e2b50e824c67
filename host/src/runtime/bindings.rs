//! The host's only `bindgen!`, generated from the WIT package in `wit/`, and the
//! error every host function returns.
//!
//! Every import is `async` (host calls await HTTP without blocking a tokio worker).
//! Functions returning the WIT `error` return [`HostError`] instead
//! (`trappable_error_type`), so host functions use `?` on typed failures the guest
//! should see, and a host bug still traps the one guest call instead of panicking.
//! The conversion is written once and implemented for every capability's view.

#![allow(missing_docs)]

use crate::metrics::CallResult;
use crate::openapi as http_api;

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

pub use dingtalk::bot::types::{
    Conversation as WitConversation, DingtalkError, Error as WitError, Frame as WitFrame, FrameKind,
};

/// The version of the `dingtalk:bot` package in `wit/` (the `package` line).
pub const WIT_VERSION: &str = "0.3.0";

/// What a host function fails with: an error the guest sees, or a trap.
#[derive(Debug)]
pub enum HostError {
    /// Returned to the guest as the WIT `error`.
    Guest(WitError),
    /// Ends the call (a host bug, never the guest's input).
    Trap(wasmtime::Error),
}

/// A host function's result.
pub type HostResult<T> = Result<T, HostError>;

impl From<WitError> for HostError {
    fn from(e: WitError) -> Self {
        HostError::Guest(e)
    }
}

impl From<http_api::Error> for HostError {
    fn from(e: http_api::Error) -> Self {
        HostError::Guest(to_wit(e))
    }
}

impl From<wasmtime::Error> for HostError {
    fn from(e: wasmtime::Error) -> Self {
        HostError::Trap(e)
    }
}

/// A guest error is handed to the guest; a trap ends the call.
pub fn convert(err: HostError) -> wasmtime::Result<WitError> {
    match err {
        HostError::Guest(e) => Ok(e),
        HostError::Trap(e) => Err(e),
    }
}

/// Implement the WIT error's conversion for a type that serves an interface (each
/// capability's view says it once, beside the view).
macro_rules! converts_errors {
    ($ty:ty) => {
        impl $crate::runtime::bindings::dingtalk::bot::types::Host for $ty {
            fn convert_error(
                &mut self,
                err: $crate::runtime::bindings::HostError,
            ) -> wasmtime::Result<$crate::runtime::bindings::WitError> {
                $crate::runtime::bindings::convert(err)
            }
        }
    };
}
pub(crate) use converts_errors;

/// Declare `HasView`, the linker's marker for a capability's view `$view` (what
/// `add_to_linker` projects the store's state to, as wasmtime-wasi's `HasWasi`), and
/// the view's WIT error conversion.
macro_rules! linked_view {
    ($view:ident) => {
        /// The view's `HasData` marker for the linker.
        pub struct HasView;

        impl wasmtime::component::HasData for HasView {
            type Data<'a> = $view<'a>;
        }

        $crate::runtime::bindings::converts_errors!($view<'_>);
    };
}
pub(crate) use linked_view;

/// `denied(reason)`.
pub fn denied(reason: impl Into<String>) -> HostError {
    HostError::Guest(WitError::Denied(reason.into()))
}

/// `invalid-argument(reason)`.
pub fn invalid(reason: impl Into<String>) -> HostError {
    HostError::Guest(WitError::InvalidArgument(reason.into()))
}

/// `limit(reason)`.
pub fn limit(reason: impl Into<String>) -> HostError {
    HostError::Guest(WitError::Limit(reason.into()))
}

/// How `result` ended, as metrics count it.
pub fn call_result<T>(result: &HostResult<T>) -> CallResult {
    match result {
        Ok(_) => CallResult::Ok,
        Err(HostError::Guest(e)) => match e {
            WitError::Dingtalk(_) => CallResult::Dingtalk,
            WitError::Timeout(_) => CallResult::Timeout,
            WitError::Network(_) => CallResult::Network,
            WitError::InvalidArgument(_) => CallResult::Invalid,
            WitError::Denied(_) => CallResult::Denied,
            WitError::Plugin(_) => CallResult::Plugin,
            WitError::Limit(_) => CallResult::Limit,
            WitError::Unavailable(_) => CallResult::Unavailable,
        },
        Err(HostError::Trap(_)) => CallResult::Trap,
    }
}

/// The guest's view of a DingTalk HTTP error.
pub fn to_wit(e: http_api::Error) -> WitError {
    match e {
        http_api::Error::Api {
            status,
            code,
            message,
            ..
        } => WitError::Dingtalk(DingtalkError {
            status,
            code,
            message,
        }),
        http_api::Error::Timeout { step } => WitError::Timeout(format!("{step} timed out")),
        e @ http_api::Error::TooLarge { .. } => WitError::InvalidArgument(e.to_string()),
        e @ (http_api::Error::Network { .. }
        | http_api::Error::Connect { .. }
        | http_api::Error::AnswerTooLarge { .. }
        | http_api::Error::BadResponse { .. }) => WitError::Network(e.to_string()),
    }
}

/// The text of a WIT error, with DingTalk's code and message when present.
pub fn describe_error(e: &WitError) -> String {
    match e {
        WitError::Dingtalk(d) => format!(
            "DingTalk answered HTTP {}, code {:?}: {}",
            d.status, d.code, d.message
        ),
        WitError::Timeout(s) => format!("timeout: {s}"),
        WitError::Network(s) => format!("network: {s}"),
        WitError::InvalidArgument(s) => format!("invalid argument: {s}"),
        WitError::Denied(s) => format!("denied: {s}"),
        WitError::Plugin(s) => s.clone(),
        WitError::Limit(s) => format!("limit: {s}"),
        WitError::Unavailable(s) => format!("unavailable: {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_constant_is_the_wit_packages() {
        let wit = include_str!("../../../wit/bot.wit");
        assert!(
            wit.lines()
                .any(|l| l == format!("package dingtalk:bot@{WIT_VERSION};")),
            "wit/bot.wit does not declare version {WIT_VERSION}"
        );
    }
}

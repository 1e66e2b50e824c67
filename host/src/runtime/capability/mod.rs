//! Everything a plugin can do beyond computing, one module per capability.
//!
//! Each module owns, in one place: its WIT interface's host functions, its keys of a
//! plugin's `[plugins.<name>]` config section and their parsing (its grant, shown by
//! `host check`), the part of the frame's scope it reads, and its argument limits.
//! Adding a capability is its WIT interface, one module here and one line in the
//! `registry!` below (its name and grant type).
//!
//! Invariants every host function keeps:
//! - Argument sizes and counts are checked first, before anything is parsed, copied
//!   or sent, so a hostile argument costs the host no more than reading its length.
//!   Each limit is documented on the WIT function it applies to.
//! - A refusal is a typed WIT error (`denied`, `invalid-argument`) the guest can
//!   handle; only a host bug traps.
//! - Nothing guest-supplied reaches an ACK or a log unbounded ([`cap_text`]).

pub mod cards;
pub mod clock;
pub mod config;
pub mod http;
pub mod kv;
pub mod log;
pub mod media;
pub mod messages;
pub mod openapi;
pub mod reply;
pub mod routing;
pub mod topics;

use std::fmt;

use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::{DingtalkError, WitError};
use super::state::State;
use crate::openapi as http_api;

/// What a host function fails with: an error the guest sees, or a trap.
#[derive(Debug)]
pub enum HostError {
    /// Returned to the guest as the WIT `error`.
    Guest(WitError),
    /// Ends the call (a host bug, never the guest's input).
    Trap(wasmtime::Error),
}

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

impl super::bindings::dingtalk::bot::types::Host for State {
    fn convert_error(&mut self, err: HostError) -> wasmtime::Result<WitError> {
        match err {
            HostError::Guest(e) => Ok(e),
            HostError::Trap(e) => Err(e),
        }
    }
}

/// A host function's result.
pub type HostResult<T> = Result<T, HostError>;

/// `denied(reason)`.
pub fn denied(reason: impl Into<String>) -> HostError {
    HostError::Guest(WitError::Denied(reason.into()))
}

/// `invalid-argument(reason)`.
pub fn invalid(reason: impl Into<String>) -> HostError {
    HostError::Guest(WitError::InvalidArgument(reason.into()))
}

/// Longest id-like argument (card ids, template ids, keys, user ids, download codes).
pub const MAX_ID: usize = 256;

/// Longest URL argument.
pub const MAX_URL: usize = 2048;

/// Refuse `value` when it is longer than `max` bytes, naming `what`.
pub fn check_len(what: &str, value: &str, max: usize) -> HostResult<()> {
    if value.len() > max {
        return Err(invalid(format!(
            "{what} is {} bytes; at most {max} are allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Refuse a list with more than `max` entries, or an entry longer than `max_each`.
pub fn check_list(what: &str, items: &[String], max: usize, max_each: usize) -> HostResult<()> {
    if items.len() > max {
        return Err(invalid(format!(
            "{what} has {} entries; at most {max} are allowed",
            items.len()
        )));
    }
    items.iter().try_for_each(|i| check_len(what, i, max_each))
}

/// Parse a guest-supplied JSON object of at most `max` bytes (checked first).
pub fn json_object(
    what: &str,
    text: &str,
    max: usize,
) -> HostResult<serde_json::Map<String, Value>> {
    check_len(what, text, max)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(format!("{what} must be a JSON object"))),
        Err(e) => Err(invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Longest guest-supplied text that reaches an ACK or a log line.
pub const MAX_REPORTED: usize = 1024;

/// `text` cut to at most `max` bytes at a char boundary, with a marker saying how
/// much was cut; returned as is (no copy) when it fits.
pub fn cap_text(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("…[{cut} bytes cut]"));
    text
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

/// One capability's keys of a plugin's config section, parsed.
pub trait Grant: Sized + Default + Clone + fmt::Debug + PartialEq {
    /// The keys of `[plugins.<name>]` this capability owns.
    const KEYS: &'static [&'static str];

    /// Parse this capability's keys from `section` (other keys are not its concern).
    fn parse(section: &toml::Table) -> Result<Self, String>;

    /// What it grants, one line each, for `host check`; empty when nothing.
    fn show(&self) -> Vec<String>;
}

/// For capabilities no operator setting changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoGrant;

impl Grant for NoGrant {
    const KEYS: &'static [&'static str] = &[];

    fn parse(_: &toml::Table) -> Result<Self, String> {
        Ok(NoGrant)
    }

    fn show(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Every capability, registered once: its grant becomes a field of [`Grants`] and
/// its host functions are linked by [`add_to_linker`].
macro_rules! registry {
    ($($cap:ident: $grant:ty),* $(,)?) => {
        /// What the operator granted one plugin, one field per capability.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Grants {
            $(
                #[doc = concat!("The `", stringify!($cap), "` capability's grant.")]
                pub $cap: $grant,
            )*
        }

        impl Grants {
            /// Parse the capability keys of a plugin's config section; a key no
            /// capability owns is an error naming it.
            pub fn parse(section: &toml::Table) -> Result<Self, String> {
                let owned: &[&[&str]] = &[$(<$grant as Grant>::KEYS),*];
                if let Some(key) = section.keys().find(|k| !owned.iter().any(|keys| keys.contains(&k.as_str()))) {
                    return Err(format!("unknown key {key:?}"));
                }
                Ok(Self {
                    $($cap: Grant::parse(section).map_err(|e| format!("{}: {e}", stringify!($cap)))?,)*
                })
            }

            /// Every grant, one line each, for `host check`.
            pub fn show(&self) -> Vec<String> {
                let mut lines = Vec::new();
                $(lines.extend(self.$cap.show());)*
                lines
            }
        }

        /// Link every capability's host functions.
        pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
            $(link::<$cap::Capability, $grant>(linker)?;)*
            Ok(())
        }
    };
}

/// One capability: its grant type and how its imports are linked.
pub(crate) trait Capability {
    /// Its part of a plugin's config section.
    type Grant: Grant;

    /// Link its WIT interface's host functions (none for load-time capabilities).
    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()>;
}

/// Link capability `C`, checking its grant type is the one registered.
fn link<C: Capability<Grant = G>, G: Grant>(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    C::add_to_linker(linker)
}

/// Link the WIT interface `$iface` (a module of the bindings) for `State`.
macro_rules! link_iface {
    ($linker:expr, $iface:ident) => {
        $crate::runtime::bindings::dingtalk::bot::$iface::add_to_linker::<
            State,
            wasmtime::component::HasSelf<State>,
        >($linker, |s| s)
    };
}
pub(crate) use link_iface;

registry!(
    topics: topics::Grant,
    config: config::Grant,
    log: NoGrant,
    reply: NoGrant,
    media: NoGrant,
    cards: NoGrant,
    messages: messages::Grant,
    openapi: openapi::Grant,
    clock: NoGrant,
    http: http::Grant,
    kv: NoGrant,
    routing: routing::Grant,
);

/// Builders for embedders and tests; the config file goes through [`Grants::parse`].
impl Grants {
    /// Also grant these `"CALLBACK <topic>"` / `"EVENT *"` topics.
    pub fn with_topics(mut self, entries: &[String]) -> Result<Self, String> {
        let more = topics::Grant::from_entries(entries)?;
        self.topics.topics.extend(more.topics);
        Ok(self)
    }

    /// Also grant these `openapi` entries (`"/path"`, `"/prefix/*"`, `"GET /path"`).
    pub fn with_openapi(mut self, entries: &[String]) -> Result<Self, String> {
        let more = openapi::Grant::from_entries(entries)?;
        self.openapi.routes.extend(more.routes);
        Ok(self)
    }

    /// Grant proactive messages.
    pub fn with_proactive(mut self) -> Self {
        self.messages.proactive = true;
        self
    }

    /// Also grant outbound HTTP to these origins (`"https://api.example.com"`).
    pub fn with_http(mut self, entries: &[String]) -> Result<Self, String> {
        let more = http::Grant::from_entries(entries)?;
        self.http.origins.extend(more.origins);
        Ok(self)
    }

    /// Every secret the grants name is in `secrets`.
    pub fn check_secrets(&self, secrets: &crate::secrets::Secrets) -> Result<(), String> {
        self.http.check_secrets(secrets)
    }

    /// Set a config value.
    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.config.values.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// The shared `types` interface has no functions but the error conversion.
pub(crate) fn add_types_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    super::bindings::dingtalk::bot::types::add_to_linker::<State, HasSelf<State>>(linker, |s| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_char_boundary_with_a_marker() {
        assert_eq!(cap_text("short".to_owned(), 10), "short");
        let cut = cap_text("é".repeat(10), 5);
        assert_eq!(cut, "éé…[16 bytes cut]");
        assert!(cap_text("x".repeat(60 << 20), MAX_REPORTED).len() < MAX_REPORTED + 32);
    }

    #[test]
    fn lengths_are_checked_before_json_is_parsed() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
        let err = json_object("the card", &big, 50).unwrap_err();
        assert!(
            matches!(err, HostError::Guest(WitError::InvalidArgument(ref m)) if m.contains("at most 50")),
            "{err:?}"
        );
        assert!(json_object("the card", "[1]", 50).is_err());
        assert!(json_object("the card", "{\"a\":1}", 50).is_ok());
        assert!(check_list("user ids", &vec!["a".to_owned(); 3], 2, 10).is_err());
    }

    #[test]
    fn a_key_no_capability_owns_is_refused_by_name() {
        let section: toml::Table = toml::from_str("confg = {}\n").unwrap();
        assert!(Grants::parse(&section).unwrap_err().contains("confg"));
        let section: toml::Table =
            toml::from_str("proactive = true\nopenapi = [\"/v1.0/x\"]\n").unwrap();
        let g = Grants::parse(&section).unwrap();
        assert!(g.messages.proactive);
        assert_eq!(g.show().len(), 2);
    }
}

//! Everything a plugin can do beyond computing, one module per capability.
//!
//! Each module owns, in one place: its WIT interface's host functions, implemented on
//! its own *view* (the state it reads and changes, borrowed for one call: its
//! app-level state, its part of the frame's scope, its grant, its per-frame
//! counters), its keys of a plugin's `[plugins.<name>]` config section and their
//! parsing (its grant, shown by `host check`), and its argument limits. A capability
//! knows nothing of the store's whole state: `runtime::state` aggregates the
//! capabilities' states and projects each view when it links the interface, as
//! wasmtime-wasi does for WASI. This module only registers the grants.
//!
//! Invariants every host function keeps:
//! - Argument sizes and counts are checked first, before anything is parsed, copied
//!   or sent, so a hostile argument costs the host no more than reading its length.
//!   Each limit is documented on the WIT function it applies to.
//! - A refusal is a typed WIT error (`denied`, `invalid-argument`, `limit`) the guest
//!   can handle; only a host bug traps.
//! - Nothing guest-supplied reaches an ACK or a log unbounded ([`args::cap_text`]).

pub mod args;
pub mod cards;
pub mod clock;
pub mod config;
pub mod grant;
pub mod http;
pub mod kv;
pub mod log;
pub mod media;
pub mod messages;
pub mod openapi;
pub mod reply;
pub mod routing;
pub mod tools;
pub mod topics;

use grant::{Grant, GrantError, NoGrant};

/// Every capability's grant, registered once: it becomes a field of [`Grants`].
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
            pub fn parse(section: &toml::Table) -> Result<Self, GrantError> {
                let owned: &[&[&str]] = &[$(<$grant as Grant>::KEYS),*];
                if let Some(key) = section.keys().find(|k| !owned.iter().any(|keys| keys.contains(&k.as_str()))) {
                    return Err(GrantError::new(key, "is not a key of a plugin's section (a typo?)"));
                }
                Ok(Self {
                    $($cap: Grant::parse(section)?,)*
                })
            }

            /// Every grant, one line each, for `host check`.
            pub fn show(&self) -> Vec<String> {
                let mut lines = Vec::new();
                $(lines.extend(self.$cap.show());)*
                lines
            }
        }
    };
}

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
    tools: tools::Grant,
);

/// Builders for embedders and tests; the config file goes through [`Grants::parse`].
impl Grants {
    /// What a plugin's manifest requests (`requests`, in a config section's keys),
    /// read by the operator's own parser so a malformed request is named the way a
    /// malformed grant is. Reading a request grants nothing.
    pub fn requested(requests: &toml::Table) -> Result<Self, String> {
        Self::parse(requests).map_err(|e| format!("requests {}: {}", e.key, e.reason))
    }

    /// Also grant these `"CALLBACK <topic>"` / `"EVENT *"` topics.
    pub fn with_topics(mut self, entries: &[String]) -> Result<Self, GrantError> {
        let more = topics::Grant::from_entries(entries)?;
        self.topics.topics.extend(more.topics);
        Ok(self)
    }

    /// Also grant these `openapi` entries (`"/path"`, `"/prefix/*"`, `"GET /path"`).
    pub fn with_openapi(mut self, entries: &[String]) -> Result<Self, GrantError> {
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
    pub fn with_http(mut self, entries: &[String]) -> Result<Self, GrantError> {
        let more = http::Grant::from_entries(entries)?;
        self.http.origins.extend(more.origins);
        Ok(self)
    }

    /// Every secret the grants name is in `secrets`.
    pub fn check_secrets(&self, secrets: &crate::secrets::Secrets) -> Result<(), GrantError> {
        self.http.check_secrets(secrets)
    }

    /// Also grant these tools (`"calcbot.*"`, `"todobot.add"`).
    pub fn with_tools(mut self, entries: &[&str]) -> Result<Self, GrantError> {
        let section: toml::Table = [(
            "tools".to_owned(),
            toml::Value::Array(entries.iter().map(|e| toml::Value::from(*e)).collect()),
        )]
        .into_iter()
        .collect();
        let more = <tools::Grant as Grant>::parse(&section)?;
        self.tools.patterns.extend(more.patterns);
        Ok(self)
    }

    /// Set a config value.
    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.config.values.insert(key.to_owned(), value.to_owned());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifests_requests_read_as_grants_and_a_bad_one_is_named() {
        let asked: toml::Table =
            toml::from_str("http = [\"https://crm.example.com\"]\nproactive = true").unwrap();
        assert!(Grants::requested(&asked).unwrap().messages.proactive);
        let bad: toml::Table = toml::from_str("http = [\"ftp://x\"]").unwrap();
        assert!(Grants::requested(&bad).unwrap_err().contains("http"));
    }

    #[test]
    fn a_key_no_capability_owns_is_refused_by_name() {
        let section: toml::Table = toml::from_str("confg = {}\n").unwrap();
        assert!(
            Grants::parse(&section)
                .unwrap_err()
                .to_string()
                .contains("confg")
        );
        let section: toml::Table =
            toml::from_str("proactive = true\nopenapi = [\"/v1.0/x\"]\n").unwrap();
        let g = Grants::parse(&section).unwrap();
        assert!(g.messages.proactive);
        assert_eq!(g.show().len(), 2);
    }
}

//! Config values: what the operator set in `[plugins.<name>.config]`, readable by
//! that plugin only. Keys are looked up by the plugin's name, which is its file's
//! stem, so a plugin cannot read another's values by calling itself by its name.

use std::collections::BTreeMap;

use super::args::MAX_ID;
use super::grant::{Grant as GrantTrait, GrantError};
use crate::runtime::bindings::dingtalk::bot::config;
use crate::runtime::bindings::linked_view;

/// What `config.get` reads: the plugin's own values.
pub struct View<'a> {
    /// Its grant.
    pub grant: &'a Grant,
}

linked_view!(View);

/// `config = { key = "value" }`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// The plugin's config values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Key to value.
    pub values: BTreeMap<String, String>,
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["config"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        Ok(Self {
            values: keys.config,
        })
    }

    fn show(&self) -> Vec<String> {
        self.values
            .keys()
            .map(|k| format!("config:     {k}"))
            .collect()
    }
}

impl config::Host for View<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        if key.len() > MAX_ID {
            return Ok(None);
        }
        Ok(self.grant.values.get(&key).cloned())
    }
}

//! Config values: what the operator set in `[plugins.<name>.config]`, readable by
//! that plugin only. Keys are looked up by the plugin's name, which is its file's
//! stem, so a plugin cannot read another's values by calling itself by its name.

use std::collections::BTreeMap;

use wasmtime::component::Linker;

use super::{Grant as GrantTrait, link_iface};
use crate::runtime::bindings::dingtalk::bot::config;
use crate::runtime::state::State;

/// The config capability.
pub struct Capability;

impl super::Capability for Capability {
    type Grant = Grant;

    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        link_iface!(linker, config)
    }
}

/// The plugin's config values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Key to value.
    pub values: BTreeMap<String, String>,
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["config"];

    fn parse(section: &toml::Table) -> Result<Self, String> {
        let Some(value) = section.get("config") else {
            return Ok(Self::default());
        };
        let table = value
            .as_table()
            .ok_or("`config` must be a table of strings")?;
        let values = table
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => Ok((k.clone(), s.to_owned())),
                None => Err(format!("config value {k:?} must be a string")),
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { values })
    }

    fn show(&self) -> Vec<String> {
        self.values
            .keys()
            .map(|k| format!("config:     {k}"))
            .collect()
    }
}

/// The list of strings at `key` of `section` (empty when absent).
pub(crate) fn strings(section: &toml::Table, key: &str) -> Result<Vec<String>, String> {
    match section.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{key}` must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be a list of strings")),
    }
}

impl config::Host for State {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        if key.len() > super::MAX_ID {
            return Ok(None);
        }
        Ok(self.plugin.grants.config.values.get(&key).cloned())
    }
}

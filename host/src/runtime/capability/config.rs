//! Config values: what the operator set in `[plugins.<name>.config]`, readable by
//! that plugin only. Keys are looked up by the plugin's name, which is its file's
//! stem, so a plugin cannot read another's values by calling itself by its name.

use std::collections::BTreeMap;

use wasmtime::component::HasData;

use super::args::MAX_ID;
use super::grant::Grant as GrantTrait;
use crate::runtime::bindings::dingtalk::bot::config;

/// What `config.get` reads: the plugin's own values.
pub struct View<'a> {
    /// Its grant.
    pub grant: &'a Grant,
}

/// The view's `HasData` marker for the linker.
pub struct HasView;

impl HasData for HasView {
    type Data<'a> = View<'a>;
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

impl config::Host for View<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        if key.len() > MAX_ID {
            return Ok(None);
        }
        Ok(self.grant.values.get(&key).cloned())
    }
}

//! The part of a plugin's config section each capability owns.

use std::fmt;

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

/// The list of strings at `key` of `section` (empty when absent).
pub fn strings(section: &toml::Table, key: &str) -> Result<Vec<String>, String> {
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

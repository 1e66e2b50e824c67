//! The part of a plugin's config section each capability owns, read with serde.
//!
//! A capability names its keys ([`Grant::KEYS`]) and the shape they are written in
//! ([`Grant::Keys`], a serde struct that refuses unknown fields); [`Grant::parse`]
//! hands it only its own keys of the section, and [`Grant::from_keys`] checks what
//! serde cannot (a path's form, a regex, a secret's name). Every refusal names the
//! key ([`GrantError`]).

use std::fmt;

use serde::de::DeserializeOwned;

/// What is wrong with a capability's keys: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {reason}")]
pub struct GrantError {
    /// The key of `[plugins.<name>]` (or of a table under it) to blame.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl GrantError {
    /// `key` is refused because of `reason`.
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One capability's keys of a plugin's config section, parsed.
pub trait Grant: Sized + Default + Clone + fmt::Debug + PartialEq {
    /// The keys of `[plugins.<name>]` this capability owns.
    const KEYS: &'static [&'static str];

    /// Those keys as an operator writes them.
    type Keys: DeserializeOwned;

    /// The grant the keys give, once checked.
    fn from_keys(keys: Self::Keys) -> Result<Self, GrantError>;

    /// What it grants, one line each, for `host check`; empty when nothing.
    fn show(&self) -> Vec<String>;

    /// Parse this capability's keys from `section` (other keys are not its concern).
    fn parse(section: &toml::Table) -> Result<Self, GrantError> {
        let own: toml::Table = section
            .iter()
            .filter(|(k, _)| Self::KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // A single key is the one to blame; with several, serde's message names it.
        let key = own.keys().next().cloned().unwrap_or_default();
        let keys = toml::Value::Table(own)
            .try_into::<Self::Keys>()
            .map_err(|e| GrantError::new(&key, e.message().trim().to_owned()))?;
        Self::from_keys(keys)
    }
}

/// Deserialise a switch, refusing anything but `true` or `false` in those words.
pub fn switch<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    <bool as serde::Deserialize>::deserialize(d)
        .map_err(|_| serde::de::Error::custom("must be true or false"))
}

/// For capabilities no operator setting changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoGrant;

/// No keys.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoKeys {}

impl Grant for NoGrant {
    const KEYS: &'static [&'static str] = &[];

    type Keys = NoKeys;

    fn from_keys(_: NoKeys) -> Result<Self, GrantError> {
        Ok(NoGrant)
    }

    fn show(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Flag(bool);

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FlagKeys {
        #[serde(default)]
        flag: bool,
    }

    impl Grant for Flag {
        const KEYS: &'static [&'static str] = &["flag"];
        type Keys = FlagKeys;
        fn from_keys(keys: FlagKeys) -> Result<Self, GrantError> {
            Ok(Flag(keys.flag))
        }
        fn show(&self) -> Vec<String> {
            Vec::new()
        }
    }

    #[test]
    fn a_capability_reads_only_its_own_keys_and_a_mistyped_one_is_named() {
        let section: toml::Table = toml::from_str("flag = true\nother = 1\n").unwrap();
        assert_eq!(Flag::parse(&section).unwrap(), Flag(true));
        let section: toml::Table = toml::from_str("flag = \"yes\"\n").unwrap();
        let err = Flag::parse(&section).unwrap_err();
        assert_eq!(err.key, "flag");
        assert!(err.reason.contains("bool"), "{err}");
    }
}

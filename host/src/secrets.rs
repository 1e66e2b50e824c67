//! `[secrets]`: values named once in the host config, read at start, injected by the
//! host where a template names them, and never given to a plugin.
//!
//! Invariants: a secret's value lives only in a [`Secret`] (which never prints); a
//! template ([`Template`]) holds secret *names*, so grants, `host check` and logs show
//! names only; every text the host reports from an outbound request goes through
//! [`Secrets::redact`]. A secret that cannot be read stops the start, naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::Secret;

/// Where one secret comes from: `{ env = "NAME" }` or `{ file = "/path" }`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// An environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// A file (e.g. a mounted secret); surrounding whitespace is trimmed.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Neither or both of `env` and `file`.
    #[error("secret {0:?}: give exactly one of `env` or `file`")]
    Source(String),
    /// The environment variable is not set.
    #[error("secret {name:?}: environment variable {var} is not set")]
    MissingEnv {
        /// The secret.
        name: String,
        /// The variable.
        var: String,
    },
    /// The file cannot be read.
    #[error("secret {name:?}: cannot read {path}: {source}")]
    File {
        /// The secret.
        name: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("secret {0:?} is empty")]
    Empty(String),
}

/// Every secret the host config names, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    values: BTreeMap<String, Secret>,
}

impl Secrets {
    /// Read every source now (so a missing one fails the start, not a request).
    pub fn load(sources: &BTreeMap<String, SecretSource>) -> Result<Self, SecretError> {
        let mut values = BTreeMap::new();
        for (name, source) in sources {
            let value = match (&source.env, &source.file) {
                (Some(var), None) => std::env::var(var).map_err(|_| SecretError::MissingEnv {
                    name: name.clone(),
                    var: var.clone(),
                })?,
                (None, Some(path)) => {
                    std::fs::read_to_string(path).map_err(|source| SecretError::File {
                        name: name.clone(),
                        path: path.clone(),
                        source,
                    })?
                }
                _ => return Err(SecretError::Source(name.clone())),
            };
            let value = Secret::new(value);
            if value.expose().is_empty() {
                return Err(SecretError::Empty(name.clone()));
            }
            values.insert(name.clone(), value);
        }
        Ok(Self { values })
    }

    /// Add a secret (for embedders and tests); whitespace is trimmed.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_owned(), Secret::new(value));
        self
    }

    /// The secret called `name`.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name)
    }

    /// `text` with every secret's value replaced by `[secret <name>]`.
    pub fn redact(&self, text: &str) -> String {
        self.values
            .iter()
            .fold(text.to_owned(), |text, (name, value)| {
                text.replace(value.expose(), &format!("[secret {name}]"))
            })
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Secret(String),
}

/// A value with `{secret.<name>}` placeholders, e.g. `Bearer {secret.llm_key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parse `text`; a `{secret.` without its `}` or with an empty name is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{secret.") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + "{secret.".len()..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("{text:?}: `{{secret.` is not closed with `}}`"))?;
            let name = &after[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("{text:?}: {name:?} is not a secret name"));
            }
            parts.push(Part::Secret(name.to_owned()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// The secrets it names.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Secret(n) => Some(n.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The value with each secret filled in; `Err` names the first unknown secret.
    pub fn render(&self, secrets: &Secrets) -> Result<Secret, String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Secret(name) => out.push_str(
                    secrets
                        .get(name)
                        .ok_or_else(|| format!("no secret {name:?} in [secrets]"))?
                        .expose(),
                ),
            }
        }
        Ok(Secret::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_fills_in_secrets_and_names_a_missing_one() {
        let t = Template::parse("Bearer {secret.llm_key}").unwrap();
        assert_eq!(t.secret_names().collect::<Vec<_>>(), ["llm_key"]);
        let s = Secrets::default().with("llm_key", "sk-123");
        assert_eq!(t.render(&s).unwrap().expose(), "Bearer sk-123");
        let err = t.render(&Secrets::default()).unwrap_err();
        assert!(err.contains("llm_key"), "{err}");
        assert!(Template::parse("x {secret.a").is_err());
        assert!(Template::parse("{secret.}").is_err());
        assert!(Template::parse("{secret.a b}").is_err());
        assert_eq!(
            Template::parse("plain")
                .unwrap()
                .render(&s)
                .unwrap()
                .expose(),
            "plain"
        );
    }

    #[test]
    fn a_missing_env_var_or_file_names_the_secret() {
        let mut sources = BTreeMap::new();
        sources.insert(
            "llm_key".to_owned(),
            SecretSource {
                env: Some("HOST_TEST_SURELY_UNSET_VAR".to_owned()),
                file: None,
            },
        );
        let err = Secrets::load(&sources).unwrap_err().to_string();
        assert!(
            err.contains("llm_key") && err.contains("HOST_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
        sources.insert(
            "llm_key".to_owned(),
            SecretSource {
                env: None,
                file: Some("/nonexistent/secret".into()),
            },
        );
        let err = Secrets::load(&sources).unwrap_err().to_string();
        assert!(
            err.contains("llm_key") && err.contains("/nonexistent/secret"),
            "{err}"
        );
    }

    #[test]
    fn a_secret_file_is_read_trimmed_and_redacted_from_text() {
        let dir = std::env::temp_dir().join(format!("host-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k");
        std::fs::write(&file, "sk-file-value\n").unwrap();
        let mut sources = BTreeMap::new();
        sources.insert(
            "k".to_owned(),
            SecretSource {
                env: None,
                file: Some(file),
            },
        );
        let s = Secrets::load(&sources).unwrap();
        assert_eq!(s.get("k").unwrap().expose(), "sk-file-value");
        assert_eq!(
            s.redact("auth failed for sk-file-value"),
            "auth failed for [secret k]"
        );
        assert!(!format!("{s:?}").contains("sk-file-value"));
        let _ = std::fs::remove_dir_all(dir);
    }
}

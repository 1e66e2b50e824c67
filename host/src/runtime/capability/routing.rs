//! Routing rules: which chatbot messages a plugin gets when several plugins serve
//! them (calcbot, cardbot and aibot in one host should not all answer "hello").
//!
//! ```toml
//! [plugins.calcbot]
//! match = '^[0-9\s+\-*/%().]+$'     # a regex on the message text
//! [plugins.cardbot]
//! commands = ["/card"]              # the text starts with one; the plugin sees the rest
//! [plugins.aibot]
//! fallback = true                   # whatever no rule matched
//! ```
//!
//! Applied by dispatch (`dispatch::routing`); checked here when the config is read.
//! Routing happens at load, so this capability links no host functions.

use regex::{Regex, RegexBuilder};

use super::grant::{Grant as GrantTrait, GrantError};

/// Largest compiled `match` pattern: a hostile or careless pattern cannot make the
/// host spend unbounded memory (the regex crate matches in linear time).
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// `commands = ["/card"]`, `match = '<regex>'`, `fallback = true`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default, rename = "match")]
    pattern: Option<String>,
    #[serde(default, deserialize_with = "super::grant::switch")]
    fallback: bool,
}

/// One plugin's routing rules. Empty: no rules.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Commands (`/card`): the text starts with one, followed by a space or nothing.
    pub commands: Vec<String>,
    /// A pattern the whole text is searched with.
    pub pattern: Option<Regex>,
    /// Takes the messages no rule matched.
    pub fallback: bool,
}

impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.commands == other.commands
            && self.pattern.as_ref().map(Regex::as_str) == other.pattern.as_ref().map(Regex::as_str)
            && self.fallback == other.fallback
    }
}

impl Grant {
    /// Whether it has any rule.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.pattern.is_none() && !self.fallback
    }

    /// The text after the command `text` starts with, if any.
    pub fn command<'t>(&self, text: &'t str) -> Option<&'t str> {
        self.commands.iter().find_map(|c| {
            let rest = text.strip_prefix(c.as_str())?;
            (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
        })
    }

    /// Whether `text` matches the pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.pattern.as_ref().is_some_and(|p| p.is_match(text))
    }
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["commands", "match", "fallback"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        if let Some(bad) = keys
            .commands
            .iter()
            .find(|c| c.is_empty() || c.contains(char::is_whitespace))
        {
            return Err(GrantError::new(
                "commands",
                format!("entry {bad:?} must be one word, e.g. \"/card\""),
            ));
        }
        let pattern = keys
            .pattern
            .map(|p| {
                RegexBuilder::new(&p)
                    .size_limit(MAX_PATTERN_BYTES)
                    .build()
                    .map_err(|e| GrantError::new("match", format!("is not a valid regex: {e}")))
            })
            .transpose()?;
        Ok(Self {
            commands: keys.commands,
            pattern,
            fallback: keys.fallback,
        })
    }

    fn show(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.commands.is_empty() {
            lines.push(format!("route:      commands {}", self.commands.join(", ")));
        }
        if let Some(p) = &self.pattern {
            lines.push(format!("route:      match {:?}", p.as_str()));
        }
        if self.fallback {
            lines.push("route:      fallback (messages no rule matched)".to_owned());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> Result<Grant, String> {
        <Grant as GrantTrait>::parse(&toml::from_str(text).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_command_matches_only_as_a_whole_word_and_yields_the_rest() {
        let g = grant("commands = [\"/card\", \"/c\"]").unwrap();
        assert_eq!(g.command("/card"), Some(""));
        assert_eq!(g.command("/card  hello"), Some("hello"));
        assert_eq!(g.command("/c 1"), Some("1"));
        assert_eq!(g.command("/cards"), None);
        assert_eq!(g.command("hello /card"), None);
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        assert!(
            grant("commands = [\"two words\"]")
                .unwrap_err()
                .contains("one word")
        );
        assert!(grant("match = \"(\"").unwrap_err().contains("regex"));
        assert!(grant("match = 3").unwrap_err().contains("string"));
        assert!(
            grant("fallback = \"yes\"")
                .unwrap_err()
                .contains("true or false")
        );
        let g = grant("match = '^[0-9+*/() -]+$'\nfallback = false").unwrap();
        assert!(g.matches("1 + 2") && !g.matches("hello"));
    }
}

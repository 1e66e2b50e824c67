//! Topics: which frames a plugin may subscribe to. Checked once, at load.
//!
//! Every plugin may subscribe to chatbot messages (`CALLBACK /v1.0/im/bot/messages/get`)
//! without a grant; any other topic needs `topics = ["CALLBACK <topic>", "EVENT *"]`.

use super::grant::{Grant as GrantTrait, GrantError};
use crate::stream::{Subscription, SubscriptionKind};

/// The topic every plugin may subscribe to without a grant.
pub use crate::stream::topic::CHATBOT as CHATBOT_TOPIC;

/// `topics = ["CALLBACK <topic>", "EVENT *"]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    topics: Vec<String>,
}

/// Topics beyond chatbot messages a plugin may subscribe to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Granted (kind, topic) pairs.
    pub topics: Vec<Subscription>,
}

impl Grant {
    /// Grants of `"CALLBACK <topic>"` / `"EVENT *"` entries.
    pub fn from_entries(entries: &[String]) -> Result<Self, GrantError> {
        let bad = |reason: String| GrantError::new("topics", reason);
        let mut topics = Vec::with_capacity(entries.len());
        for entry in entries {
            let (kind, topic) = entry
                .split_once(' ')
                .map(|(k, t)| (k, t.trim()))
                .ok_or_else(|| {
                    bad(format!(
                        "entry {entry:?} must be \"CALLBACK <topic>\" or \"EVENT *\""
                    ))
                })?;
            let kind = match kind {
                "CALLBACK" => SubscriptionKind::Callback,
                "EVENT" => SubscriptionKind::Event,
                _ => {
                    return Err(bad(format!(
                        "entry {entry:?} must start with CALLBACK or EVENT"
                    )));
                }
            };
            if topic.is_empty() {
                return Err(bad(format!("entry {entry:?} has no topic")));
            }
            topics.push(Subscription {
                kind,
                topic: topic.to_owned(),
            });
        }
        Ok(Self { topics })
    }

    /// Whether the plugin may subscribe to `sub`.
    pub fn allows(&self, sub: &Subscription) -> bool {
        (sub.kind == SubscriptionKind::Callback && sub.topic == CHATBOT_TOPIC)
            || self.topics.contains(sub)
    }
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["topics"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        Self::from_entries(&keys.topics)
    }

    fn show(&self) -> Vec<String> {
        self.topics
            .iter()
            .map(|t| format!("topic:      {t}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chatbot_messages_need_no_topic_grant() {
        let chatbot = Subscription {
            kind: SubscriptionKind::Callback,
            topic: CHATBOT_TOPIC.into(),
        };
        let events = Subscription {
            kind: SubscriptionKind::Event,
            topic: "*".into(),
        };
        assert!(Grant::default().allows(&chatbot));
        assert!(!Grant::default().allows(&events));
        assert!(
            Grant::from_entries(&["EVENT *".into()])
                .unwrap()
                .allows(&events)
        );
        assert!(Grant::from_entries(&["SYSTEM ping".into()]).is_err());
        assert!(Grant::from_entries(&["/no/kind".into()]).is_err());
    }
}

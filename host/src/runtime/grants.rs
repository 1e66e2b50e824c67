//! What an operator granted one plugin beyond its own conversation.
//!
//! Parsed once at load from the host config; request-time checks allocate nothing.
//! [`Grants::default`] grants nothing beyond what every plugin has: subscribing to
//! chatbot messages (`CALLBACK /v1.0/im/bot/messages/get`) and acting on the
//! conversation a frame came from. No other topic, no OpenAPI path, no proactive
//! messages, no WASI files, environment, arguments or sockets.
//!
//! Topics are granted as `"CALLBACK <topic>"` or `"EVENT *"`.
//!
//! | `openapi` entry        | allows                                  |
//! |------------------------|-----------------------------------------|
//! | `/v1.0/contact/users/me` | exactly that path                     |
//! | `/v1.0/contact/*`      | every path starting with `/v1.0/contact/` |
//!
//! A path with `..` is never allowed; the query string is not part of the match.

use super::{Subscription, SubscriptionKind};

/// One allowed OpenAPI path form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathGrant {
    /// Exactly this path.
    Exact(String),
    /// Any path starting with this prefix.
    Prefix(String),
}

/// The topic every plugin may subscribe to without a grant.
pub const CHATBOT_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// A plugin's grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Topics beyond chatbot messages it may subscribe to, as (kind, topic).
    pub topics: Vec<(SubscriptionKind, String)>,
    /// OpenAPI paths the generic call may reach. Empty denies every path.
    pub openapi: Vec<PathGrant>,
    /// Whether it may send proactive robot messages.
    pub proactive: bool,
}

impl Grants {
    /// Add topic grants in `"CALLBACK <topic>"` / `"EVENT *"` form.
    pub fn with_topics(mut self, topics: &[String]) -> Result<Self, String> {
        for entry in topics {
            let (kind, topic) = entry
                .split_once(' ')
                .map(|(k, t)| (k, t.trim()))
                .ok_or_else(|| {
                    format!("topic grant {entry:?} must be \"CALLBACK <topic>\" or \"EVENT *\"")
                })?;
            let kind = match kind {
                "CALLBACK" => SubscriptionKind::Callback,
                "EVENT" => SubscriptionKind::Event,
                _ => {
                    return Err(format!(
                        "topic grant {entry:?} must start with CALLBACK or EVENT"
                    ));
                }
            };
            if topic.is_empty() {
                return Err(format!("topic grant {entry:?} has no topic"));
            }
            self.topics.push((kind, topic.to_owned()));
        }
        Ok(self)
    }

    /// Whether the plugin may subscribe to `sub`.
    pub fn allows_subscription(&self, sub: &Subscription) -> bool {
        (sub.kind == SubscriptionKind::Callback && sub.topic == CHATBOT_TOPIC)
            || self
                .topics
                .iter()
                .any(|(k, t)| *k == sub.kind && *t == sub.topic)
    }

    /// Parse the config file's forms; an entry that is not one of them is an error.
    pub fn parse(openapi: &[String], proactive: bool) -> Result<Self, String> {
        let mut paths = Vec::with_capacity(openapi.len());
        for entry in openapi {
            if !entry.starts_with('/') || entry.contains("..") {
                return Err(format!(
                    "openapi grant {entry:?} must be an absolute path without \"..\""
                ));
            }
            match entry.find('*') {
                None => paths.push(PathGrant::Exact(entry.clone())),
                Some(i) if i == entry.len() - 1 => {
                    paths.push(PathGrant::Prefix(entry[..i].to_owned()))
                }
                Some(_) => return Err(format!("openapi grant {entry:?} may only end with \"*\"")),
            }
        }
        Ok(Self {
            topics: Vec::new(),
            openapi: paths,
            proactive,
        })
    }

    /// Whether the generic call may reach `path` (query ignored).
    pub fn allows_path(&self, path: &str) -> bool {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if !path.starts_with('/') || path.contains("..") {
            return false;
        }
        self.openapi.iter().any(|g| match g {
            PathGrant::Exact(p) => p == path,
            PathGrant::Prefix(p) => path.starts_with(p.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_grants_deny_everything() {
        let g = Grants::default();
        assert!(!g.allows_path("/v1.0/contact/users/me"));
        assert!(!g.proactive);
    }

    #[test]
    fn exact_and_prefix_grants_match_only_their_paths() {
        let g = Grants::parse(
            &["/v1.0/contact/users/me".into(), "/v1.0/calendar/*".into()],
            false,
        )
        .unwrap();
        assert!(g.allows_path("/v1.0/contact/users/me"));
        assert!(g.allows_path("/v1.0/contact/users/me?lang=zh"));
        assert!(!g.allows_path("/v1.0/contact/users/other"));
        assert!(g.allows_path("/v1.0/calendar/events"));
        assert!(!g.allows_path("/v1.0/calendar/../oauth2/accessToken"));
        assert!(!g.allows_path("/v1.0/calendarx"));
    }

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
        assert!(Grants::default().allows_subscription(&chatbot));
        assert!(!Grants::default().allows_subscription(&events));
        let granted = Grants::default().with_topics(&["EVENT *".into()]).unwrap();
        assert!(granted.allows_subscription(&events));
        assert!(
            Grants::default()
                .with_topics(&["SYSTEM ping".into()])
                .is_err()
        );
        assert!(Grants::default().with_topics(&["/no/kind".into()]).is_err());
    }

    #[test]
    fn malformed_grants_are_refused() {
        assert!(Grants::parse(&["v1.0/x".into()], false).is_err());
        assert!(Grants::parse(&["/v1.0/*/x".into()], false).is_err());
        assert!(Grants::parse(&["/v1.0/../x".into()], false).is_err());
    }
}

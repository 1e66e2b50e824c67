//! What a connection subscribes to: (kind, topic) pairs, one type from the plugin's
//! description through routing to the open-connection body (`{"type", "topic"}`).

use std::fmt;

use serde::Serialize;

use super::frame::FrameType;

/// Whether a subscription is for callbacks or events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SubscriptionKind {
    /// CALLBACK frames.
    Callback,
    /// EVENT frames.
    Event,
}

impl SubscriptionKind {
    /// The wire spelling (`CALLBACK`, `EVENT`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionKind::Callback => "CALLBACK",
            SubscriptionKind::Event => "EVENT",
        }
    }

    /// The kind of a data frame; `None` for SYSTEM and unknown types.
    pub fn of(frame_type: &FrameType) -> Option<Self> {
        match frame_type {
            FrameType::Callback => Some(SubscriptionKind::Callback),
            FrameType::Event => Some(SubscriptionKind::Event),
            _ => None,
        }
    }
}

/// One (kind, topic) subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Subscription {
    /// Callback or event.
    #[serde(rename = "type")]
    pub kind: SubscriptionKind,
    /// The topic; `*` for events.
    pub topic: String,
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_serialise_with_type_and_topic() {
        let s = Subscription {
            kind: SubscriptionKind::Callback,
            topic: "/t".into(),
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"type":"CALLBACK","topic":"/t"})
        );
        assert_eq!(s.to_string(), "CALLBACK /t");
    }
}

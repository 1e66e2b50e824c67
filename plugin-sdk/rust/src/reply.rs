//! Replies through the session webhook of the message being answered.
//!
//! The host sends the request; it accepts only webhooks DingTalk handed it in a frame,
//! and only before they expire.

use crate::bindings::dingtalk::bot::reply as wit;
use crate::{ChatbotMessage, Error};

pub use wit::{ActionButton, ActionCardContent, At, FeedLink, LinkContent};

impl At {
    /// Mention nobody.
    pub fn nobody() -> Self {
        Self {
            user_ids: Vec::new(),
            mobiles: Vec::new(),
            all: false,
        }
    }

    /// Mention the given staff ids.
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        Self {
            user_ids: ids.into_iter().map(Into::into).collect(),
            ..Self::nobody()
        }
    }

    /// Mention the sender of `msg` (when DingTalk told us their staff id).
    pub fn sender(msg: &ChatbotMessage) -> Self {
        Self::users(msg.sender_staff_id.iter().cloned())
    }

    /// Mention everyone in the group.
    pub fn everyone() -> Self {
        Self {
            all: true,
            ..Self::nobody()
        }
    }
}

/// Reply `content` as text to `msg`'s conversation, mentioning its sender.
pub fn reply_text(msg: &ChatbotMessage, content: &str) -> Result<(), Error> {
    text(msg, content, &At::sender(msg))
}

/// Reply markdown to `msg`'s conversation, mentioning its sender.
pub fn reply_markdown(msg: &ChatbotMessage, title: &str, markdown: &str) -> Result<(), Error> {
    self::markdown(msg, title, markdown, &At::sender(msg))
}

/// Reply `content` as text with explicit mentions.
pub fn text(msg: &ChatbotMessage, content: &str, at: &At) -> Result<(), Error> {
    wit::text(&msg.session_webhook, content, at)
}

/// Reply markdown with explicit mentions.
pub fn markdown(msg: &ChatbotMessage, title: &str, markdown: &str, at: &At) -> Result<(), Error> {
    wit::markdown(&msg.session_webhook, title, markdown, at)
}

/// Reply with an action card (markdown with one or several buttons).
pub fn action_card(msg: &ChatbotMessage, card: &ActionCardContent) -> Result<(), Error> {
    wit::action_card(&msg.session_webhook, card)
}

/// Reply with a link preview.
pub fn link(msg: &ChatbotMessage, link: &LinkContent) -> Result<(), Error> {
    wit::link(&msg.session_webhook, link)
}

/// Reply with a feed card.
pub fn feed_card(msg: &ChatbotMessage, links: &[FeedLink]) -> Result<(), Error> {
    wit::feed_card(&msg.session_webhook, links)
}

//! Replies through the session webhook of the message being answered.
//!
//! The host sends the request to the webhook of the frame being handled (a plugin
//! cannot name another), and only before it expires. Every function takes the
//! message it answers, so a call reads as what it does; the host needs nothing of it
//! but the frame it already has.

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
pub fn text(_msg: &ChatbotMessage, content: &str, at: &At) -> Result<(), Error> {
    wit::text(content, at)
}

/// Reply markdown with explicit mentions.
pub fn markdown(_msg: &ChatbotMessage, title: &str, markdown: &str, at: &At) -> Result<(), Error> {
    wit::markdown(title, markdown, at)
}

/// Reply with an action card (markdown with one or several buttons).
pub fn action_card(_msg: &ChatbotMessage, card: &ActionCardContent) -> Result<(), Error> {
    wit::action_card(card)
}

/// Reply with a link preview.
pub fn link(_msg: &ChatbotMessage, link: &LinkContent) -> Result<(), Error> {
    wit::link(link)
}

/// Reply with a feed card.
pub fn feed_card(_msg: &ChatbotMessage, links: &[FeedLink]) -> Result<(), Error> {
    wit::feed_card(links)
}

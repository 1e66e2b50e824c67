//! Replies through a message's session webhook (protocol.md D.2).

use serde_json::{Value, json};

use super::answer::{Error, Step};
use super::client::Http;

/// Whom a reply mentions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct At {
    /// Staff ids.
    pub user_ids: Vec<String>,
    /// Phone numbers.
    pub mobiles: Vec<String>,
    /// Everyone in the group.
    pub all: bool,
}

impl At {
    fn to_json(&self) -> Value {
        json!({"atUserIds": self.user_ids, "atMobiles": self.mobiles, "isAtAll": self.all})
    }
}

/// The body of a text reply.
pub fn text_body(content: &str, at: &At) -> Value {
    json!({"msgtype": "text", "text": {"content": content}, "at": at.to_json()})
}

/// The body of a markdown reply.
pub fn markdown_body(title: &str, text: &str, at: &At) -> Value {
    json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at.to_json()})
}

/// A button of an action card.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    /// Its label.
    pub title: String,
    /// Where it leads.
    pub url: String,
}

/// The body of an action card: one full-width button, or several.
pub fn action_card_body(
    title: &str,
    text: &str,
    single: Option<&Button>,
    buttons: &[Button],
    vertical: bool,
) -> Value {
    let card = match single {
        Some(b) => {
            json!({"title": title, "text": text, "singleTitle": b.title, "singleURL": b.url})
        }
        None => json!({
            "title": title,
            "text": text,
            "btnOrientation": if vertical { "0" } else { "1" },
            "btns": buttons.iter().map(|b| json!({"title": b.title, "actionURL": b.url})).collect::<Vec<_>>(),
        }),
    };
    json!({"msgtype": "actionCard", "actionCard": card})
}

/// The body of a link message.
pub fn link_body(title: &str, text: &str, message_url: &str, pic_url: &str) -> Value {
    json!({"msgtype": "link", "link": {"title": title, "text": text, "messageUrl": message_url, "picUrl": pic_url}})
}

/// The body of a feed card: (title, messageURL, picURL) per entry.
pub fn feed_card_body(links: &[(String, String, String)]) -> Value {
    let links: Vec<Value> = links
        .iter()
        .map(|(t, m, p)| json!({"title": t, "messageURL": m, "picURL": p}))
        .collect();
    json!({"msgtype": "feedCard", "feedCard": {"links": links}})
}

/// Largest webhook body sent, in bytes. DingTalk's own limits are lower (about
/// 20,000 characters of text); this bound stops a plugin from making the host
/// serialise and send megabytes.
pub const MAX_BODY_BYTES: usize = 64 << 10;

/// POST `body` to `webhook`. A body over [`MAX_BODY_BYTES`] is refused unsent.
pub async fn send(http: &Http, webhook: &http::Uri, body: &Value) -> Result<(), Error> {
    let text = serde_json::to_vec(body).unwrap_or_default();
    if text.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge {
            step: Step::Webhook,
            size: text.len(),
            max: MAX_BODY_BYTES,
        });
    }
    http.post_webhook(webhook, text).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_replies_match_the_official_body() {
        let at = At {
            user_ids: vec!["0326".into()],
            ..At::default()
        };
        assert_eq!(
            text_body("Q: 1\nA: 1", &at),
            json!({"msgtype":"text","text":{"content":"Q: 1\nA: 1"},"at":{"atUserIds":["0326"],"atMobiles":[],"isAtAll":false}})
        );
        assert_eq!(
            markdown_body("t", "**x**", &At::default())["markdown"],
            json!({"title":"t","text":"**x**"})
        );
    }
}

//! Replies through the session webhook of the frame being handled (protocol.md D.2).
//!
//! Scope: the host takes the webhook from the frame (a plugin never names one); it
//! must still be valid and on an origin DingTalk's webhooks use (`https://oapi.dingtalk.com`, `https://api.dingtalk.com`)
//! or one of the configured API bases, so a frame cannot point the host's HTTP client
//! anywhere else. Limits (checked before any JSON is built): the strings of one reply
//! at most 64 KiB together, at most [`MAX_MENTIONS`] mentions of each
//! kind, at most [`MAX_BUTTONS`] buttons or feed links.

use std::time::{SystemTime, UNIX_EPOCH};

use super::args::{MAX_ID, check_list};
use crate::openapi::Http;
use crate::openapi::webhook::{self, MAX_BODY_BYTES};
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::reply;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied, invalid};
use crate::runtime::caller::Calls;
use crate::runtime::scope::{self, Origin, SessionWebhook};
use serde_json::Value;

/// Most user ids (and, separately, phone numbers) one reply may mention.
pub const MAX_MENTIONS: usize = 100;

/// Most buttons of an action card, or links of a feed card.
pub const MAX_BUTTONS: usize = 20;

/// Origins every session webhook DingTalk hands out is on.
const DINGTALK_ORIGINS: [&str; 2] = ["https://oapi.dingtalk.com", "https://api.dingtalk.com"];

/// The origins an app's session webhooks may be on: DingTalk's and the configured
/// API bases'.
#[derive(Debug)]
pub struct Origins(Vec<Origin>);

impl Origins {
    /// DingTalk's origins and those of `bases`.
    pub fn new(bases: &[&str]) -> Self {
        Self(
            DINGTALK_ORIGINS
                .iter()
                .chain(bases)
                .filter_map(|b| reqwest::Url::parse(b).ok().as_ref().and_then(scope::origin))
                .collect(),
        )
    }

    fn allow(&self, origin: &Origin) -> bool {
        self.0.contains(origin)
    }
}

/// What a reply uses: the frame's webhook, the app's allowed origins and HTTP client.
pub struct View<'a> {
    /// The plugin and its frame's DingTalk calls.
    pub calls: Calls<'a>,
    /// Where the app's webhooks may be.
    pub origins: &'a Origins,
    /// The app's DingTalk HTTP client.
    pub http: &'a Http,
    /// The session webhook the frame carried.
    pub webhook: Option<&'a SessionWebhook>,
}

linked_view!(View);

/// Whether a reply may go to the frame's webhook now: unexpired, on an allowed
/// origin. The URI to POST to (parsed once, when the frame was scoped).
fn check_webhook(webhook: Option<&SessionWebhook>, origins: &Origins) -> Result<http::Uri, String> {
    let Some(allowed) = webhook else {
        return Err("this frame carried no session webhook to reply to".into());
    };
    let Some(target) = &allowed.target else {
        return Err("the frame's session webhook is not a URL the host calls".into());
    };
    if !origins.allow(&target.origin) {
        return Err(
            "the frame's session webhook is not on DingTalk's API host or the configured API base"
                .into(),
        );
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(i64::MAX);
    if allowed.expires_at_ms != 0 && now_ms >= allowed.expires_at_ms {
        return Err("the session webhook has expired".into());
    }
    Ok(target.uri.clone())
}

fn check_size(parts: &[&str]) -> HostResult<()> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "the reply's text is {total} bytes; at most {MAX_BODY_BYTES} are allowed"
        )));
    }
    Ok(())
}

fn at(a: reply::At) -> HostResult<webhook::At> {
    check_list("the mentioned user ids", &a.user_ids, MAX_MENTIONS, MAX_ID)?;
    check_list("the mentioned mobiles", &a.mobiles, MAX_MENTIONS, MAX_ID)?;
    Ok(webhook::At {
        user_ids: a.user_ids,
        mobiles: a.mobiles,
        all: a.all,
    })
}

fn button(b: reply::ActionButton) -> webhook::Button {
    webhook::Button {
        title: b.title,
        url: b.action_url,
    }
}

impl View<'_> {
    /// Check the frame's webhook now, count the reply and send `body` to it.
    async fn send(&mut self, body: Value) -> HostResult<()> {
        let uri = check_webhook(self.webhook, self.origins).map_err(denied)?;
        self.calls.dingtalk(DingtalkCall::Reply)?;
        webhook::send(self.http, &uri, &body).await?;
        Ok(())
    }
}

impl reply::Host for View<'_> {
    async fn text(&mut self, content: String, mentions: reply::At) -> HostResult<()> {
        self.calls
            .caller()
            .counted("reply", async {
                check_size(&[&content])?;
                let body = webhook::text_body(&content, &at(mentions)?);
                self.send(body).await
            })
            .await
    }

    async fn markdown(
        &mut self,
        title: String,
        text: String,
        mentions: reply::At,
    ) -> HostResult<()> {
        self.calls
            .caller()
            .counted("reply", async {
                check_size(&[&title, &text])?;
                let body = webhook::markdown_body(&title, &text, &at(mentions)?);
                self.send(body).await
            })
            .await
    }

    async fn action_card(&mut self, card: reply::ActionCardContent) -> HostResult<()> {
        self.calls
            .caller()
            .counted("reply", async {
                if card.buttons.len() > MAX_BUTTONS {
                    return Err(invalid(format!(
                        "an action card may have at most {MAX_BUTTONS} buttons"
                    )));
                }
                let mut parts = vec![card.title.as_str(), card.text.as_str()];
                for b in card.single.iter().chain(&card.buttons) {
                    parts.extend([b.title.as_str(), b.action_url.as_str()]);
                }
                check_size(&parts)?;
                let single = card.single.map(button);
                let buttons: Vec<webhook::Button> = card.buttons.into_iter().map(button).collect();
                let body = webhook::action_card_body(
                    &card.title,
                    &card.text,
                    single.as_ref(),
                    &buttons,
                    card.vertical,
                );
                self.send(body).await
            })
            .await
    }

    async fn link(&mut self, link: reply::LinkContent) -> HostResult<()> {
        self.calls
            .caller()
            .counted("reply", async {
                check_size(&[&link.title, &link.text, &link.message_url, &link.pic_url])?;
                let body =
                    webhook::link_body(&link.title, &link.text, &link.message_url, &link.pic_url);
                self.send(body).await
            })
            .await
    }

    async fn feed_card(&mut self, links: Vec<reply::FeedLink>) -> HostResult<()> {
        self.calls
            .caller()
            .counted("reply", async {
                if links.len() > MAX_BUTTONS {
                    return Err(invalid(format!(
                        "a feed card may have at most {MAX_BUTTONS} links"
                    )));
                }
                let parts: Vec<&str> = links
                    .iter()
                    .flat_map(|l| [l.title.as_str(), l.message_url.as_str(), l.pic_url.as_str()])
                    .collect();
                check_size(&parts)?;
                let links: Vec<(String, String, String)> = links
                    .into_iter()
                    .map(|l| (l.title, l.message_url, l.pic_url))
                    .collect();
                self.send(webhook::feed_card_body(&links)).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::scope::WebhookTarget;

    #[test]
    fn webhooks_are_allowed_only_on_dingtalk_or_the_configured_bases() {
        let allowed = Origins::new(&["http://127.0.0.1:9000"]);
        let ok = |u: &str| WebhookTarget::parse(u).is_some_and(|t| allowed.allow(&t.origin));
        assert!(ok(
            "https://oapi.dingtalk.com/robot/sendBySession?session=s"
        ));
        assert!(ok("http://127.0.0.1:9000/robot/sendBySession?session=s"));
        assert!(!ok("http://oapi.dingtalk.com/robot/sendBySession"));
        assert!(!ok("https://oapi.dingtalk.com.evil.example/robot"));
        assert!(!ok("http://127.0.0.1:9001/robot/sendBySession"));
        assert!(!ok("http://169.254.169.254/latest/meta-data"));
    }
}

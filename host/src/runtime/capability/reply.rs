//! Replies through the session webhook of the frame being handled (protocol.md D.2).
//!
//! Scope: the webhook must be the one the frame carried, still valid, and on an
//! origin DingTalk's webhooks use (`https://oapi.dingtalk.com`, `https://api.dingtalk.com`)
//! or one of the configured API bases, so a frame cannot point the host's HTTP client
//! anywhere else. Limits (checked before any JSON is built): the strings of one reply
//! at most 64 KiB together, at most [`MAX_MENTIONS`] mentions of each
//! kind, at most [`MAX_BUTTONS`] buttons or feed links.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use wasmtime::component::Linker;

use super::{
    HostResult, MAX_ID, MAX_URL, NoGrant, check_len, check_list, denied, invalid, link_iface,
};
use crate::openapi::webhook::{self, MAX_BODY_BYTES};
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::reply;
use crate::runtime::scope::{self, Origin};
use crate::runtime::state::{Services, State};

/// Most user ids (and, separately, phone numbers) one reply may mention.
pub const MAX_MENTIONS: usize = 100;

/// Most buttons of an action card, or links of a feed card.
pub const MAX_BUTTONS: usize = 20;

/// Origins every session webhook DingTalk hands out is on.
const DINGTALK_ORIGINS: [&str; 2] = ["https://oapi.dingtalk.com", "https://api.dingtalk.com"];

/// The reply capability.
pub struct Capability;

impl super::Capability for Capability {
    type Grant = NoGrant;

    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        link_iface!(linker, reply)
    }
}

/// The origins a session webhook may be on: DingTalk's and the configured bases'.
pub fn webhook_origins(bases: &[&str]) -> Vec<Origin> {
    DINGTALK_ORIGINS
        .iter()
        .chain(bases)
        .filter_map(|b| reqwest::Url::parse(b).ok().as_ref().and_then(scope::origin))
        .collect()
}

/// Whether a reply may go to `url` now: the frame's own webhook, unexpired, on an
/// allowed origin. The URI to POST to (parsed once, when the frame was scoped).
pub(crate) fn check_webhook(state: &State, url: &str) -> Result<http::Uri, String> {
    let Some(allowed) = &state.scope.webhook else {
        return Err("this frame carried no session webhook to reply to".into());
    };
    if allowed.url != url {
        return Err("replies may only go to the session webhook of the frame being handled".into());
    }
    let Some(target) = &allowed.target else {
        return Err("the frame's session webhook is not a URL the host calls".into());
    };
    if !state
        .plugin
        .services
        .webhook_origins
        .contains(&target.origin)
    {
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

/// Send `body` to the checked webhook; borrows nothing from the state, so the state
/// is not held across the request.
async fn send((services, uri): (Arc<Services>, http::Uri), body: Value) -> HostResult<()> {
    webhook::send(&services.http, &uri, &body).await?;
    Ok(())
}

impl State {
    /// Check `url` now and count the reply; the services to send with and the URI to send to.
    fn reply_to(&mut self, url: &str) -> HostResult<(Arc<Services>, http::Uri)> {
        check_len("the webhook", url, MAX_URL)?;
        let uri = check_webhook(self, url).map_err(denied)?;
        self.dingtalk_call(DingtalkCall::Reply)?;
        Ok((self.plugin.services.clone(), uri))
    }
}

impl reply::Host for State {
    async fn text(&mut self, url: String, content: String, mentions: reply::At) -> HostResult<()> {
        let this = &mut *self;
        let result: HostResult<()> = async move {
            check_size(&[&content])?;
            let body = webhook::text_body(&content, &at(mentions)?);
            send(this.reply_to(&url)?, body).await
        }
        .await;
        self.count_call("reply", &result);
        result
    }

    async fn markdown(
        &mut self,
        url: String,
        title: String,
        text: String,
        mentions: reply::At,
    ) -> HostResult<()> {
        let this = &mut *self;
        let result: HostResult<()> = async move {
            check_size(&[&title, &text])?;
            let body = webhook::markdown_body(&title, &text, &at(mentions)?);
            send(this.reply_to(&url)?, body).await
        }
        .await;
        self.count_call("reply", &result);
        result
    }

    async fn action_card(&mut self, url: String, card: reply::ActionCardContent) -> HostResult<()> {
        let this = &mut *self;
        let result: HostResult<()> = async move {
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
            send(this.reply_to(&url)?, body).await
        }
        .await;
        self.count_call("reply", &result);
        result
    }

    async fn link(&mut self, url: String, link: reply::LinkContent) -> HostResult<()> {
        let this = &mut *self;
        let result: HostResult<()> = async move {
            check_size(&[&link.title, &link.text, &link.message_url, &link.pic_url])?;
            let body =
                webhook::link_body(&link.title, &link.text, &link.message_url, &link.pic_url);
            send(this.reply_to(&url)?, body).await
        }
        .await;
        self.count_call("reply", &result);
        result
    }

    async fn feed_card(&mut self, url: String, links: Vec<reply::FeedLink>) -> HostResult<()> {
        let this = &mut *self;
        let result: HostResult<()> = async move {
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
            send(this.reply_to(&url)?, webhook::feed_card_body(&links)).await
        }
        .await;
        self.count_call("reply", &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::scope::WebhookTarget;

    #[test]
    fn webhooks_are_allowed_only_on_dingtalk_or_the_configured_bases() {
        let allowed = webhook_origins(&["http://127.0.0.1:9000"]);
        let ok = |u: &str| WebhookTarget::parse(u).is_some_and(|t| allowed.contains(&t.origin));
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

//! Interactive cards in the conversation of the frame being handled: StandardCards
//! (protocol.md D.5) and card instances, AI cards included (D.6, D.7).
//!
//! Scope: cards go to the frame's conversation; a plugin may change only cards it
//! created. [`CardOwners`] remembers which plugin created which card id, each entry
//! for [`OWNER_TTL`] after its last use and at most [`MAX_OWNED`] per plugin, so a
//! plugin that creates cards without end evicts only its own, never another's (whose
//! ids it could then claim): an id another plugin holds is refused, and a card
//! callback is routed to the card's creator while it is remembered. Limits: ids, template ids and keys of at most 256 bytes; card JSON,
//! params, private params and streamed text of at most [`MAX_CARD_JSON`] bytes each.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::args::{MAX_ID, check_len, json_object};
use crate::openapi::cards::{self as card_api, Receiver};
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::cards;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied, invalid};
use crate::runtime::caller::Calls;
use serde_json::Value;

/// Largest card JSON, params map or streamed text accepted.
pub const MAX_CARD_JSON: usize = 64 << 10;

/// How long a card stays its creator's after its last use.
pub const OWNER_TTL: Duration = Duration::from_secs(24 * 3600);

/// Most card ids remembered per plugin.
pub const MAX_OWNED: usize = 20_000;

/// Which kind of card an id names (they are separate namespaces at DingTalk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    /// A StandardCard's `cardBizId`.
    Standard,
    /// A card instance's `outTrackId`.
    Instance,
}

#[derive(Debug)]
struct Owned {
    plugin: String,
    used: Instant,
}

/// Which plugin created which card, for one app.
#[derive(Debug)]
pub struct CardOwners {
    inner: Mutex<OwnersInner>,
}

#[derive(Debug)]
struct OwnersInner {
    owners: HashMap<(CardKind, String), Owned>,
    /// Per plugin: its uses in order (the last use of an id removes it) and how many
    /// ids it owns. Evictions happen only within one plugin's partition.
    plugins: HashMap<String, Uses>,
    ttl: Duration,
    cap: usize,
}

#[derive(Debug, Default)]
struct Uses {
    order: VecDeque<(Instant, CardKind, String)>,
    owned: usize,
}

impl Default for CardOwners {
    fn default() -> Self {
        Self::new(OWNER_TTL, MAX_OWNED)
    }
}

impl CardOwners {
    /// Remember at most `cap` ids per plugin, each for `ttl` after its last use.
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Self {
            inner: Mutex::new(OwnersInner {
                owners: HashMap::new(),
                plugins: HashMap::new(),
                ttl,
                cap: cap.max(1),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OwnersInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Let `plugin` use card `id` at `now`: a new (or expired) id becomes its own,
    /// its own id is refreshed, another plugin's id is refused (`false`).
    pub fn claim(&self, kind: CardKind, id: &str, plugin: &str, now: Instant) -> bool {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let key = (kind, id.to_owned());
        let is_new = match inner.owners.get(&key) {
            Some(o) if now.saturating_duration_since(o.used) < inner.ttl => {
                if o.plugin != plugin {
                    return false;
                }
                false
            }
            Some(expired) => {
                // Its owner's queue entry no longer removes it: uncount it there.
                if let Some(uses) = inner.plugins.get_mut(&expired.plugin) {
                    uses.owned -= 1;
                }
                true
            }
            None => true,
        };
        if is_new {
            inner.plugins.entry(plugin.to_owned()).or_default().owned += 1;
        }
        inner.owners.insert(
            key,
            Owned {
                plugin: plugin.to_owned(),
                used: now,
            },
        );
        inner.touched(plugin, kind, id, now);
        true
    }

    /// Whether card `id` is `plugin`'s (refreshing it when it is).
    pub fn owns(&self, kind: CardKind, id: &str, plugin: &str, now: Instant) -> bool {
        let mut inner = self.lock();
        let ttl = inner.ttl;
        match inner.owners.get_mut(&(kind, id.to_owned())) {
            Some(owned)
                if owned.plugin == plugin && now.saturating_duration_since(owned.used) < ttl =>
            {
                owned.used = now;
                inner.touched(plugin, kind, id, now);
                true
            }
            _ => false,
        }
    }

    /// The plugin that created the card instance `out_track_id`, if remembered.
    pub fn owner(&self, out_track_id: &str, now: Instant) -> Option<String> {
        let inner = self.lock();
        inner
            .owners
            .get(&(CardKind::Instance, out_track_id.to_owned()))
            .filter(|o| now.saturating_duration_since(o.used) < inner.ttl)
            .map(|o| o.plugin.clone())
    }
}

impl OwnersInner {
    /// Record `plugin`'s use of an id it owns, then drop its oldest ids past the TTL
    /// or past its share.
    fn touched(&mut self, plugin: &str, kind: CardKind, id: &str, now: Instant) {
        let Some(uses) = self.plugins.get_mut(plugin) else {
            return;
        };
        uses.order.push_back((now, kind, id.to_owned()));
        while let Some((at, _, _)) = uses.order.front() {
            let old = now.saturating_duration_since(*at) >= self.ttl
                || uses.owned > self.cap
                || uses.order.len() > self.cap.saturating_mul(2);
            if !old {
                break;
            }
            if let Some((at, kind, id)) = uses.order.pop_front() {
                let key = (kind, id);
                // Only the entry of this plugin's last use of the id removes it.
                if self
                    .owners
                    .get(&key)
                    .is_some_and(|o| o.used == at && o.plugin == plugin)
                {
                    self.owners.remove(&key);
                    uses.owned -= 1;
                }
            }
        }
    }
}

/// What the card functions use: the app's card owners and the frame's conversation.
pub struct View<'a> {
    /// The plugin and its frame's DingTalk calls.
    pub calls: Calls<'a>,
    /// Which plugin of the app created which card.
    pub owners: &'a CardOwners,
    /// Where the frame came from, if it is a chatbot message.
    pub conversation: Option<&'a Receiver>,
}

linked_view!(View);

impl View<'_> {
    fn conversation(&self) -> HostResult<Receiver> {
        self.conversation.cloned().ok_or_else(|| {
            denied("cards go to the conversation of a chatbot message; this frame has none")
        })
    }

    fn claim_card(&self, kind: CardKind, id: &str) -> HostResult<()> {
        check_len("the card id", id, MAX_ID)?;
        if id.is_empty() {
            return Err(invalid("the card id is empty"));
        }
        let plugin = &self.calls.caller().name;
        if self.owners.claim(kind, id, plugin, Instant::now()) {
            Ok(())
        } else {
            Err(denied(format!("card id {id:?} belongs to another plugin")))
        }
    }

    fn own_card(&self, kind: CardKind, id: &str) -> HostResult<()> {
        check_len("the card id", id, MAX_ID)?;
        let plugin = &self.calls.caller().name;
        if self.owners.owns(kind, id, plugin, Instant::now()) {
            Ok(())
        } else {
            Err(denied(format!(
                "card {id:?} was not created by this plugin (or is too old to be changed)"
            )))
        }
    }
}

fn instance(card: cards::CardInstance) -> HostResult<card_api::Instance> {
    check_len("the template id", &card.template_id, MAX_ID)?;
    if let Some(key) = &card.callback_route_key {
        check_len("the callback route key", key, MAX_ID)?;
    }
    if card.template_id.is_empty() {
        return Err(invalid("a card instance needs a template id"));
    }
    Ok(card_api::Instance {
        params: json_object("the card params", &card.params, MAX_CARD_JSON)?,
        template_id: card.template_id,
        out_track_id: card.out_track_id,
        callback_route_key: card.callback_route_key,
    })
}

impl cards::Host for View<'_> {
    async fn send_standard(&mut self, biz_id: String, card: String) -> HostResult<String> {
        self.calls
            .caller()
            .counted("cards", async {
                let card = Value::Object(json_object("the card", &card, MAX_CARD_JSON)?);
                let to = self.conversation()?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                self.claim_card(CardKind::Standard, &biz_id)?;
                Ok(card_api::send_standard(&api, &biz_id, &card, &to).await?)
            })
            .await
    }

    async fn update_standard(&mut self, biz_id: String, card: String) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                let card = Value::Object(json_object("the card", &card, MAX_CARD_JSON)?);
                self.own_card(CardKind::Standard, &biz_id)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                Ok(card_api::update_standard(&api, &biz_id, &card).await?)
            })
            .await
    }

    async fn create_instance(&mut self, card: cards::CardInstance) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                let card = instance(card)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                self.claim_card(CardKind::Instance, &card.out_track_id)?;
                Ok(card_api::create_instance(&api, &card).await?)
            })
            .await
    }

    async fn deliver_instance(&mut self, out_track_id: String) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                self.own_card(CardKind::Instance, &out_track_id)?;
                let to = self.conversation()?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                Ok(card_api::deliver_instance(&api, &out_track_id, &to).await?)
            })
            .await
    }

    async fn create_and_deliver(&mut self, card: cards::CardInstance) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                let card = instance(card)?;
                let to = self.conversation()?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                self.claim_card(CardKind::Instance, &card.out_track_id)?;
                Ok(card_api::create_and_deliver(&api, &card, &to).await?)
            })
            .await
    }

    async fn update_instance(
        &mut self,
        out_track_id: String,
        params: String,
        private: Option<String>,
        by_key: bool,
    ) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                let params = json_object("the card params", &params, MAX_CARD_JSON)?;
                let private = private
                    .map(|p| json_object("the private params", &p, MAX_CARD_JSON))
                    .transpose()?;
                self.own_card(CardKind::Instance, &out_track_id)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Card)?;
                let update = card_api::update_instance(
                    &api,
                    &out_track_id,
                    &params,
                    private.as_ref(),
                    by_key,
                );
                Ok(update.await?)
            })
            .await
    }

    async fn stream_instance(
        &mut self,
        out_track_id: String,
        key: String,
        content: String,
        mode: cards::StreamMode,
    ) -> HostResult<()> {
        self.calls
            .caller()
            .counted("cards", async {
                check_len("the key", &key, MAX_ID)?;
                check_len("the streamed text", &content, MAX_CARD_JSON)?;
                self.own_card(CardKind::Instance, &out_track_id)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::CardStream)?;
                let update = card_api::StreamUpdate {
                    out_track_id: &out_track_id,
                    key: &key,
                    content: &content,
                    full: mode.contains(cards::StreamMode::FULL),
                    finalize: mode.contains(cards::StreamMode::FINALIZE),
                    failed: mode.contains(cards::StreamMode::FAILED),
                };
                Ok(card_api::stream_instance(&api, &update).await?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_its_creators_and_no_one_elses() {
        let owners = CardOwners::default();
        let t = Instant::now();
        assert!(owners.claim(CardKind::Instance, "c1", "a", t));
        assert!(owners.claim(CardKind::Instance, "c1", "a", t));
        assert!(!owners.claim(CardKind::Instance, "c1", "b", t));
        assert!(owners.owns(CardKind::Instance, "c1", "a", t));
        assert!(!owners.owns(CardKind::Instance, "c1", "b", t));
        assert!(!owners.owns(CardKind::Standard, "c1", "a", t));
        assert_eq!(owners.owner("c1", t).as_deref(), Some("a"));
    }

    #[test]
    fn owners_are_forgotten_after_the_ttl_since_last_use_and_the_table_is_bounded() {
        let owners = CardOwners::new(Duration::from_secs(10), 2);
        let t = Instant::now();
        assert!(owners.claim(CardKind::Instance, "c1", "a", t));
        assert!(owners.owns(CardKind::Instance, "c1", "a", t + Duration::from_secs(8)));
        assert!(owners.owns(CardKind::Instance, "c1", "a", t + Duration::from_secs(16)));
        assert!(!owners.owns(CardKind::Instance, "c1", "a", t + Duration::from_secs(27)));
        for i in 0..10 {
            assert!(owners.claim(CardKind::Standard, &format!("s{i}"), "a", t));
        }
        assert!(owners.lock().owners.len() <= 2);
        assert!(owners.lock().plugins["a"].order.len() <= 4);
    }

    #[test]
    fn a_plugin_flooding_the_table_evicts_only_its_own_cards() {
        let owners = CardOwners::new(Duration::from_secs(600), 2);
        let t = Instant::now();
        assert!(owners.claim(CardKind::Instance, "a-card", "a", t));
        for i in 0..10 {
            assert!(owners.claim(CardKind::Instance, &format!("b{i}"), "b", t));
        }
        assert!(owners.owns(CardKind::Instance, "a-card", "a", t));
        assert!(!owners.claim(CardKind::Instance, "a-card", "b", t));
    }

    #[test]
    fn an_expired_card_can_be_claimed_anew_and_leaves_its_old_owners_count() {
        let owners = CardOwners::new(Duration::from_secs(10), 5);
        let t = Instant::now();
        assert!(owners.claim(CardKind::Instance, "c", "a", t));
        assert!(!owners.claim(CardKind::Instance, "c", "b", t + Duration::from_secs(9)));
        assert!(owners.claim(CardKind::Instance, "c", "b", t + Duration::from_secs(11)));
        assert_eq!(owners.lock().plugins["a"].owned, 0);
        assert_eq!(
            owners.owner("c", t + Duration::from_secs(11)).as_deref(),
            Some("b")
        );
    }
}

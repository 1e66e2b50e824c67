//! Topic → plugin routing, the concurrency bound and the ACK policy.
//!
//! Invariants:
//! - Every data frame handed to [`Dispatcher`] is answered with exactly one ACK on the
//!   connection it arrived on: 404 when no plugin subscribed to its topic, 400 for an
//!   unknown frame type, otherwise the plugin's outcome (or 500 with the reason).
//! - SYSTEM frames never come here; the stream layer answers them, so they never wait
//!   behind plugin work.
//! - A slow plugin never holds a callback's ACK past [`DispatchConfig::ack_deadline`]:
//!   DingTalk re-pushes callbacks that stay un-ACKed (protocol.md B.8), so past the
//!   deadline the frame is ACKed as accepted and the handler's result is only logged.
//!   Events wait for their handler, since `LATER` is part of their answer. A frame
//!   whose every plugin takes frames on receipt (`ack = "on-receipt"`) is ACKed as
//!   accepted before its handlers run.
//! - At most [`DispatchConfig::max_in_flight`] handlers run at once; later frames wait
//!   for a slot in arrival order without blocking the socket reader.
//! - A frame DingTalk pushes again (same `messageId`, or same `msgId`/`eventId`) is
//!   ACKed again but not handled again (`dedup`).
//! - Several plugins may subscribe to one topic: each gets every frame (fan-out), in
//!   parallel, and the frame's single ACK combines their outcomes: any failure is a
//!   500 naming each failed plugin; otherwise the first response in load order (for
//!   callbacks) or `LATER` if any plugin asked for it (for events). Once the
//!   operator gives routing rules for chatbot messages, each goes to exactly one
//!   plugin, or to none (ACKed and logged, not answered): see `routing`.

mod dedup;
mod order;
pub mod quarantine;
pub mod replicas;
mod routing;
mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use dedup::{Dedup, Seen};
use quarantine::QuarantineConfig;
use routing::Route;
use run::{
    Lease, Outcome, Place, Recorder, RunContext, Scoped, SharedHealth, Timed, accepted,
    combined_ack, run_one,
};

use crate::metrics::{AppMetrics, Outcome as Counted};
use crate::runtime::capability::cards::CardOwners;
use crate::runtime::capability::tools::{Board, ToolProvider};
use crate::runtime::scope::FrameScope;
use crate::runtime::{AckMode, Plugin, Subscription, SubscriptionKind};
use crate::stream::{Ack, AckSlot, Frame, FrameSink};

/// Dispatch settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Handlers running at once, across plugins. Default 64: enough to keep two cores
    /// busy while handlers wait on HTTP, small enough to bound memory.
    pub max_in_flight: usize,
    /// Longest a callback's ACK waits for its handler. Default 5 s: well under the
    /// 16–60 s after which DingTalk re-pushes an un-ACKed message.
    pub ack_deadline: Duration,
    /// How long a frame's keys are remembered to catch re-pushes. Default 10 min:
    /// re-pushes come within about a minute.
    pub dedup_ttl: Duration,
    /// Most keys remembered. Default 100,000 (a few MB).
    pub dedup_capacity: usize,
    /// Most bytes of ACK text remembered for re-pushes. Default 16 MiB: callback
    /// responses are up to 64 KiB, so the key cap alone would allow gigabytes.
    pub dedup_max_bytes: usize,
    /// When a failing plugin is quarantined.
    pub quarantine: QuarantineConfig,
    /// With replicas: how long a claim on a frame lasts without renewal, so a frame
    /// held by a replica that died is taken over within this. Default 10 s (renewed
    /// every third of it while the handler runs).
    pub dedup_lease: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            ack_deadline: Duration::from_secs(5),
            dedup_ttl: Duration::from_secs(600),
            dedup_capacity: 100_000,
            dedup_max_bytes: 16 << 20,
            quarantine: QuarantineConfig::default(),
            dedup_lease: Duration::from_secs(10),
        }
    }
}

/// The table of recent frame keys one app dedups against. Cloning shares it, so an
/// app restarted by a config reload keeps catching re-pushes of frames the old
/// version handled.
#[derive(Clone, Debug)]
pub struct DedupTable(Arc<Mutex<Dedup>>);

impl DedupTable {
    /// An empty table sized by `config`.
    pub fn new(config: &DispatchConfig) -> Self {
        Self(Arc::new(Mutex::new(Dedup::new(
            config.dedup_ttl,
            config.dedup_capacity,
            config.dedup_max_bytes,
        ))))
    }
}

/// The plugins subscribed to one topic, in load order.
type Subscribers = Arc<[Arc<Plugin>]>;

/// Routes frames to plugins.
pub struct Dispatcher {
    table: RwLock<Arc<Table>>,
    permits: Arc<Semaphore>,
    dedup: Arc<Mutex<Dedup>>,
    config: DispatchConfig,
    metrics: AppMetrics,
    replicas: Option<replicas::Shared>,
    /// Which plugin of the app created which card: card callbacks go to the creator.
    card_owners: Arc<CardOwners>,
    /// Where agents find the tools of the current table's plugins.
    tools: Arc<Board>,
    /// Each agent's conversations, one message at a time.
    lanes: order::Lanes,
}

/// The plugins and their routes. Replaced whole on reload; a frame keeps the table
/// (and so the plugin versions) it started with until it is done.
struct Table {
    plugins: Vec<Arc<Plugin>>,
    routes: HashMap<SubscriptionKind, HashMap<String, Subscribers>>,
    health: Arc<HashMap<String, SharedHealth>>,
}

impl Table {
    /// Route `plugins`; a plugin also in `previous` (the same loaded version) keeps
    /// its quarantine record, a new or reloaded one starts fresh.
    fn new(plugins: Vec<Arc<Plugin>>, previous: Option<&Table>) -> Self {
        let mut building: HashMap<SubscriptionKind, HashMap<String, Vec<Arc<Plugin>>>> =
            HashMap::new();
        for plugin in &plugins {
            for sub in &plugin.subscriptions {
                building
                    .entry(sub.kind)
                    .or_default()
                    .entry(sub.topic.clone())
                    .or_default()
                    .push(plugin.clone());
            }
        }
        let routes = building
            .into_iter()
            .map(|(kind, topics)| {
                (
                    kind,
                    topics
                        .into_iter()
                        .map(|(t, ps)| (t, Arc::from(ps)))
                        .collect(),
                )
            })
            .collect();
        let kept = |p: &Arc<Plugin>| {
            let old = previous?;
            old.plugins.iter().find(|o| Arc::ptr_eq(o, p))?;
            old.health.get(&p.name).cloned()
        };
        let health = plugins
            .iter()
            .map(|p| (p.name.clone(), kept(p).unwrap_or_default()))
            .collect();
        Self {
            plugins,
            routes,
            health: Arc::new(health),
        }
    }
}

impl Dispatcher {
    /// Route each plugin's subscriptions to it, keeping load order per topic.
    pub fn new(
        plugins: Vec<Plugin>,
        config: DispatchConfig,
        card_owners: Arc<CardOwners>,
        tools: Arc<Board>,
    ) -> Self {
        let plugins: Vec<Arc<Plugin>> = plugins.into_iter().map(Arc::new).collect();
        publish(&tools, &plugins);
        Self {
            table: RwLock::new(Arc::new(Table::new(plugins, None))),
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            dedup: DedupTable::new(&config).0,
            config,
            metrics: AppMetrics::default(),
            replicas: None,
            card_owners,
            tools,
            lanes: order::Lanes::new(MAX_PER_CONVERSATION),
        }
    }

    /// Dedup across replicas through `shared` too (after this process's own table).
    pub fn with_replicas(mut self, shared: replicas::Shared) -> Self {
        self.replicas = Some(shared);
        self
    }

    /// Dedup against `table` (shared with an earlier dispatcher of the same app).
    pub fn with_dedup(mut self, table: DedupTable) -> Self {
        self.dedup = table.0;
        self
    }

    /// Record frames, handling and ACK times, and quarantines in `metrics`.
    pub fn with_metrics(mut self, metrics: AppMetrics) -> Self {
        for p in &self.table().plugins {
            metrics.plugin_loaded(&p.name, &p.version, None);
        }
        self.metrics = metrics;
        self
    }

    /// The metrics handle frames are recorded in.
    pub fn metrics(&self) -> &AppMetrics {
        &self.metrics
    }

    fn table(&self) -> Arc<Table> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serve `plugins` from now on. Frames already dispatched finish on the plugins
    /// they started with.
    /// Plugins kept from the current table keep their quarantine record.
    pub fn replace(&self, plugins: Vec<Arc<Plugin>>) {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        for old in &table.plugins {
            match plugins.iter().find(|p| p.name == old.name) {
                Some(new) => {
                    self.metrics
                        .plugin_loaded(&new.name, &new.version, Some(&old.version))
                }
                None => self.metrics.plugin_unloaded(&old.name, &old.version),
            }
        }
        for new in plugins
            .iter()
            .filter(|p| !table.plugins.iter().any(|o| o.name == p.name))
        {
            self.metrics.plugin_loaded(&new.name, &new.version, None);
        }
        publish(&self.tools, &plugins);
        // A replaced or unloaded plugin's warm instances go now, not when its last
        // frame in flight ends.
        for old in &table.plugins {
            if !plugins.iter().any(|p| Arc::ptr_eq(p, old)) {
                old.retire();
            }
        }
        *table = Arc::new(Table::new(plugins, Some(&table)));
    }

    /// How much longer `plugin` stays quarantined, if it is.
    pub fn quarantined(&self, plugin: &str) -> Option<Duration> {
        let table = self.table();
        let health = table.health.get(plugin)?;
        health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .quarantined(Instant::now())
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.table().plugins.clone()
    }

    /// The union of every plugin's subscriptions, sorted.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let mut all: Vec<Subscription> = self
            .table()
            .plugins
            .iter()
            .flat_map(|p| p.subscriptions.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Most messages of one conversation an agent holds at once (one answered, the
/// rest waiting in order); more are failed at once.
const MAX_PER_CONVERSATION: usize = 16;

/// Offer agents the tools of `plugins` (and no longer those of the table before).
fn publish(board: &Board, plugins: &[Arc<Plugin>]) {
    board.publish(
        plugins
            .iter()
            .map(|p| p.clone() as Arc<dyn ToolProvider>)
            .collect(),
    );
}

/// Every key a re-push of `frame` could share with it.
fn frame_keys(kind: SubscriptionKind, frame: &Frame, scope: &FrameScope) -> Vec<String> {
    let mut keys = vec![format!("m:{}", frame.message_id)];
    let payload = match kind {
        SubscriptionKind::Event => frame.header("eventId").map(str::to_owned),
        SubscriptionKind::Callback => scope.msg_id.clone(),
    };
    if let Some(id) = payload.filter(|id| !id.is_empty()) {
        keys.push(format!("p:{}:{id}", frame.topic));
    }
    keys
}

/// A card callback goes to the plugin that created the card, when it is among the
/// topic's subscribers and still remembered; otherwise (`None`) to every subscriber.
fn card_creator(
    plugins: &Subscribers,
    owners: &CardOwners,
    frame: &Frame,
    scope: &FrameScope,
) -> Option<Subscribers> {
    let out_track_id = scope.card_out_track_id.as_deref()?;
    let owner = owners.owner(out_track_id, Instant::now())?;
    let creator = plugins.iter().find(|p| p.name == owner)?;
    tracing::debug!(message_id = %frame.message_id, plugin = %creator.name, "card callback routed to the card's creator");
    Some(Arc::from([creator.clone()]))
}

impl FrameSink for Dispatcher {
    /// One frame from the connection: admitted, its plugins selected, then served.
    fn deliver(&self, frame: Frame, acks: AckSlot, tasks: &TaskTracker) {
        let acks = Timed {
            slot: acks,
            received: Instant::now(),
            metrics: self.metrics.clone(),
        };
        let table = self.table();
        let Some(admitted) = self.admit(&table, &frame, acks) else {
            return;
        };
        let Some((frame, plugins, admitted)) = self.select(frame, admitted) else {
            return;
        };
        self.serve(&table, frame, plugins, admitted, tasks);
    }
}

impl Dispatcher {
    /// Let `frame` in: a known kind, a topic some plugin subscribed to, and not a
    /// re-push of a frame this process has seen (that one is ACKed here and `None`).
    fn admit(&self, table: &Table, frame: &Frame, acks: Timed) -> Option<Admitted> {
        let Some(kind) = SubscriptionKind::of(&frame.frame_type) else {
            let reason = format!("unknown frame type {:?}", frame.frame_type.as_str());
            tracing::warn!(message_id = %frame.message_id, "{reason}");
            acks.send(Ack::error(frame.message_id.clone(), 400, reason));
            return None;
        };
        let Some(subscribed) = table.routes.get(&kind).and_then(|t| t.get(&frame.topic)) else {
            let reason = format!("no plugin subscribed to {} {}", kind.as_str(), frame.topic);
            tracing::warn!(message_id = %frame.message_id, "{reason}");
            self.metrics.frame("", &frame.topic, Counted::NoPlugin);
            acks.send(Ack::error(frame.message_id.clone(), 404, reason));
            return None;
        };
        let (scope, text) = FrameScope::decode(frame);
        let keys = frame_keys(kind, frame, &scope);
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let seen = self
            .dedup
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(&key_refs, Instant::now());
        match seen {
            Seen::New => {}
            Seen::InFlight => {
                let message_id = frame.message_id.clone();
                self.metrics.frame("", &frame.topic, Counted::Duplicate);
                tracing::debug!(%message_id, "re-pushed while still being handled; ACKed, not handled again");
                acks.send(accepted(kind, message_id));
                return None;
            }
            Seen::Done(code, message, data) => {
                let message_id = frame.message_id.clone();
                self.metrics.frame("", &frame.topic, Counted::Duplicate);
                tracing::debug!(%message_id, "re-pushed after it was handled; ACKed again, not handled again");
                acks.send(Ack {
                    code,
                    message,
                    message_id,
                    data,
                });
                return None;
            }
        }
        // The claim needs the keys too, but only with replicas: no copy per frame without.
        let replicas = self.replicas.clone().map(|shared| (shared, keys.clone()));
        Some(Admitted {
            kind,
            subscribed: subscribed.clone(),
            scope,
            text,
            replicas,
            acks: Recorder {
                slot: acks,
                keys,
                dedup: self.dedup.clone(),
                replicas: self.replicas.clone(),
            },
        })
    }

    /// The plugins that get `frame`: a card callback goes to the card's creator, a
    /// chatbot message by the routing rules (which may cut its text), anything else
    /// to every subscriber. `None` when nobody does (ACKed here).
    fn select(
        &self,
        mut frame: Frame,
        admitted: Admitted,
    ) -> Option<(Frame, Subscribers, Admitted)> {
        let subscribed = &admitted.subscribed;
        let text = admitted.text.as_deref();
        let plugins = match routing::route(subscribed, &frame.topic, text, &frame.data) {
            Route::Everyone => card_creator(subscribed, &self.card_owners, &frame, &admitted.scope)
                .unwrap_or_else(|| subscribed.clone()),
            Route::One(plugin, data) => {
                if let Some(data) = data {
                    frame.data = data;
                }
                Arc::from([plugin])
            }
            Route::Nobody => {
                tracing::info!(message_id = %frame.message_id, topic = %frame.topic, "no routing rule matched and no plugin is the fallback; ACKed, not answered");
                self.metrics.frame("", &frame.topic, Counted::NoPlugin);
                admitted
                    .acks
                    .send(Ack::callback(frame.message_id.clone(), None));
                return None;
            }
        };
        Some((frame, plugins, admitted))
    }

    /// Run `plugins` on `frame` in a task: claim it from the other replicas, run
    /// every plugin, and ACK with their combined outcome, or as accepted once the
    /// ACK deadline passes (the handlers then finish unobserved).
    fn serve(
        &self,
        table: &Table,
        frame: Frame,
        plugins: Subscribers,
        admitted: Admitted,
        tasks: &TaskTracker,
    ) {
        let Admitted {
            kind,
            scope,
            replicas,
            acks,
            ..
        } = admitted;
        let run = RunContext {
            permits: self.permits.clone(),
            health: table.health.clone(),
            quarantine: self.config.quarantine.clone(),
            metrics: self.metrics.clone(),
        };
        let metrics = self.metrics.clone();
        let deadline = self.config.ack_deadline;
        // Every plugin it goes to takes its frames on receipt: ACKed before they run.
        let on_receipt = plugins.iter().all(|p| p.ack() == AckMode::OnReceipt);
        // Places are taken now, in the order frames arrive, not when tasks run.
        let places: Vec<Place> = plugins
            .iter()
            .map(|p| match &scope.talk {
                Some(talk) if !p.grants().tools.is_empty() => self
                    .lanes
                    .enter(format!("{}\0{}", p.name, talk.conversation.id))
                    .map(Some),
                _ => Ok(None),
            })
            .collect();
        let frame = Arc::new(Scoped { frame, kind, scope });
        let work = async move {
            let message_id = frame.frame.message_id.clone();
            // `Err`: answered without running the handlers (a replica has it).
            let work = async {
                let lease = match &replicas {
                    Some((shared, keys)) => match shared.claim(keys).await {
                        replicas::Verdict::Handle => Some(Lease(shared.hold(keys))),
                        replicas::Verdict::Done(code, message, data) => {
                            tracing::debug!(%message_id, "handled by another replica; ACKed again, not handled again");
                            metrics.frame("", &frame.frame.topic, Counted::Duplicate);
                            let message_id = message_id.clone();
                            return Err(Ack {
                                code,
                                message,
                                message_id,
                                data,
                            });
                        }
                        replicas::Verdict::Elsewhere => {
                            tracing::debug!(%message_id, "still being handled by another replica; ACKed as accepted");
                            metrics.frame("", &frame.frame.topic, Counted::Duplicate);
                            return Err(accepted(kind, message_id.clone()));
                        }
                    },
                    None => None,
                };
                let mut places = places.into_iter();
                let results = match &*plugins {
                    [only] => {
                        let place = places.next().unwrap_or(Ok(None));
                        vec![run_one(only.clone(), run, frame.clone(), place).await]
                    }
                    many => {
                        let runs = many.iter().zip(places).map(|(p, place)| {
                            run_one(p.clone(), run.clone(), frame.clone(), place)
                        });
                        futures_util::future::join_all(runs).await
                    }
                };
                drop(lease);
                Ok(results)
            };
            let answer = |done: Result<Vec<Outcome>, Ack>| match done {
                Ok(results) => combined_ack(kind, &message_id, &results),
                Err(ack) => ack,
            };
            tokio::pin!(work);
            if on_receipt {
                acks.send(accepted(kind, message_id.clone()));
                if let Err(ack) = work.await {
                    tracing::debug!(%message_id, code = ack.code, "taken on receipt; not run here");
                }
                return;
            }
            if kind == SubscriptionKind::Event {
                acks.send(answer(work.await));
                return;
            }
            tokio::select! {
                done = &mut work => acks.send(answer(done)),
                () = tokio::time::sleep(deadline) => {
                    tracing::warn!(
                        %message_id,
                        "handlers still running after {deadline:?}; ACKed as accepted so DingTalk does not re-push it"
                    );
                    acks.send(Ack::callback(message_id.clone(), None));
                    let _ = work.await;
                }
            }
        };
        tasks.spawn(work.in_current_span());
    }
}

/// A frame [`Dispatcher::admit`] let in.
struct Admitted {
    kind: SubscriptionKind,
    /// Every plugin subscribed to its topic.
    subscribed: Subscribers,
    scope: FrameScope,
    /// A text message's text, for the routing rules.
    text: Option<String>,
    /// The shared dedup and the frame's keys, with replicas.
    replicas: Option<(replicas::Shared, Vec<String>)>,
    /// Where its ACK goes (recorded for dedup).
    acks: Recorder,
}

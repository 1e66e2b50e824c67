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
//!   Events wait for their handler, since `LATER` is part of their answer.
//! - At most [`DispatchConfig::max_in_flight`] handlers run at once; later frames wait
//!   for a slot in arrival order without blocking the socket reader.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::runtime::{HandleError, Plugin, PluginOutcome, Subscription, SubscriptionKind};
use crate::stream::{Ack, AckSender, Frame, FrameSink};

/// Dispatch settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Handlers running at once, across plugins. Default 64: enough to keep two cores
    /// busy while handlers wait on HTTP, small enough to bound memory.
    pub max_in_flight: usize,
    /// Longest a callback's ACK waits for its handler. Default 5 s: well under the
    /// 16–60 s after which DingTalk re-pushes an un-ACKed message.
    pub ack_deadline: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            ack_deadline: Duration::from_secs(5),
        }
    }
}

/// Two plugins asked for the same (kind, topic).
#[derive(Debug, thiserror::Error)]
#[error("plugins {first:?} and {second:?} both subscribe to {subscription}; a topic has one owner")]
pub struct RouteConflict {
    /// The contested subscription.
    pub subscription: Subscription,
    /// The plugin that claimed it first.
    pub first: String,
    /// The plugin that claimed it again.
    pub second: String,
}

/// Routes frames to plugins.
pub struct Dispatcher {
    plugins: Vec<Arc<Plugin>>,
    routes: HashMap<SubscriptionKind, HashMap<String, Arc<Plugin>>>,
    permits: Arc<Semaphore>,
    config: DispatchConfig,
}

impl Dispatcher {
    /// Route each plugin's subscriptions to it.
    pub fn new(plugins: Vec<Plugin>, config: DispatchConfig) -> Result<Self, RouteConflict> {
        let plugins: Vec<Arc<Plugin>> = plugins.into_iter().map(Arc::new).collect();
        let mut routes: HashMap<SubscriptionKind, HashMap<String, Arc<Plugin>>> = HashMap::new();
        for plugin in &plugins {
            for sub in &plugin.subscriptions {
                let by_topic = routes.entry(sub.kind).or_default();
                if let Some(first) = by_topic.get(&sub.topic) {
                    return Err(RouteConflict {
                        subscription: sub.clone(),
                        first: first.name.clone(),
                        second: plugin.name.clone(),
                    });
                }
                by_topic.insert(sub.topic.clone(), plugin.clone());
            }
        }
        Ok(Self {
            plugins,
            routes,
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
        })
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// The union of every plugin's subscriptions, sorted.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let mut all: Vec<Subscription> = self
            .plugins
            .iter()
            .flat_map(|p| p.subscriptions.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

fn ack_for(
    kind: SubscriptionKind,
    message_id: &str,
    result: &Result<PluginOutcome, HandleError>,
) -> Ack {
    match (kind, result) {
        (SubscriptionKind::Callback, Ok(PluginOutcome::Response(json))) => {
            Ack::callback(message_id, Some(json))
        }
        (SubscriptionKind::Callback, Ok(PluginOutcome::Done)) => Ack::callback(message_id, None),
        (SubscriptionKind::Callback, Ok(PluginOutcome::Later(reason))) => {
            Ack::error(message_id, 500, reason.clone())
        }
        (SubscriptionKind::Event, Ok(PluginOutcome::Later(reason))) => {
            Ack::event(message_id, Some(reason))
        }
        (SubscriptionKind::Event, Ok(_)) => Ack::event(message_id, None),
        (_, Err(e)) => Ack::error(message_id, 500, format!("plugin {e}")),
    }
}

fn log_result(
    plugin: &Plugin,
    frame: &Frame,
    result: &Result<PluginOutcome, HandleError>,
    took: Duration,
) {
    match result {
        Ok(_) => tracing::debug!(
            plugin = %plugin.name,
            message_id = %frame.message_id,
            topic = %frame.topic,
            took_us = took.as_micros() as u64,
            "frame handled"
        ),
        Err(e) => tracing::warn!(
            plugin = %plugin.name,
            message_id = %frame.message_id,
            topic = %frame.topic,
            "frame failed: plugin {e}"
        ),
    }
}

impl FrameSink for Dispatcher {
    fn deliver(&self, frame: Frame, acks: AckSender, tasks: &TaskTracker) {
        let Some(kind) = SubscriptionKind::of(&frame.frame_type) else {
            let reason = format!("unknown frame type {:?}", frame.frame_type.as_str());
            tracing::warn!(message_id = %frame.message_id, "{reason}");
            acks.send(Ack::error(frame.message_id, 400, reason));
            return;
        };
        let Some(plugin) = self.routes.get(&kind).and_then(|t| t.get(&frame.topic)) else {
            let reason = format!("no plugin subscribed to {} {}", kind.as_str(), frame.topic);
            tracing::warn!(message_id = %frame.message_id, "{reason}");
            acks.send(Ack::error(frame.message_id, 404, reason));
            return;
        };
        let plugin = plugin.clone();
        let permits = self.permits.clone();
        let deadline = self.config.ack_deadline;
        tasks.spawn(async move {
            let work = async {
                let _permit = permits.acquire_owned().await.ok();
                let started = Instant::now();
                let result = plugin.handle(&frame).await;
                log_result(&plugin, &frame, &result, started.elapsed());
                result
            };
            tokio::pin!(work);
            if kind == SubscriptionKind::Event {
                let result = work.await;
                acks.send(ack_for(kind, &frame.message_id, &result));
                return;
            }
            tokio::select! {
                result = &mut work => acks.send(ack_for(kind, &frame.message_id, &result)),
                () = tokio::time::sleep(deadline) => {
                    tracing::warn!(
                        plugin = %plugin.name,
                        message_id = %frame.message_id,
                        "handler still running after {deadline:?}; ACKed as accepted so DingTalk does not re-push it"
                    );
                    acks.send(Ack::callback(frame.message_id.clone(), None));
                    let _ = work.await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_acks_per_frame_kind() {
        let cb = SubscriptionKind::Callback;
        let ev = SubscriptionKind::Event;
        let data = |a: Ack| serde_json::from_str::<serde_json::Value>(&a.data).unwrap();
        assert_eq!(
            data(ack_for(cb, "m", &Ok(PluginOutcome::Done))),
            serde_json::json!({"response": null})
        );
        assert_eq!(
            data(ack_for(cb, "m", &Ok(PluginOutcome::Response("[1]".into())))),
            serde_json::json!({"response": [1]})
        );
        assert_eq!(
            data(ack_for(ev, "m", &Ok(PluginOutcome::Done)))["status"],
            "SUCCESS"
        );
        assert_eq!(
            data(ack_for(ev, "m", &Ok(PluginOutcome::Later("x".into()))))["status"],
            "LATER"
        );
        let failed = ack_for(cb, "m", &Err(HandleError::Returned("boom".into())));
        assert_eq!(
            (failed.code, failed.message.as_str()),
            (500, "plugin returned an error: boom")
        );
        assert_eq!(
            ack_for(cb, "m", &Ok(PluginOutcome::Later("busy".into()))).code,
            500
        );
    }
}

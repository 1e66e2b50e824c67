//! One frame through its plugins and back to the connection: each plugin run under
//! its quarantine record, its own slot and the host's in-flight bound; the results
//! combined into the frame's one ACK, which is recorded for re-pushes (here and, with
//! replicas, in the shared store) and timed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::dedup::Dedup;
use super::order::Ticket;
use super::quarantine::{Health, QuarantineConfig};
use super::replicas;
use crate::metrics::{AppMetrics, Outcome as Counted};
use crate::runtime::scope::FrameScope;
use crate::runtime::{HandleError, Plugin, PluginOutcome, SubscriptionKind};
use crate::stream::{Ack, AckSlot, Frame};

/// One plugin's quarantine record, shared by every table that serves that version.
pub(super) type SharedHealth = Arc<Mutex<Health>>;

/// A frame's place in its agent's conversation lane (`None`: not an agent's chat
/// message), or how many frames hold the lane when it is full.
pub(super) type Place = Result<Option<Ticket>, usize>;

/// One plugin's result for a frame.
pub(super) type Outcome = (Arc<Plugin>, Result<PluginOutcome, HandleError>);

/// The single ACK for a frame, from every subscribed plugin's result (load order).
pub(super) fn ack_for(
    kind: SubscriptionKind,
    message_id: &str,
    results: &[(&str, &Result<PluginOutcome, HandleError>)],
) -> Ack {
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("plugin {name} {e}")))
        .collect();
    if !failures.is_empty() {
        return Ack::error(message_id, 500, failures.join("; "));
    }
    let later = results.iter().find_map(|(_, r)| match r {
        Ok(PluginOutcome::Later(reason)) => Some(reason.as_str()),
        _ => None,
    });
    match kind {
        SubscriptionKind::Event => Ack::event(message_id, later),
        SubscriptionKind::Callback => match later {
            Some(reason) => Ack::error(message_id, 500, reason),
            None => {
                let response = results.iter().find_map(|(_, r)| match r {
                    Ok(PluginOutcome::Response(json)) => Some(json.as_str()),
                    _ => None,
                });
                Ack::callback(message_id, response)
            }
        },
    }
}

pub(super) fn log_result(
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

/// Sends a frame's ACK (once: it consumes the slot) and records it for re-pushes of
/// the same frame.
pub(super) struct Recorder {
    pub(super) slot: Timed,
    pub(super) keys: Vec<String>,
    pub(super) dedup: Arc<Mutex<Dedup>>,
    pub(super) replicas: Option<replicas::Shared>,
}

impl Recorder {
    pub(super) fn send(self, ack: Ack) {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        self.dedup
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .complete(&keys, ack.code, &ack.message, &ack.data);
        if let Some(shared) = &self.replicas {
            shared.finish(
                &self.keys,
                (ack.code, ack.message.clone(), ack.data.clone()),
            );
        }
        self.slot.send(ack);
    }
}

/// Renews this process's lease on a frame while it lives.
pub(super) struct Lease(pub(super) tokio::task::JoinHandle<()>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The ACK of a frame taken as accepted without its handlers' result.
pub(super) fn accepted(kind: SubscriptionKind, message_id: String) -> Ack {
    match kind {
        SubscriptionKind::Callback => Ack::callback(message_id, None),
        SubscriptionKind::Event => Ack::event(message_id, None),
    }
}

/// An ACK slot that records, when it is used, how long the frame waited for it.
pub(super) struct Timed {
    pub(super) slot: AckSlot,
    pub(super) received: Instant,
    pub(super) metrics: AppMetrics,
}

impl Timed {
    pub(super) fn send(self, ack: Ack) {
        self.slot.send(ack);
        self.metrics.acked(self.received.elapsed());
    }
}

pub(super) fn combined_ack(kind: SubscriptionKind, message_id: &str, results: &[Outcome]) -> Ack {
    let named: Vec<(&str, &Result<PluginOutcome, HandleError>)> =
        results.iter().map(|(p, r)| (p.name.as_str(), r)).collect();
    ack_for(kind, message_id, &named)
}

/// What one plugin run needs besides the plugin and the frame.
#[derive(Clone)]
pub(super) struct RunContext {
    pub(super) permits: Arc<Semaphore>,
    pub(super) health: Arc<HashMap<String, SharedHealth>>,
    pub(super) quarantine: QuarantineConfig,
    pub(super) metrics: AppMetrics,
}

/// How `dingtalk_frames_total` counts one plugin's result.
pub(super) fn counted(result: &Result<PluginOutcome, HandleError>) -> Counted {
    match result {
        Ok(PluginOutcome::Later(_)) => Counted::Later,
        Ok(_) => Counted::Ok,
        Err(HandleError::Timeout(_)) => Counted::Timeout,
        Err(HandleError::Quarantined(_)) => Counted::Quarantined,
        Err(_) => Counted::Error,
    }
}

pub(super) async fn run_one(
    plugin: Arc<Plugin>,
    ctx: RunContext,
    frame: Arc<Scoped>,
    place: Place,
) -> Outcome {
    let Scoped { frame, kind, scope } = &*frame;
    // An agent's conversation first: its earlier messages are answered before this.
    let _ticket = match place {
        Err(holding) => return (plugin, Err(HandleError::QueueFull(holding))),
        Ok(Some(mut ticket)) => {
            ticket.turn().await;
            Some(ticket)
        }
        Ok(None) => None,
    };
    let health = ctx.health.get(&plugin.name);
    let lock =
        |h: &Mutex<Health>| -> Health { h.lock().unwrap_or_else(PoisonError::into_inner).clone() };
    if let Some(remaining) = health.and_then(|h| lock(h).quarantined(Instant::now())) {
        ctx.metrics
            .frame(&plugin.name, &frame.topic, Counted::Quarantined);
        return (plugin, Err(HandleError::Quarantined(remaining)));
    }
    // The plugin's own slot first, so a plugin at its limit holds no host-wide slot.
    let started = Instant::now();
    let result = match plugin.slot().await {
        Ok(_slot) => {
            let _permit = ctx.permits.acquire_owned().await.ok();
            plugin.handle(frame, *kind, scope).await
        }
        Err(e) => Err(e),
    };
    let took = started.elapsed();
    log_result(&plugin, frame, &result, took);
    plugin.stats().record(&result);
    ctx.metrics.handled(&plugin.name, took);
    ctx.metrics
        .frame(&plugin.name, &frame.topic, counted(&result));
    if let Some(h) = health {
        let mut h = h.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(_) => {
                if h.failing() {
                    ctx.metrics.quarantined(&plugin.name, false);
                }
                h.success();
            }
            Err(_) => {
                if let Some(period) = h.failure(Instant::now(), &ctx.quarantine) {
                    ctx.metrics.quarantined(&plugin.name, true);
                    tracing::error!(
                        plugin = %plugin.name,
                        "quarantined for {period:?} after {} consecutive failures; its frames get an error ACK until then",
                        ctx.quarantine.after
                    );
                }
            }
        }
    }
    (plugin, result)
}

/// A frame on its way to its plugins, with what dispatch decoded of it once.
pub(super) struct Scoped {
    pub(super) frame: Frame,
    pub(super) kind: SubscriptionKind,
    pub(super) scope: FrameScope,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(a: &Ack) -> serde_json::Value {
        serde_json::from_str(&a.data).unwrap()
    }

    #[test]
    fn outcomes_map_to_acks_per_frame_kind() {
        let cb = SubscriptionKind::Callback;
        let ev = SubscriptionKind::Event;
        let done = Ok(PluginOutcome::Done);
        let response = Ok(PluginOutcome::Response("[1]".into()));
        let later = Ok(PluginOutcome::Later("busy".into()));
        assert_eq!(
            data(&ack_for(cb, "m", &[("a", &done)])),
            serde_json::json!({"response": null})
        );
        assert_eq!(
            data(&ack_for(cb, "m", &[("a", &response)])),
            serde_json::json!({"response": [1]})
        );
        assert_eq!(
            data(&ack_for(ev, "m", &[("a", &done)]))["status"],
            "SUCCESS"
        );
        assert_eq!(data(&ack_for(ev, "m", &[("a", &later)]))["status"], "LATER");
        assert_eq!(ack_for(cb, "m", &[("a", &later)]).code, 500);
    }

    #[test]
    fn with_several_plugins_any_failure_fails_the_frame_naming_each() {
        let cb = SubscriptionKind::Callback;
        let done = Ok(PluginOutcome::Done);
        let response = Ok(PluginOutcome::Response("{\"x\":1}".into()));
        let boom = Err(HandleError::Returned("boom".into()));
        let ack = ack_for(cb, "m", &[("a", &done), ("b", &boom), ("c", &boom)]);
        assert_eq!(ack.code, 500);
        assert_eq!(
            ack.message,
            "plugin b returned an error: boom; plugin c returned an error: boom"
        );
        let ok = ack_for(cb, "m", &[("a", &done), ("b", &response)]);
        assert_eq!(data(&ok), serde_json::json!({"response": {"x": 1}}));
    }
}

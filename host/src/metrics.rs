//! Prometheus metrics, served by the admin endpoint (`admin`).
//!
//! One [`Metrics`] registry per process; each app records through its own
//! [`AppMetrics`] handle, so every series carries the app's name. Without `--admin`
//! the handles are empty and every recording is a branch on `None`: the hot path pays
//! nothing for metrics nobody can read.
//!
//! Names and labels (README "Admin endpoint" lists them for operators):
//! `dingtalk_frames_total{app,plugin,topic,outcome}`, `dingtalk_handle_seconds{app,plugin}`,
//! `dingtalk_ack_seconds{app}`, `dingtalk_connections{app}`,
//! `dingtalk_reconnects_total{app,reason}`,
//! `dingtalk_host_calls_total{app,plugin,capability,result}`,
//! `dingtalk_plugin_quarantined{app,plugin}`, `dingtalk_plugin_info{app,plugin,version}`,
//! `dingtalk_token_fetches_total{app}`, `dingtalk_kv_ops_total{app,plugin,op,result}`,
//! `dingtalk_http_requests_total{app,plugin,origin,result}`,
//! `dingtalk_limit_refusals_total{app,plugin,capability,bound}`, and the standard
//! `process_*` metrics.
//!
//! Known label sets are exported at zero from the start (each loaded plugin's
//! quarantined gauge, each reconnect reason), so dashboards and `absent()` alerts
//! see the series before the first event.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod process;

/// What became of a frame, as `dingtalk_frames_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled; the plugin succeeded.
    Ok,
    /// The plugin failed (trap, error, memory, CPU).
    Error,
    /// The plugin asked DingTalk to push it again later.
    Later,
    /// The plugin ran past its wall-clock timeout.
    Timeout,
    /// The plugin is quarantined: the frame got an error ACK without running it.
    Quarantined,
    /// A re-push of a frame already handled (here or, with Redis, by a replica).
    Duplicate,
    /// No plugin subscribed to the topic, or no routing rule matched.
    NoPlugin,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Later => "later",
            Outcome::Timeout => "timeout",
            Outcome::Quarantined => "quarantined",
            Outcome::Duplicate => "duplicate",
            Outcome::NoPlugin => "no_plugin",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    app: String,
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FrameLabels {
    app: String,
    plugin: String,
    topic: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    app: String,
    reason: &'static str,
}

/// How a host call ended: the `result` label of host calls, key-value operations
/// and outbound requests (`ok`, or the WIT error case that was returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// Succeeded.
    Ok,
    /// DingTalk answered with an error.
    Dingtalk,
    /// Timed out.
    Timeout,
    /// The network or the answer failed.
    Network,
    /// An argument was refused.
    Invalid,
    /// Not granted.
    Denied,
    /// The plugin's own error.
    Plugin,
    /// A limit was reached.
    Limit,
    /// A service the call needs is missing or down.
    Unavailable,
    /// A host bug ended the call.
    Trap,
    /// An outbound request's name resolved only to internal addresses.
    InternalAddress,
    /// An outbound request failed.
    Error,
}

impl CallResult {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            CallResult::Ok => "ok",
            CallResult::Dingtalk => "dingtalk",
            CallResult::Timeout => "timeout",
            CallResult::Network => "network",
            CallResult::Invalid => "invalid",
            CallResult::Denied => "denied",
            CallResult::Plugin => "plugin",
            CallResult::Limit => "limit",
            CallResult::Unavailable => "unavailable",
            CallResult::Trap => "trap",
            CallResult::InternalAddress => "internal_address",
            CallResult::Error => "error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    app: String,
    plugin: String,
    capability: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    app: String,
    plugin: String,
    capability: &'static str,
    bound: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    app: String,
    plugin: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KvLabels {
    app: String,
    plugin: String,
    op: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    app: String,
    plugin: String,
    origin: String,
    result: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    frames: Family<FrameLabels, Counter>,
    handle: Histograms<PluginLabels>,
    ack: Histograms<AppLabels>,
    connections: Family<AppLabels, Gauge>,
    reconnects: Family<ReasonLabels, Counter>,
    host_calls: Family<CallLabels, Counter>,
    quarantined: Family<PluginLabels, Gauge>,
    info: Family<InfoLabels, Gauge>,
    token_fetches: Family<AppLabels, Counter>,
    kv_ops: Family<KvLabels, Counter>,
    http: Family<HttpLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 100 us to about 26 s: a calcbot frame to a model's answer.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// The process's metrics registry; empty (recording nothing) unless made with
/// [`Metrics::enabled`].
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Metrics(enabled)"
        } else {
            "Metrics(off)"
        })
    }
}

impl Metrics {
    /// A registry that records, with the standard process metrics.
    pub fn enabled() -> Self {
        let mut registry = Registry::default();
        let frames = Family::default();
        let handle: Histograms<PluginLabels> = Family::new_with_constructor(latency_histogram);
        let ack: Histograms<AppLabels> = Family::new_with_constructor(latency_histogram);
        let connections = Family::default();
        let reconnects = Family::default();
        let host_calls = Family::default();
        let quarantined = Family::default();
        let info = Family::default();
        let token_fetches = Family::default();
        let kv_ops = Family::default();
        let http = Family::default();
        let refusals = Family::default();
        registry.register(
            "dingtalk_frames",
            "Data frames by app, plugin, topic and outcome",
            frames.clone(),
        );
        registry.register(
            "dingtalk_handle_seconds",
            "Time one plugin took to handle one frame",
            handle.clone(),
        );
        registry.register(
            "dingtalk_ack_seconds",
            "Time from a frame's arrival to its ACK being written",
            ack.clone(),
        );
        registry.register(
            "dingtalk_connections",
            "Live gateway connections",
            connections.clone(),
        );
        registry.register(
            "dingtalk_reconnects",
            "Connections replaced, by reason",
            reconnects.clone(),
        );
        registry.register(
            "dingtalk_host_calls",
            "Host functions plugins called, by capability and result",
            host_calls.clone(),
        );
        registry.register(
            "dingtalk_plugin_quarantined",
            "1 while the plugin is quarantined",
            quarantined.clone(),
        );
        registry.register(
            "dingtalk_plugin_info",
            "The plugins loaded, with their version (always 1)",
            info.clone(),
        );
        registry.register(
            "dingtalk_token_fetches",
            "Access tokens fetched from DingTalk",
            token_fetches.clone(),
        );
        registry.register(
            "dingtalk_kv_ops",
            "Key-value operations by plugin, op and result",
            kv_ops.clone(),
        );
        registry.register(
            "dingtalk_http_requests",
            "Plugins' outbound HTTP requests by origin and result",
            http.clone(),
        );
        registry.register(
            "dingtalk_limit_refusals",
            "Host calls refused by a per-frame, per-second or host-buffer bound",
            refusals.clone(),
        );
        registry.register_collector(Box::new(process::Process::new()));
        Metrics(Some(Arc::new(Inner {
            registry,
            frames,
            handle,
            ack,
            connections,
            reconnects,
            host_calls,
            quarantined,
            info,
            token_fetches,
            kv_ops,
            http,
            refusals,
        })))
    }

    /// The handle an app records through.
    pub fn app(&self, app: &str) -> AppMetrics {
        AppMetrics {
            app: app.into(),
            inner: self.0.clone(),
        }
    }

    /// Everything, in the Prometheus text format; `None` when not enabled.
    pub fn render(&self) -> Option<String> {
        let inner = self.0.as_ref()?;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &inner.registry).ok()?;
        Some(text)
    }
}

/// One app's view of the registry.
#[derive(Clone, Default)]
pub struct AppMetrics {
    app: Arc<str>,
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for AppMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppMetrics({})", self.app)
    }
}

impl AppMetrics {
    fn app(&self) -> String {
        self.app.to_string()
    }

    fn plugin(&self, plugin: &str) -> PluginLabels {
        PluginLabels {
            app: self.app(),
            plugin: plugin.into(),
        }
    }

    /// One plugin's outcome for one frame (or the frame's, with `plugin` empty).
    pub fn frame(&self, plugin: &str, topic: &str, outcome: Outcome) {
        if let Some(m) = &self.inner {
            m.frames
                .get_or_create(&FrameLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    topic: topic.into(),
                    outcome: outcome.as_str(),
                })
                .inc();
        }
    }

    /// How long `plugin` took with one frame.
    pub fn handled(&self, plugin: &str, took: Duration) {
        if let Some(m) = &self.inner {
            m.handle
                .get_or_create(&self.plugin(plugin))
                .observe(took.as_secs_f64());
        }
    }

    /// A frame ACKed `took` after it arrived.
    pub fn acked(&self, took: Duration) {
        if let Some(m) = &self.inner {
            m.ack
                .get_or_create(&AppLabels { app: self.app() })
                .observe(took.as_secs_f64());
        }
    }

    /// Live connections now.
    pub fn connections(&self, n: usize) {
        if let Some(m) = &self.inner {
            m.connections
                .get_or_create(&AppLabels { app: self.app() })
                .set(n as i64);
        }
    }

    /// A connection replaced for `reason`.
    pub fn reconnect(&self, reason: &'static str) {
        if let Some(m) = &self.inner {
            m.reconnects
                .get_or_create(&ReasonLabels {
                    app: self.app(),
                    reason,
                })
                .inc();
        }
    }

    /// Export every reason in `reasons` at zero (the first replacement then counts 1).
    pub fn reconnect_reasons(&self, reasons: &[&'static str]) {
        if let Some(m) = &self.inner {
            for &reason in reasons {
                drop(m.reconnects.get_or_create(&ReasonLabels {
                    app: self.app(),
                    reason,
                }));
            }
        }
    }

    /// A host call of `capability` refused by `bound` (`per_frame`, `per_second`,
    /// `bytes`).
    pub fn limit_refused(&self, plugin: &str, capability: &'static str, bound: &'static str) {
        if let Some(m) = &self.inner {
            m.refusals
                .get_or_create(&RefusalLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    capability,
                    bound,
                })
                .inc();
        }
    }

    /// A host function of `capability` returned `result`.
    pub fn host_call(&self, plugin: &str, capability: &'static str, result: CallResult) {
        if let Some(m) = &self.inner {
            m.host_calls
                .get_or_create(&CallLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    capability,
                    result: result.label(),
                })
                .inc();
        }
    }

    /// Whether `plugin` is quarantined now.
    pub fn quarantined(&self, plugin: &str, on: bool) {
        if let Some(m) = &self.inner {
            m.quarantined
                .get_or_create(&self.plugin(plugin))
                .set(i64::from(on));
        }
    }

    /// `plugin` at `version` is loaded (and `previous`, if given, no longer is).
    pub fn plugin_loaded(&self, plugin: &str, version: &str, previous: Option<&str>) {
        if let Some(m) = &self.inner {
            if let Some(old) = previous.filter(|old| *old != version) {
                m.info.remove(&InfoLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    version: old.into(),
                });
            }
            m.info
                .get_or_create(&InfoLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    version: version.into(),
                })
                .set(1);
            // Created at 0 when new; a plugin reloaded while quarantined keeps its 1.
            drop(m.quarantined.get_or_create(&self.plugin(plugin)));
        }
    }

    /// `plugin` at `version` was unloaded: its series go.
    pub fn plugin_unloaded(&self, plugin: &str, version: &str) {
        if let Some(m) = &self.inner {
            m.info.remove(&InfoLabels {
                app: self.app(),
                plugin: plugin.into(),
                version: version.into(),
            });
            m.quarantined.remove(&self.plugin(plugin));
        }
    }

    /// An access token was fetched.
    pub fn token_fetched(&self) {
        if let Some(m) = &self.inner {
            m.token_fetches
                .get_or_create(&AppLabels { app: self.app() })
                .inc();
        }
    }

    /// A key-value operation.
    pub fn kv_op(&self, plugin: &str, op: &'static str, result: CallResult) {
        if let Some(m) = &self.inner {
            m.kv_ops
                .get_or_create(&KvLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    op,
                    result: result.label(),
                })
                .inc();
        }
    }

    /// An outbound HTTP request to `origin` (scheme://host:port, never a path).
    pub fn http_request(&self, plugin: &str, origin: &str, result: CallResult) {
        if let Some(m) = &self.inner {
            m.http
                .get_or_create(&HttpLabels {
                    app: self.app(),
                    plugin: plugin.into(),
                    origin: origin.into(),
                    result: result.label(),
                })
                .inc();
        }
    }

    /// Drop every series of this app (it was removed from the config).
    pub fn forget(&self) {
        if let Some(m) = &self.inner {
            let app = AppLabels { app: self.app() };
            m.connections.remove(&app);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_appear_in_the_text_format_with_the_app_label() {
        let metrics = Metrics::enabled();
        let a = metrics.app("support");
        a.frame("calcbot", "/v1.0/im/bot/messages/get", Outcome::Ok);
        a.frame("calcbot", "/v1.0/im/bot/messages/get", Outcome::Ok);
        a.handled("calcbot", Duration::from_millis(2));
        a.connections(1);
        let text = metrics.render().unwrap();
        assert!(text.contains("dingtalk_frames_total{app=\"support\",plugin=\"calcbot\",topic=\"/v1.0/im/bot/messages/get\",outcome=\"ok\"} 2"), "{text}");
        assert!(
            text.contains("dingtalk_connections{app=\"support\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("dingtalk_handle_seconds_count{app=\"support\",plugin=\"calcbot\"} 1"),
            "{text}"
        );
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }

    #[test]
    fn loaded_plugins_and_reconnect_reasons_are_exported_at_zero_before_any_event() {
        let metrics = Metrics::enabled();
        let a = metrics.app("support");
        a.plugin_loaded("calcbot", "1.0.0", None);
        a.reconnect_reasons(&["lost", "keepalive"]);
        let text = metrics.render().unwrap();
        for series in [
            "dingtalk_plugin_quarantined{app=\"support\",plugin=\"calcbot\"} 0",
            "dingtalk_reconnects_total{app=\"support\",reason=\"lost\"} 0",
            "dingtalk_reconnects_total{app=\"support\",reason=\"keepalive\"} 0",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        a.quarantined("calcbot", true);
        a.plugin_loaded("calcbot", "1.0.1", Some("1.0.0"));
        let text = metrics.render().unwrap();
        assert!(
            text.contains("dingtalk_plugin_quarantined{app=\"support\",plugin=\"calcbot\"} 1"),
            "a reload keeps the quarantine: {text}"
        );
    }

    #[test]
    fn a_disabled_registry_records_nothing_and_renders_nothing() {
        let metrics = Metrics::default();
        metrics.app("a").frame("p", "t", Outcome::Ok);
        assert!(metrics.render().is_none());
    }
}

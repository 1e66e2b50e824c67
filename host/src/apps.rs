//! Several DingTalk apps in one process, and changing them while it runs.
//!
//! Each app is a [`RunningHost`] of its own: its credentials, connections, token
//! cache, dedup table, key-value namespace, plugins (their quarantine records and
//! grants) and limits. What the apps share is what costs memory or threads and holds
//! no app data: the wasmtime engine (one pool, one epoch ticker, one artifact cache),
//! the key-value backend (namespaced per app) and the metrics registry (labelled per
//! app). A plugin file loaded by two apps is two plugin instances of one compiled
//! artifact.
//!
//! [`Fleet::apply`] moves the running set to a new configuration make-before-break:
//! an added app is connected, a changed one (any setting, or any secret) is started
//! anew and only then is the old one drained (in-flight frames finish and are ACKed)
//! and closed, a removed one is drained and closed. An app that fails to start keeps
//! its previous version serving; the failure is logged and shown by readiness.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Mutex;

use crate::config::{Credentials, Endpoints};
use crate::dispatch::{DedupTable, DispatchConfig};
use crate::egress::Egress;
use crate::kv::Backend;
use crate::metrics::Metrics;
use crate::openapi::HttpConfig;
use crate::reload;
use crate::replicas::Replicas;
use crate::runtime::{Engine, Limits, PluginConfigs, RuntimeConfig};
use crate::secrets::Secrets;
use crate::stream::{ConnectionStatus, StreamConfig};
use crate::{Error, Host, RunningHost};

/// One app as the configuration gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// Its name (`[apps.<name>]`, or `default` for the single-app form).
    pub name: String,
    /// Its client id and secret.
    pub credentials: Credentials,
    /// Its plugin files (globs allowed).
    pub plugins: Vec<PathBuf>,
    /// Settings per plugin name.
    pub plugin_configs: PluginConfigs,
    /// Default limits of its plugins.
    pub limits: Limits,
}

/// What every app of the process shares.
#[derive(Clone)]
pub struct Shared {
    /// Where DingTalk is.
    pub endpoints: Endpoints,
    /// The engine settings (cache, pool size); its limits are each app's default.
    pub runtime: RuntimeConfig,
    /// Dispatch settings.
    pub dispatch: DispatchConfig,
    /// Connection settings.
    pub stream: StreamConfig,
    /// DingTalk HTTP timeouts.
    pub http: HttpConfig,
    /// Outbound HTTP with the current secrets.
    pub egress: Egress,
    /// The key-value backend.
    pub kv: Option<Arc<dyn Backend>>,
    /// Dedup shared with replicas (Redis), if any.
    pub replicas: Option<Arc<dyn Replicas>>,
    /// The metrics registry.
    pub metrics: Metrics,
    /// Reload plugins when their files change.
    pub watch_plugins: bool,
    /// Tools of remote MCP servers (`[mcp.<server>]`), offered to every app's agents.
    pub remote_tools: Vec<Arc<crate::mcp::client::Remote>>,
    /// The audit log (`--audit-log`); a no-op one keeps events for `/status` only.
    pub audit: crate::audit::Audit,
    /// Where every app's frames, ACKs and host calls are recorded (`host record`).
    pub recorder: Option<crate::record::Recorder>,
}

struct Running {
    spec: AppSpec,
    secrets: Secrets,
    host: RunningHost,
}

/// An app of the configuration and how it is doing.
enum Slot {
    Up(Box<Running>),
    /// Configured but not serving: why.
    Down {
        spec: Box<AppSpec>,
        reason: String,
    },
}

/// The apps of this process.
pub struct Fleet {
    engine: Engine,
    shared: Mutex<Shared>,
    apps: Mutex<BTreeMap<String, Slot>>,
    /// Each app's dedup table outlives its restarts, so a re-push that straddles a
    /// reload is still caught.
    dedup: Mutex<BTreeMap<String, DedupTable>>,
}

/// The apps and plugins as `/status` shows them.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    /// The app's name.
    pub name: String,
    /// Its client id.
    pub client_id: String,
    /// Serving, or why not.
    pub error: Option<String>,
    /// Its live connections.
    pub connections: Vec<ConnectionStatus>,
    /// Its plugins.
    pub plugins: Vec<PluginStatus>,
}

/// One plugin of one app.
#[derive(Debug, Serialize)]
pub struct PluginStatus {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its component's SHA-256.
    pub sha256: String,
    /// The file it came from.
    pub source: PathBuf,
    /// Its limits, under the config file's keys.
    pub limits: Limits,
    /// Fresh or warm instances, and for warm ones how long each lives.
    pub instances: crate::runtime::Instances,
    /// Warm instances waiting for its next frame.
    pub parked: usize,
    /// Its grants, as `host check` shows them.
    pub grants: Vec<String>,
    /// Seconds of quarantine left, if quarantined.
    pub quarantined_for_s: Option<f64>,
    /// Frames it handled.
    pub frames_handled: u64,
    /// Its last failure.
    pub last_error: Option<String>,
    /// A new version of its file that the upgrade rules hold, and why.
    pub held: Option<crate::Held>,
    /// Its last audit events (loads, refusals, holds, denied calls, approvals).
    pub events: Vec<crate::audit::Event>,
}

impl Fleet {
    /// Build the shared engine and start every app; the first app that cannot start
    /// fails the whole start (naming it), and the ones already started are closed.
    pub async fn start(shared: Shared, specs: Vec<AppSpec>) -> Result<Self, Error> {
        if specs.is_empty() {
            return Err(Error::NoPlugins);
        }
        let mut runtime = shared.runtime.clone();
        // Size the pool's slots for the largest memory any plugin of any app gets.
        runtime.memory_cap = specs
            .iter()
            .map(|s| {
                s.limits
                    .memory_needed(s.plugin_configs.values().map(|p| &p.limits))
            })
            .fold(runtime.memory_cap, usize::max);
        let engine = Engine::new(&runtime)?;
        let fleet = Fleet {
            engine,
            shared: Mutex::new(shared),
            apps: Mutex::new(BTreeMap::new()),
            dedup: Mutex::new(BTreeMap::new()),
        };
        for spec in specs {
            match fleet.launch(&spec).await {
                Ok(running) => {
                    fleet
                        .apps
                        .lock()
                        .await
                        .insert(spec.name.clone(), Slot::Up(Box::new(running)));
                }
                Err(e) => {
                    fleet.shutdown().await;
                    return Err(Error::App {
                        app: spec.name,
                        reason: Box::new(e),
                    });
                }
            }
        }
        Ok(fleet)
    }

    async fn launch(&self, spec: &AppSpec) -> Result<Running, Error> {
        let shared = self.shared.lock().await.clone();
        let dedup = self
            .dedup
            .lock()
            .await
            .entry(spec.name.clone())
            .or_insert_with(|| DedupTable::new(&shared.dispatch))
            .clone();
        let mut builder = Host::builder()
            .app(&spec.name)
            .engine(self.engine.clone())
            .credentials(spec.credentials.clone())
            .endpoints(shared.endpoints.clone())
            .plugins(&spec.plugins)
            .plugin_configs(spec.plugin_configs.clone())
            .runtime_config(RuntimeConfig {
                limits: spec.limits.clone(),
                ..shared.runtime.clone()
            })
            .dispatch_config(shared.dispatch.clone())
            .dedup(dedup)
            .stream_config(shared.stream.clone())
            .http_config(shared.http.clone())
            .egress(shared.egress.clone())
            .remote_tools(shared.remote_tools.clone())
            .audit(shared.audit.clone())
            .metrics(shared.metrics.app(&spec.name));
        if let Some(kv) = &shared.kv {
            builder = builder.kv(kv.clone());
        }
        if let Some(recorder) = &shared.recorder {
            builder = builder.recorder(recorder.clone());
        }
        if let Some(replicas) = &shared.replicas {
            builder = builder.replicas(replicas.clone());
        }
        let host = builder.build().await?.start().await?;
        if shared.watch_plugins {
            host.watch()?;
        }
        tracing::info!(app = %spec.name, plugins = ?host.plugin_names(), "app serving");
        Ok(Running {
            spec: spec.clone(),
            secrets: shared.egress.secrets().clone(),
            host,
        })
    }

    /// Judge plugin loads by `policy` from now on (a reloaded `[trust]`); each app's
    /// rescan in [`Fleet::apply`] unloads what it denies.
    pub fn set_trust(&self, policy: crate::trust::Policy) {
        self.engine.set_trust(policy);
    }

    /// Move to `specs` with `egress` (the new secrets). Apps whose settings and
    /// secrets are unchanged keep running and rescan their plugin files.
    pub async fn apply(&self, specs: Vec<AppSpec>, egress: Egress) {
        self.shared.lock().await.egress = egress.clone();
        let mut apps = self.apps.lock().await;
        let wanted: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let mut retired = Vec::new();
        for name in apps.keys().cloned().collect::<Vec<_>>() {
            if !wanted.contains(&name) {
                tracing::info!(app = %name, "app removed from the config: draining and closing it");
                if let Some(slot) = apps.remove(&name) {
                    retired.push(slot);
                }
                self.dedup.lock().await.remove(&name);
            }
        }
        let audit = self.shared.lock().await.audit.clone();
        for spec in specs {
            if let Some(Slot::Up(r)) = apps.get(&spec.name) {
                record_grant_changes(
                    &audit,
                    &spec.name,
                    &r.spec.plugin_configs,
                    &spec.plugin_configs,
                );
            }
            let unchanged = match apps.get(&spec.name) {
                Some(Slot::Up(r)) => r.spec == spec && r.secrets == *egress.secrets(),
                _ => false,
            };
            if unchanged {
                if let Some(Slot::Up(r)) = apps.get(&spec.name) {
                    r.host.reload(true).await;
                }
                continue;
            }
            match self.launch(&spec).await {
                Ok(running) => {
                    if apps.contains_key(&spec.name) {
                        tracing::info!(app = %spec.name, "app changed: the new version serves; draining the old one");
                    }
                    if let Some(old) = apps.insert(spec.name.clone(), Slot::Up(Box::new(running))) {
                        retired.push(old);
                    }
                }
                Err(e) => {
                    tracing::error!(app = %spec.name, "cannot start the app: {e}; its previous version (if any) keeps serving");
                    // ... minus what the trust policy denies now.
                    if let Some(Slot::Up(r)) = apps.get(&spec.name) {
                        r.host.reload(false).await;
                    }
                    if !matches!(apps.get(&spec.name), Some(Slot::Up(_))) {
                        apps.insert(
                            spec.name.clone(),
                            Slot::Down {
                                spec: Box::new(spec),
                                reason: e.to_string(),
                            },
                        );
                    }
                }
            }
        }
        drop(apps);
        for slot in retired {
            if let Slot::Up(r) = slot {
                let metrics = self.shared.lock().await.metrics.app(&r.spec.name);
                r.host.shutdown().await;
                if !self.apps.lock().await.contains_key(&r.spec.name) {
                    metrics.forget();
                }
            }
        }
    }

    /// Why the process is not ready, or `None` when every app is connected and every
    /// configured plugin file is loaded.
    pub async fn not_ready(&self) -> Option<String> {
        let apps = self.apps.lock().await;
        let mut reasons = Vec::new();
        for (name, slot) in apps.iter() {
            match slot {
                Slot::Down { reason, .. } => reasons.push(format!("app {name}: {reason}")),
                Slot::Up(r) => {
                    if !r.host.status().connected() {
                        reasons.push(format!("app {name}: no live connection"));
                    }
                    let loaded = r.host.plugins();
                    for path in r
                        .spec
                        .plugins
                        .iter()
                        .flat_map(|p| reload::PathSpec::parse(p).expand())
                    {
                        if !loaded.iter().any(|p| p.path == path) {
                            reasons.push(format!(
                                "app {name}: plugin {} is not loaded",
                                path.display()
                            ));
                        }
                    }
                }
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Every app, its connections and plugins.
    pub async fn status(&self) -> Vec<AppStatus> {
        let apps = self.apps.lock().await;
        apps.iter()
            .map(|(name, slot)| match slot {
                Slot::Down { spec, reason } => AppStatus {
                    name: name.clone(),
                    client_id: spec.credentials.client_id.clone(),
                    error: Some(reason.clone()),
                    connections: Vec::new(),
                    plugins: Vec::new(),
                },
                Slot::Up(r) => AppStatus {
                    name: name.clone(),
                    client_id: r.spec.credentials.client_id.clone(),
                    error: None,
                    connections: r.host.status().connections(),
                    plugins: r
                        .host
                        .plugins()
                        .iter()
                        .map(|p| PluginStatus {
                            name: p.name.clone(),
                            version: p.version.clone(),
                            sha256: p.sha256.clone(),
                            source: p.path.clone(),
                            limits: p.limits().clone(),
                            instances: p.instances().clone(),
                            parked: p.parked(),
                            grants: p.grants_shown(),
                            quarantined_for_s: r.host.quarantined(&p.name).map(|d| d.as_secs_f64()),
                            frames_handled: p.stats().handled(),
                            last_error: p.stats().last_error(),
                            held: r.host.held(&p.name),
                            events: r.host.recent_events(&p.name),
                        })
                        .collect(),
                },
            })
            .collect()
    }

    /// The names of the apps serving now.
    pub async fn serving(&self) -> Vec<String> {
        self.apps
            .lock()
            .await
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Up(_)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Drain and close every app.
    pub async fn shutdown(&self) {
        let apps = std::mem::take(&mut *self.apps.lock().await);
        let closing = apps.into_values().filter_map(|slot| match slot {
            Slot::Up(r) => Some(r.host.shutdown()),
            Slot::Down { .. } => None,
        });
        futures_util::future::join_all(closing).await;
    }
}

/// Record every plugin whose grants differ between `before` and `after` (a config
/// reload), with the lines added and removed.
fn record_grant_changes(
    audit: &crate::audit::Audit,
    app: &str,
    before: &PluginConfigs,
    after: &PluginConfigs,
) {
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let lines = |c: &PluginConfigs| c.get(name).map(|s| s.grants.show()).unwrap_or_default();
        let (old, new) = (lines(before), lines(after));
        if old == new {
            continue;
        }
        let added: Vec<&String> = new.iter().filter(|l| !old.contains(l)).collect();
        let removed: Vec<&String> = old.iter().filter(|l| !new.contains(l)).collect();
        audit.record(
            "grants",
            app,
            name,
            serde_json::json!({ "added": added, "removed": removed }),
        );
    }
}

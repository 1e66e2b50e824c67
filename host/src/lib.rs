//! `host`: runs DingTalk Stream-mode bots whose handlers are sandboxed WebAssembly
//! components.
//!
//! Follow one chatbot message through the crate:
//! 1. [`stream`] opens the connection (HTTP, then WebSocket), reads a text message and
//!    decodes it once into a [`stream::Frame`]. SYSTEM frames (ping, disconnect) are
//!    answered right there.
//! 2. [`dispatch`] finds the plugin subscribed to the frame's topic and runs it under
//!    the concurrency bound, deciding when and how the frame is ACKed.
//! 3. [`runtime`] instantiates the plugin's pre-linked component in a fresh store,
//!    with its limits, and calls its `handle` export.
//! 4. The plugin calls host imports (reply-text, …); [`openapi`] makes the HTTP call.
//! 5. The outcome becomes the ACK, written on the connection the frame came from.
//!
//! [`Host::builder`] wires these together; [`cli`] is the command line.

mod admin;
pub mod apps;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod egress;
pub mod kv;
pub mod manifest;
pub mod mcp;
pub mod metrics;
pub mod oci;
pub mod openapi;
pub mod record;
mod reload;
mod replicas;
pub mod runtime;
pub mod secrets;
mod settings;
pub mod stream;
pub mod trust;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use config::{Credentials, Endpoints};
use dispatch::{DispatchConfig, Dispatcher};
use egress::Egress;
use openapi::api::OpenApi;
use openapi::{Http, HttpConfig};
use runtime::{Engine, EngineError, LoadError, Plugin, Runtime, RuntimeConfig, Services};
use stream::{StreamClient, StreamConfig, Supervisor};

pub use reload::Held;
pub use runtime::PluginConfigs;

/// Why the host could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The WebAssembly engine could not be set up.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A plugin failed to load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No plugins were given.
    #[error("no plugins to run: give at least one .wasm component")]
    NoPlugins,
    /// The plugin files could not be watched.
    #[error("cannot watch the plugin files: {0}")]
    Watch(String),
    /// `start` needs credentials.
    #[error(
        "no client id/secret: pass --client-id/--client-secret or set DINGTALK_CLIENT_ID/DINGTALK_CLIENT_SECRET"
    )]
    NoCredentials,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// The first connection failed.
    #[error(transparent)]
    Stream(#[from] stream::Error),
    /// A plugin's settings do not fit the host's (e.g. a header names a missing secret).
    #[error("invalid plugin settings: {0}")]
    Config(String),
    /// One app of several could not start. (Not a `source`: the message already
    /// says why, and an error chain would say it twice.)
    #[error("app {app}: {reason}")]
    App {
        /// The app's name.
        app: String,
        /// Why.
        reason: Box<Error>,
    },
}

/// Configures a [`Host`].
#[derive(Debug, Default)]
pub struct HostBuilder {
    credentials: Option<Credentials>,
    endpoints: Endpoints,
    plugins: Vec<PathBuf>,
    plugin_configs: PluginConfigs,
    runtime: RuntimeConfig,
    dispatch: DispatchConfig,
    stream: StreamConfig,
    http: HttpConfig,
    egress: Egress,
    kv: Option<Arc<dyn kv::Backend>>,
    app: Option<String>,
    engine: Option<Engine>,
    metrics: metrics::AppMetrics,
    dedup: Option<dispatch::DedupTable>,
    replicas: Option<Arc<dyn replicas::Replicas>>,
    remote_tools: Vec<Arc<mcp::client::Remote>>,
    audit: audit::Audit,
    clock: clock::Clock,
    log_tap: Option<Arc<runtime::capability::log::Tap>>,
    recorder: Option<record::Recorder>,
}

impl HostBuilder {
    /// Record every frame in, ACK out and host call's end in `recorder` (`host
    /// record`).
    pub fn recorder(mut self, recorder: record::Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Keep the lines plugins log in `tap` as well as in the host's log.
    pub fn log_tap(mut self, tap: Arc<runtime::capability::log::Tap>) -> Self {
        self.log_tap = Some(tap);
        self
    }

    /// Tell plugins the time by `clock` (give the key-value store the same one).
    /// Default: the system clock.
    pub fn clock(mut self, clock: clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Record loads, refusals, holds, denied calls and approval decisions in `audit`
    /// (`--audit-log`); without it they are only logged and kept for `/status`.
    pub fn audit(mut self, audit: audit::Audit) -> Self {
        self.audit = audit;
        self
    }

    /// Offer agents these tools beside the plugins' (remote MCP servers, see
    /// [`mcp::client`]); they stay across plugin reloads.
    pub fn remote_tools(mut self, servers: Vec<Arc<mcp::client::Remote>>) -> Self {
        self.remote_tools = servers;
        self
    }

    /// The app's name: its key-value namespace and the `app` of its logs and metrics.
    /// Default `default`.
    pub fn app(mut self, name: impl Into<String>) -> Self {
        self.app = Some(name.into());
        self
    }

    /// Run plugins on this engine (shared by the apps of one process) instead of
    /// building one.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Dedup against `table` instead of a fresh one (an app restarted by a reload).
    pub fn dedup(mut self, table: dispatch::DedupTable) -> Self {
        self.dedup = Some(table);
        self
    }

    /// Share dedup with other replicas of this app through `store` (Redis).
    pub fn replicas(mut self, store: Arc<dyn replicas::Replicas>) -> Self {
        self.replicas = Some(store);
        self
    }

    /// Record this app's metrics in `metrics`.
    pub fn metrics(mut self, metrics: metrics::AppMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The app's credentials (required).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Where DingTalk is. Default: the public endpoints.
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// Add a plugin component file.
    pub fn plugin(mut self, path: impl Into<PathBuf>) -> Self {
        self.plugins.push(path.into());
        self
    }

    /// Add plugin component files.
    pub fn plugins<I: IntoIterator<Item = P>, P: Into<PathBuf>>(mut self, paths: I) -> Self {
        self.plugins.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Config values per plugin name.
    pub fn plugin_configs(mut self, configs: PluginConfigs) -> Self {
        self.plugin_configs = configs;
        self
    }

    /// Engine settings and per-call limits.
    pub fn runtime_config(mut self, config: RuntimeConfig) -> Self {
        self.runtime = config;
        self
    }

    /// Dispatch settings.
    pub fn dispatch_config(mut self, config: DispatchConfig) -> Self {
        self.dispatch = config;
        self
    }

    /// Connection settings.
    pub fn stream_config(mut self, config: StreamConfig) -> Self {
        self.stream = config;
        self
    }

    /// HTTP timeouts.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http = config;
        self
    }

    /// Plugins' outbound HTTP: the secrets their injected headers use, the resolver.
    /// Default: no secrets, the system resolver.
    pub fn egress(mut self, egress: Egress) -> Self {
        self.egress = egress;
        self
    }

    /// Plugins' key-value state. Default: none (key-value calls fail `unavailable`).
    pub fn kv(mut self, store: Arc<dyn kv::Backend>) -> Self {
        self.kv = Some(store);
        self
    }

    /// Load every plugin (compile, pre-link, describe) and route their topics.
    pub async fn build(self) -> Result<Host, Error> {
        if self.plugins.is_empty() {
            return Err(Error::NoPlugins);
        }
        let http = Http::new(&self.http).map_err(|e| Error::Http(e.to_string()))?;
        let api = self.credentials.clone().map(|c| {
            Arc::new(
                OpenApi::new(http.clone(), self.endpoints.clone(), c)
                    .with_metrics(self.metrics.clone()),
            )
        });
        let app = self
            .app
            .clone()
            .unwrap_or_else(|| runtime::DEFAULT_APP.to_owned());
        for (name, settings) in &self.plugin_configs {
            settings
                .grants
                .check_secrets(self.egress.secrets())
                .map_err(|e| Error::Config(format!("[plugins.{name}]: {e}")))?;
        }
        let mut services = Services::new(http.clone(), &self.endpoints, api)
            .with_egress(self.egress.clone())
            .with_clock(self.clock.clone())
            .for_app(&app, self.metrics.clone())
            .with_audit(self.audit.clone());
        services.tools.audit_to(self.audit.clone(), &app);
        if let Some(kv) = &self.kv {
            services = services.with_kv(kv.clone());
        }
        if let Some(tap) = &self.log_tap {
            services = services.with_log_tap(tap.clone());
        }
        let recorder = self.recorder.as_ref().map(|r| r.for_app(&app));
        if let Some(tap) = &recorder {
            services = services.with_call_tap(tap.clone());
        }
        let limits = self.runtime.limits.clone();
        let engine = match &self.engine {
            Some(shared) => shared.clone(),
            None => {
                // Size the pool's memory slots for the largest memory any plugin gets.
                let mut config = self.runtime.clone();
                config.memory_cap = limits
                    .memory_needed(self.plugin_configs.values().map(|s| &s.limits))
                    .max(config.memory_cap);
                Engine::new(&config)?
            }
        };
        let runtime = engine.runtime(
            services,
            limits,
            self.plugin_configs.values().map(|s| &s.limits),
        )?;
        let specs: Vec<reload::PathSpec> = self
            .plugins
            .iter()
            .map(|p| reload::PathSpec::parse(p))
            .collect();
        let paths: Vec<PathBuf> = specs.iter().flat_map(reload::PathSpec::expand).collect();
        if paths.is_empty() {
            return Err(Error::NoPlugins);
        }
        let mut plugins: Vec<Plugin> = Vec::with_capacity(paths.len());
        for path in &paths {
            let loaded = runtime
                .load(path, &self.plugin_configs)
                .await
                .and_then(
                    |plugin| match plugins.iter().find(|p| p.name == plugin.name) {
                        Some(other) => Err(LoadError::Duplicate {
                            path: path.clone(),
                            name: plugin.name,
                            other: other.path.clone(),
                        }),
                        None => Ok(plugin),
                    },
                );
            let plugin = match loaded {
                Ok(plugin) => plugin,
                Err(e) => {
                    reload::record_refused(&self.audit, &app, path, &e);
                    return Err(Error::Load(e));
                }
            };
            reload::record_loaded(&self.audit, &app, &plugin, None);
            tracing::info!(
                app = %app,
                plugin = %plugin.name,
                version = %plugin.version,
                path = %plugin.path.display(),
                load_ms = plugin.compile_time.as_millis() as u64,
                source = ?plugin.source,
                subscriptions = ?plugin.subscriptions.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "plugin loaded"
            );
            plugins.push(plugin);
        }
        let fallbacks: Vec<&str> = plugins
            .iter()
            .filter(|p| p.grants().routing.fallback)
            .map(|p| p.name.as_str())
            .collect();
        if fallbacks.len() > 1 {
            return Err(Error::Config(format!(
                "more than one plugin is the routing fallback: {}",
                fallbacks.join(", ")
            )));
        }
        if plugins.iter().any(|p| !p.grants().routing.is_empty()) {
            for p in plugins.iter().filter(|p| p.grants().routing.is_empty()) {
                tracing::warn!(plugin = %p.name, "routing rules are set and this plugin has none: it gets no chatbot messages");
            }
        }
        let lease = self.dispatch.dedup_lease;
        let ttl = self.dispatch.dedup_ttl;
        runtime.tool_board().attach(
            self.remote_tools
                .into_iter()
                .map(|r| r as Arc<dyn runtime::capability::tools::ToolProvider>)
                .collect(),
        );
        let mut dispatcher = Dispatcher::new(
            plugins,
            self.dispatch,
            runtime.card_owners(),
            runtime.tool_board(),
        )
        .with_metrics(self.metrics.clone());
        if let Some(table) = self.dedup {
            dispatcher = dispatcher.with_dedup(table);
        }
        if let Some(store) = self.replicas {
            dispatcher =
                dispatcher.with_replicas(dispatch::replicas::Shared::new(store, &app, lease, ttl));
        }
        Ok(Host {
            status: Arc::new(stream::LinkStatus::new(self.metrics.clone())),
            app,
            dispatcher: Arc::new(dispatcher),
            http,
            endpoints: self.endpoints,
            credentials: self.credentials,
            stream: self.stream,
            runtime,
            specs,
            plugin_configs: self.plugin_configs,
            audit: self.audit,
            recorder,
        })
    }
}

/// Plugins loaded and routed, ready to connect.
pub struct Host {
    app: String,
    status: Arc<stream::LinkStatus>,
    dispatcher: Arc<Dispatcher>,
    http: Http,
    endpoints: Endpoints,
    credentials: Option<Credentials>,
    stream: StreamConfig,
    runtime: Runtime,
    specs: Vec<reload::PathSpec>,
    plugin_configs: PluginConfigs,
    audit: audit::Audit,
    recorder: Option<Arc<record::AppRecorder>>,
}

impl Host {
    /// Start configuring a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.dispatcher.plugins()
    }

    /// The subscriptions the host opens connections with: the plugins' union.
    pub fn subscriptions(&self) -> Vec<stream::Subscription> {
        self.dispatcher.subscriptions()
    }

    /// Connect and serve until [`RunningHost::shutdown`]. Fails if the first
    /// connection cannot be made (e.g. DingTalk refuses the credentials).
    pub async fn start(self) -> Result<RunningHost, Error> {
        let credentials = self.credentials.clone().ok_or(Error::NoCredentials)?;
        let client = StreamClient::new(
            self.http.clone(),
            self.endpoints.clone(),
            credentials,
            self.subscriptions(),
            self.stream.clone(),
        )
        .observed(self.status.clone(), self.dispatcher.metrics().clone());
        let shutdown = CancellationToken::new();
        // Every task of this app (connections, handlers, reloads) logs inside it.
        let span = tracing::info_span!("app", app = %self.app);
        let sink: Arc<dyn stream::FrameSink> = match &self.recorder {
            Some(recorder) => Arc::new(record::Recording {
                inner: self.dispatcher.clone(),
                recorder: recorder.clone(),
            }),
            None => self.dispatcher.clone(),
        };
        let supervisor = client
            .connect(sink, shutdown.clone())
            .instrument(span.clone())
            .await?;
        let reloader = reload::Reloader::new(
            self.specs.clone(),
            self.runtime.clone(),
            self.plugin_configs.clone(),
            self.dispatcher.clone(),
            supervisor.control(),
            (self.audit.clone(), self.app.clone()),
        );
        Ok(RunningHost {
            span,
            supervisor,
            shutdown,
            reloader,
            host: self,
        })
    }
}

/// A connected host.
pub struct RunningHost {
    span: tracing::Span,
    supervisor: Supervisor,
    shutdown: CancellationToken,
    reloader: reload::Reloader,
    host: Host,
}

impl RunningHost {
    /// The app this host serves.
    pub fn app(&self) -> &str {
        &self.host.app
    }

    /// Its live connections.
    pub fn status(&self) -> &stream::LinkStatus {
        &self.host.status
    }

    /// The plugins serving now.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.host.dispatcher.plugins()
    }

    /// How much longer `plugin` stays quarantined, if it is.
    pub fn quarantined(&self, plugin: &str) -> Option<std::time::Duration> {
        self.host.dispatcher.quarantined(plugin)
    }

    /// The names of the plugins serving now.
    pub fn plugin_names(&self) -> Vec<String> {
        self.host
            .dispatcher
            .plugins()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The upgrade of `plugin` the upgrade rules hold, if any.
    pub fn held(&self, plugin: &str) -> Option<Held> {
        self.reloader.held(plugin)
    }

    /// The last audit events about `plugin`, oldest first.
    pub fn recent_events(&self, plugin: &str) -> Vec<audit::Event> {
        self.host.audit.recent(&self.host.app, plugin)
    }

    /// Reload plugins whose files changed (all of them with `force`) now.
    pub async fn reload(&self, force: bool) {
        self.reloader
            .rescan(force)
            .instrument(self.span.clone())
            .await;
    }

    /// Watch the plugin paths and reload on change until shutdown.
    pub fn watch(&self) -> Result<(), Error> {
        let _entered = self.span.enter();
        self.reloader
            .clone()
            .watch(self.shutdown.clone())
            .map(drop)
            .map_err(|e| Error::Watch(e.to_string()))
    }

    /// A token that stops the host when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stop taking frames, let in-flight handlers finish and ACK them (bounded),
    /// close the socket.
    pub async fn shutdown(self) {
        self.supervisor.shutdown().await;
    }

    /// Run until the shutdown token is cancelled, then finish like [`Self::shutdown`].
    pub async fn wait(self) {
        self.supervisor.wait().await;
    }
}

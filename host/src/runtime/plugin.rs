//! A loaded plugin: compiled, pre-linked, described; and one frame through it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::{self, FrameKind, Outcome, WitError, WitFrame};
use super::grants::Grants;
use super::scope::FrameScope;
use super::state::{PluginContext, State};
use super::{LimitOverrides, Limits, Runtime, cache};
use crate::stream::frame::{Frame, FrameType};

/// Largest callback response a plugin may return. The ACK carries it, and gateway
/// clients limit frames (Java: 256 KiB); 64 KiB leaves room and is plenty for card data.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Time the canary `describe` call may take at load.
const CANARY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a subscription is for callbacks or events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubscriptionKind {
    /// CALLBACK frames.
    Callback,
    /// EVENT frames.
    Event,
}

impl SubscriptionKind {
    /// The wire spelling (`CALLBACK`, `EVENT`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionKind::Callback => "CALLBACK",
            SubscriptionKind::Event => "EVENT",
        }
    }

    /// The kind of a data frame; `None` for SYSTEM and unknown types.
    pub fn of(frame_type: &FrameType) -> Option<Self> {
        match frame_type {
            FrameType::Callback => Some(SubscriptionKind::Callback),
            FrameType::Event => Some(SubscriptionKind::Event),
            _ => None,
        }
    }
}

/// One (kind, topic) a plugin asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subscription {
    /// Callback or event.
    pub kind: SubscriptionKind,
    /// The topic.
    pub topic: String,
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.topic)
    }
}

/// Why a plugin file was not loaded. Each names the file and the stage.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("plugin load failed: cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// Not a valid WebAssembly component.
    #[error("plugin load failed: {path} is not a valid WebAssembly component: {reason}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// Its imports or exports do not match the `dingtalk:bot` world.
    #[error("plugin load failed: {path} does not fit the dingtalk:bot plugin world: {reason}")]
    Link {
        /// The file.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },
    /// The canary instance failed to answer `describe`.
    #[error("plugin load failed: {path} failed its canary describe call: {reason}")]
    Canary {
        /// The file.
        path: PathBuf,
        /// The trap or timeout.
        reason: String,
    },
    /// It asks for a topic the operator did not grant it.
    #[error(
        "plugin load failed: {path} ({name}) asks for {subscription}, which it is not granted (add \"{subscription}\" to `topics` in its host config section)"
    )]
    TopicDenied {
        /// The file.
        path: PathBuf,
        /// The plugin's name.
        name: String,
        /// The refused subscription.
        subscription: Subscription,
    },
    /// `describe` answered something unusable.
    #[error("plugin load failed: {path} describes itself invalidly: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with the description.
        reason: String,
    },
}

/// What a handler made of a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginOutcome {
    /// Handled.
    Done,
    /// A callback response, as valid JSON text.
    Response(String),
    /// Push again later, with a reason.
    Later(String),
}

/// Why one frame failed in a plugin. The frame gets an error ACK with this text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandleError {
    /// Could not create the instance (e.g. no free pool slot).
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    /// The guest trapped (a panic shows as `unreachable`; its message is in stderr).
    #[error("trapped: {reason}{}", stderr_suffix(.stderr))]
    Trap {
        /// The trap.
        reason: String,
        /// What the guest wrote to stderr.
        stderr: String,
    },
    /// The guest used up its CPU budget and was interrupted.
    #[error("interrupted after using its CPU budget of {budget:?}{}", stderr_suffix(.stderr))]
    CpuBudget {
        /// The budget.
        budget: Duration,
        /// What the guest wrote to stderr.
        stderr: String,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("exceeded its memory limit of {limit} bytes{}", stderr_suffix(.stderr))]
    Memory {
        /// The cap.
        limit: usize,
        /// What the guest wrote to stderr.
        stderr: String,
    },
    /// The call (host calls included) ran past the wall-clock timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The handler returned an error.
    #[error("returned an error: {0}")]
    Returned(String),
    /// The plugin is quarantined after failing repeatedly; it was not run.
    #[error("is quarantined after repeated failures; it runs again in {0:?}")]
    Quarantined(Duration),
    /// The handler returned a callback response that is not JSON, or too large.
    #[error("returned an unusable response: {0}")]
    BadResponse(String),
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; guest stderr: {stderr}")
    }
}

/// A plugin ready to serve: compiled, pre-linked and described.
pub struct Plugin {
    /// The name from `describe`.
    pub name: String,
    /// The version from `describe`.
    pub version: String,
    /// What it subscribes to, deduplicated and sorted.
    pub subscriptions: Vec<Subscription>,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The component's size in bytes.
    pub size: usize,
    /// How long compiling (or loading the cached artifact) took.
    pub compile_time: Duration,
    /// Whether it was compiled now or loaded from the artifact cache.
    pub source: cache::Source,
    /// The interfaces it imports (e.g. `dingtalk:bot/reply@0.1.0`).
    pub imports: Vec<String>,
    pre: bindings::PluginPre<State>,
    ctx: Arc<PluginContext>,
    limits: Limits,
    concurrency: Arc<tokio::sync::Semaphore>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("subscriptions", &self.subscriptions)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What the operator set for one plugin: its config values, grants and limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginSettings {
    /// Values the plugin reads with its config import.
    pub config: BTreeMap<String, String>,
    /// What it may do beyond its own conversation.
    pub grants: Grants,
    /// Changes to the default limits.
    pub limits: LimitOverrides,
}

/// Settings per plugin name (as the plugin describes itself).
pub type PluginConfigs = BTreeMap<String, PluginSettings>;

impl Runtime {
    /// Load the component at `path`: compile, pre-link, canary `describe`.
    /// `configs` gives each plugin (by described name) its config values.
    pub async fn load(&self, path: &Path, configs: &PluginConfigs) -> Result<Plugin, LoadError> {
        let path = path.to_path_buf();
        let bytes = tokio::fs::read(&path).await.map_err(|e| LoadError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let size = bytes.len();
        let engine = self.inner.engine.clone();
        let cache = self.inner.cache.clone();
        let started = Instant::now();
        let (component, source) =
            tokio::task::spawn_blocking(move || cache::load_or_compile(&engine, &bytes, &cache))
                .await
                .map_err(|e| LoadError::Compile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
                .map_err(|e| LoadError::Compile {
                    path: path.clone(),
                    reason: format!("{e:#}"),
                })?;
        let compile_time = started.elapsed();
        let imports = component
            .component_type()
            .imports(&self.inner.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let link = |e: wasmtime::Error| LoadError::Link {
            path: path.clone(),
            reason: format!("{e:#}"),
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(link)?;
        let pre = bindings::PluginPre::new(instance_pre).map_err(link)?;

        let canary_ctx = Arc::new(PluginContext {
            name: file_label(&path),
            config: BTreeMap::new(),
            grants: Grants::default(),
            services: self.inner.services.clone(),
        });
        let description = canary(&pre, canary_ctx, &self.inner.limits)
            .await
            .map_err(|reason| LoadError::Canary {
                path: path.clone(),
                reason,
            })?;
        let invalid = |reason: String| LoadError::Invalid {
            path: path.clone(),
            reason,
        };
        let subscriptions = validate(&description).map_err(invalid)?;
        let settings = configs.get(&description.name).cloned().unwrap_or_default();
        if let Some(denied) = subscriptions
            .iter()
            .find(|s| !settings.grants.allows_subscription(s))
        {
            return Err(LoadError::TopicDenied {
                path,
                name: description.name,
                subscription: denied.clone(),
            });
        }
        let limits = self.inner.limits.with(&settings.limits);
        let ctx = Arc::new(PluginContext {
            config: settings.config,
            grants: settings.grants,
            name: description.name.clone(),
            services: self.inner.services.clone(),
        });
        Ok(Plugin {
            name: description.name,
            version: description.version,
            subscriptions,
            path,
            size,
            compile_time,
            source,
            imports,
            pre,
            ctx,
            concurrency: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrency)),
            limits,
        })
    }
}

fn file_label(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn new_store(engine: &wasmtime::Engine, state: State) -> Store<State> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    // Yield to tokio at every tick so a busy guest never starves other tasks on its
    // worker; interrupt once the budget is spent.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let state = cx.data_mut();
        if state.cpu_ticks_left == 0 {
            return Ok(UpdateDeadline::Interrupt);
        }
        state.cpu_ticks_left -= 1;
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

async fn canary(
    pre: &bindings::PluginPre<State>,
    ctx: Arc<PluginContext>,
    limits: &Limits,
) -> Result<bindings::Description, String> {
    let state = State::new(
        ctx,
        FrameScope::default(),
        limits.memory_bytes,
        limits.cpu_ticks(),
    );
    let mut store = new_store(pre.engine(), state);
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_describe(&mut store).await
    };
    match tokio::time::timeout(CANARY_TIMEOUT, call).await {
        Err(_) => Err(format!("no answer within {CANARY_TIMEOUT:?}")),
        Ok(Err(e)) => {
            let stderr = store.data().stderr_text();
            Err(format!("{e:#}{}", stderr_suffix(&stderr)))
        }
        Ok(Ok(d)) => Ok(d),
    }
}

fn validate(d: &bindings::Description) -> Result<Vec<Subscription>, String> {
    if d.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if d.subscriptions.is_empty() {
        return Err("it subscribes to nothing".into());
    }
    let mut subs = Vec::with_capacity(d.subscriptions.len());
    for s in &d.subscriptions {
        let kind = match s.kind {
            FrameKind::Callback => SubscriptionKind::Callback,
            FrameKind::Event => SubscriptionKind::Event,
        };
        if s.topic.is_empty() {
            return Err("a subscription has an empty topic".into());
        }
        if kind == SubscriptionKind::Event && s.topic != "*" {
            return Err(format!(
                "event subscriptions must use topic \"*\", not {:?}",
                s.topic
            ));
        }
        subs.push(Subscription {
            kind,
            topic: s.topic.clone(),
        });
    }
    subs.sort();
    subs.dedup();
    Ok(subs)
}

impl Plugin {
    /// The limits this plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Wait for one of this plugin's concurrency slots.
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.concurrency.clone().acquire_owned().await.ok()
    }

    /// Run `frame` through the plugin in a fresh instance, under the limits.
    pub async fn handle(&self, frame: &Frame) -> Result<PluginOutcome, HandleError> {
        self.handle_in(frame, &FrameScope::of(frame)).await
    }

    /// Run `frame` with its already-parsed `scope` (dispatch parses it once for
    /// every plugin the frame goes to).
    pub async fn handle_in(
        &self,
        frame: &Frame,
        scope: &FrameScope,
    ) -> Result<PluginOutcome, HandleError> {
        let kind = match frame.frame_type {
            FrameType::Event => FrameKind::Event,
            _ => FrameKind::Callback,
        };
        let state = State::new(
            self.ctx.clone(),
            scope.clone(),
            self.limits.memory_bytes,
            self.limits.cpu_ticks(),
        );
        let mut store = new_store(self.pre.engine(), state);
        let wit_frame = WitFrame {
            kind,
            topic: frame.topic.clone(),
            message_id: frame.message_id.clone(),
            headers: frame.headers.clone(),
            data: frame.data.clone(),
        };
        let result = {
            let call = async {
                let instance = self
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| HandleError::Instantiate(format!("{e:#}")))?;
                instance
                    .call_handle(&mut store, &wit_frame)
                    .await
                    .map_err(|e| HandleError::Trap {
                        reason: trap_reason(&e),
                        stderr: String::new(),
                    })
            };
            tokio::time::timeout(self.limits.wall_timeout, call).await
        };
        let stderr = || store.data().stderr_text();
        match result {
            Err(_) => Err(HandleError::Timeout(self.limits.wall_timeout)),
            Ok(Err(HandleError::Trap { reason, .. })) => Err(self.classify(reason, stderr())),
            Ok(Err(e)) => Err(e),
            Ok(Ok(Err(e))) => Err(HandleError::Returned(describe_error(&e))),
            Ok(Ok(Ok(outcome))) => match outcome {
                Outcome::Done => Ok(PluginOutcome::Done),
                Outcome::Later(reason) => Ok(PluginOutcome::Later(reason)),
                Outcome::Response(text) if text.len() > MAX_RESPONSE_BYTES => {
                    Err(HandleError::BadResponse(format!(
                        "{} bytes; a callback response may be at most {MAX_RESPONSE_BYTES}",
                        text.len()
                    )))
                }
                Outcome::Response(text) => {
                    match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                        Ok(_) => Ok(PluginOutcome::Response(text)),
                        Err(e) => Err(HandleError::BadResponse(e.to_string())),
                    }
                }
            },
        }
    }

    fn classify(&self, reason: String, stderr: String) -> HandleError {
        if reason == INTERRUPT {
            HandleError::CpuBudget {
                budget: self.limits.cpu_budget,
                stderr,
            }
        } else if reason.contains("forcing trap when growing memory") {
            HandleError::Memory {
                limit: self.limits.memory_bytes,
                stderr,
            }
        } else {
            HandleError::Trap { reason, stderr }
        }
    }
}

/// Marker reason for an epoch interrupt, told apart in [`Plugin::classify`].
const INTERRUPT: &str = "interrupt";

fn trap_reason(e: &wasmtime::Error) -> String {
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        INTERRUPT.to_owned()
    } else {
        format!("{:#}", e.root_cause())
    }
}

/// The text of a WIT error, with DingTalk's code and message when present.
pub fn describe_error(e: &WitError) -> String {
    match e {
        WitError::Dingtalk(d) => format!(
            "DingTalk answered HTTP {}, code {:?}: {}",
            d.status, d.code, d.message
        ),
        WitError::Timeout(s) => format!("timeout: {s}"),
        WitError::Network(s) => format!("network: {s}"),
        WitError::InvalidArgument(s) => format!("invalid argument: {s}"),
        WitError::Denied(s) => format!("denied: {s}"),
        WitError::Plugin(s) => s.clone(),
    }
}

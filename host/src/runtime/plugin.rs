//! A loaded plugin: compiled, pre-linked, described; and one frame through it.
//!
//! Identity rules, checked at load before a plugin can serve: its name (from
//! `describe`) must equal its file's stem (`plugins/crm.wasm` is `crm`), since grants,
//! config values, limits, card ownership and quarantine are all keyed by that name;
//! its config section may pin the component's SHA-256, checked before anything is
//! compiled. Two plugins with one name are refused by whoever loads them together.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{CallHook, Store, UpdateDeadline};

use super::bindings::{self, FrameKind, Outcome, WitError, WitFrame};
use super::capability::{Grants, MAX_REPORTED, cap_text};
use super::limiter::{Failure, classify};
use super::scope::FrameScope;
use super::state::{PluginContext, State};
use super::{LimitOverrides, Limits, Runtime, cache};
use crate::stream::frame::{Frame, FrameType};
use crate::stream::{Subscription, SubscriptionKind};

/// Largest callback response a plugin may return. The ACK carries it, and gateway
/// clients limit frames (Java: 256 KiB); 64 KiB leaves room and is plenty for card data.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Time the canary `describe` call may take at load.
const CANARY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a plugin file was not loaded. Each names the file and the stage.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("plugin load failed: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
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
    /// The file's name gives no plugin name.
    #[error("plugin load failed: {path}: the file name must be <name>.wasm with a UTF-8 name")]
    FileName {
        /// The file.
        path: PathBuf,
    },
    /// Its SHA-256 is not the one its config section pins.
    #[error(
        "plugin load failed: {path} refused by the sha256 pin: its SHA-256 is {actual}, its config section pins {expected}"
    )]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned digest (hex).
        expected: String,
        /// The file's digest (hex).
        actual: String,
    },
    /// It describes itself by another name than its file's stem.
    #[error(
        "plugin load failed: {path} refused by the name rule: it calls itself {described:?}, but a plugin's name must be its file stem {stem:?} (rename the file or the plugin)"
    )]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// The file's stem.
        stem: String,
        /// The name `describe` answered.
        described: String,
    },
    /// Another loaded plugin has the same name.
    #[error(
        "plugin load failed: {path} refused by the unique-name rule: plugin {name:?} is already loaded from {other}"
    )]
    Duplicate {
        /// The refused file.
        path: PathBuf,
        /// The shared name.
        name: String,
        /// The file already loaded under that name.
        other: PathBuf,
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
    /// The plugin's wait queue was full; the frame was not run.
    #[error("is overloaded: {0} frames already wait for it")]
    QueueFull(usize),
    /// The frame waited for a slot longer than the plugin's timeout; it was not run.
    #[error("was busy: the frame waited {0:?} for a free slot and was not run stale")]
    Stale(Duration),
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
    /// The interfaces it imports (e.g. `dingtalk:bot/reply@0.2.0`).
    pub imports: Vec<String>,
    /// The component's SHA-256, hex.
    pub sha256: String,
    pre: bindings::PluginPre<State>,
    ctx: Arc<PluginContext>,
    limits: Limits,
    concurrency: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    stats: PluginStats,
}

/// What one loaded plugin has done, for `/status`.
#[derive(Debug, Default)]
pub struct PluginStats {
    handled: std::sync::atomic::AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl PluginStats {
    /// Record one frame's result.
    pub fn record(&self, result: &Result<PluginOutcome, HandleError>) {
        self.handled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = result {
            *self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
        }
    }

    /// Frames handled (successfully or not).
    pub fn handled(&self) -> u64 {
        self.handled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
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

/// What the operator set for one plugin: its grants (config values included),
/// limits and an optional pin of its component's SHA-256.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginSettings {
    /// What it may do beyond its own conversation, one grant per capability.
    pub grants: Grants,
    /// Changes to the default limits.
    pub limits: LimitOverrides,
    /// The SHA-256 its component must have, when pinned.
    pub sha256: Option<Sha256Pin>,
}

/// A pinned SHA-256 of a component, decoded from 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Pin([u8; 32]);

impl Sha256Pin {
    /// Decode 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, String> {
        let bad = || format!("sha256 pin {hex:?} must be 64 hex digits");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    fn hex(&self) -> String {
        cache::hex(&self.0)
    }
}

/// Settings per plugin name (its file stem).
pub type PluginConfigs = BTreeMap<String, PluginSettings>;

/// The plugin name a file stands for: its stem.
pub fn file_stem(path: &Path) -> Option<&str> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
}

impl Runtime {
    /// Load the component at `path`: compile, pre-link, canary `describe`.
    /// `configs` gives each plugin, by its file stem, its grants, limits and pin.
    pub async fn load(&self, path: &Path, configs: &PluginConfigs) -> Result<Plugin, LoadError> {
        let path = path.to_path_buf();
        let Some(stem) = file_stem(&path).map(str::to_owned) else {
            return Err(LoadError::FileName { path });
        };
        let settings = configs.get(&stem).cloned().unwrap_or_default();
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
        let size = bytes.len();
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some(pin) = settings.sha256
            && pin.0 != digest
        {
            return Err(LoadError::PinMismatch {
                path,
                expected: pin.hex(),
                actual: cache::hex(&digest),
            });
        }
        let engine = self.inner.engine.clone();
        let cache = self.inner.cache.clone();
        let started = Instant::now();
        let (component, source) = tokio::task::spawn_blocking(move || {
            cache::load_or_compile(&engine, &bytes, &digest, &cache)
        })
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

        // The canary may read the plugin's own config values (a plugin may decide its
        // subscriptions by them) and nothing else it was granted.
        let canary_ctx = Arc::new(PluginContext::new(
            stem.clone(),
            Grants {
                config: settings.grants.config.clone(),
                ..Grants::default()
            },
            self.inner.services.clone(),
            self.inner.limits.clone(),
            self.inner.ticks.clone(),
        ));
        let description = canary(&pre, canary_ctx)
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
        if description.name != stem {
            return Err(LoadError::NameMismatch {
                path,
                stem,
                described: cap_text(description.name, 128),
            });
        }
        if let Some(denied) = subscriptions
            .iter()
            .find(|s| !settings.grants.topics.allows(s))
        {
            return Err(LoadError::TopicDenied {
                path,
                name: description.name,
                subscription: denied.clone(),
            });
        }
        let limits = self.inner.limits.with(&settings.limits);
        let ctx = Arc::new(PluginContext::new(
            description.name.clone(),
            settings.grants,
            self.inner.services.clone(),
            limits.clone(),
            self.inner.ticks.clone(),
        ));
        Ok(Plugin {
            name: description.name,
            version: description.version,
            subscriptions,
            path,
            size,
            compile_time,
            source,
            imports,
            sha256: cache::hex(&digest),
            pre,
            ctx,
            concurrency: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrency)),
            waiting: AtomicUsize::new(0),
            stats: PluginStats::default(),
            limits,
        })
    }
}

fn new_store(engine: &wasmtime::Engine, mut state: State) -> Store<State> {
    state.deadline_epoch = state.epoch() + 1;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Yield to tokio at every tick so a busy guest never starves other tasks on its
    // worker; interrupt once the budget is spent.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let state = cx.data_mut();
        let now = state.epoch();
        // Charge a tick only if the guest was running when its slice ended: the check
        // came on time and no host call since the last check waited across a tick.
        // Otherwise it was waiting (in a host call, or for a worker): not CPU.
        let waited = now > state.deadline_epoch || state.host_waited;
        state.host_waited = false;
        if !waited {
            if state.cpu_ticks_left == 0 {
                return Ok(UpdateDeadline::Interrupt);
            }
            state.cpu_ticks_left -= 1;
        }
        state.deadline_epoch = now + 1;
        Ok(UpdateDeadline::Yield(1))
    });
    store.call_hook(|mut cx, hook| {
        let state = cx.data_mut();
        match hook {
            CallHook::CallingHost => {
                state.host_call_epoch = state.epoch();
                if tracing::enabled!(tracing::Level::DEBUG) {
                    state.host_call_started = std::time::Instant::now();
                }
            }
            CallHook::ReturningFromHost => {
                state.host_waited |= state.epoch() > state.host_call_epoch;
            }
            _ => {}
        }
        Ok(())
    });
    store
}

async fn canary(
    pre: &bindings::PluginPre<State>,
    ctx: Arc<PluginContext>,
) -> Result<bindings::Description, String> {
    let state = State::new(ctx, FrameScope::default());
    let mut store = new_store(pre.engine(), state);
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_describe(&mut store).await
    };
    match tokio::time::timeout(CANARY_TIMEOUT, call).await {
        Err(_) => Err(format!("no answer within {CANARY_TIMEOUT:?}")),
        Ok(Err(e)) => {
            let stderr = cap_text(store.data().stderr_text(), MAX_REPORTED);
            Err(format!(
                "{}{}",
                cap_text(format!("{e:#}"), MAX_REPORTED),
                stderr_suffix(&stderr)
            ))
        }
        Ok(Ok(d)) => Ok(d),
    }
}

/// Longest version string and topic a description may carry: they reach logs and
/// load errors.
const MAX_DESCRIBED: usize = 256;

/// Most subscriptions one plugin may ask for.
const MAX_SUBSCRIPTIONS: usize = 32;

fn validate(d: &bindings::Description) -> Result<Vec<Subscription>, String> {
    if d.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if d.version.len() > MAX_DESCRIBED {
        return Err(format!(
            "the version is {} bytes; at most {MAX_DESCRIBED} are allowed",
            d.version.len()
        ));
    }
    if d.subscriptions.is_empty() {
        return Err("it subscribes to nothing".into());
    }
    if d.subscriptions.len() > MAX_SUBSCRIPTIONS {
        return Err(format!(
            "it asks for {} subscriptions; at most {MAX_SUBSCRIPTIONS} are allowed",
            d.subscriptions.len()
        ));
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
        if s.topic.len() > MAX_DESCRIBED {
            return Err(format!(
                "a topic is {} bytes; at most {MAX_DESCRIBED} are allowed",
                s.topic.len()
            ));
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
    /// Frames handled and the last failure.
    pub fn stats(&self) -> &PluginStats {
        &self.stats
    }

    /// Its grants, as `host check` shows them.
    pub fn grants_shown(&self) -> Vec<String> {
        self.grants().show()
    }

    /// The limits this plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the operator granted it.
    pub fn grants(&self) -> &Grants {
        &self.ctx.grants
    }

    /// The plugin of this app that created card instance `out_track_id`, if known.
    pub fn card_owner(&self, out_track_id: &str) -> Option<String> {
        self.ctx
            .services
            .card_owners
            .owner(out_track_id, Instant::now())
    }

    /// Wait for one of this plugin's concurrency slots: at most `max_queue` frames
    /// wait at once, each for at most the plugin's timeout, so a frame never runs
    /// stale after DingTalk has given up on it.
    pub async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, HandleError> {
        if let Ok(permit) = self.concurrency.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        if waiting >= self.limits.max_queue {
            return Err(HandleError::QueueFull(waiting));
        }
        let wait = self.limits.wall_timeout;
        match tokio::time::timeout(wait, self.concurrency.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(HandleError::Stale(wait)),
        }
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
        let state = State::new(self.ctx.clone(), scope.clone());
        let mut store = new_store(self.pre.engine(), state);
        let headers: Vec<(&str, &str)> = frame
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let wit_frame = WitFrame {
            kind,
            topic: &frame.topic,
            message_id: &frame.message_id,
            headers: &headers,
            data: &frame.data,
        };
        let result = {
            let call = async {
                let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| {
                    HandleError::Instantiate(cap_text(format!("{e:#}"), MAX_REPORTED))
                })?;
                Ok(instance.call_handle(&mut store, wit_frame).await)
            };
            tokio::time::timeout(self.limits.wall_timeout, call).await
        };
        let stderr = || cap_text(store.data().stderr_text(), MAX_REPORTED);
        match result {
            Err(_) => Err(HandleError::Timeout(self.limits.wall_timeout)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(Err(e))) => {
                let refused = store.data().limiter.refused_growth();
                Err(match classify(&e, refused) {
                    Failure::CpuBudget => HandleError::CpuBudget {
                        budget: self.limits.cpu_budget,
                        stderr: stderr(),
                    },
                    Failure::Memory => HandleError::Memory {
                        limit: self.limits.memory_bytes,
                        stderr: stderr(),
                    },
                    Failure::Trap(reason) => HandleError::Trap {
                        reason: cap_text(reason, MAX_REPORTED),
                        stderr: stderr(),
                    },
                })
            }
            Ok(Ok(Ok(Err(e)))) => Err(HandleError::Returned(cap_text(
                describe_error(&e),
                MAX_REPORTED,
            ))),
            Ok(Ok(Ok(Ok(outcome)))) => match outcome {
                Outcome::Done => Ok(PluginOutcome::Done),
                Outcome::Later(reason) => Ok(PluginOutcome::Later(cap_text(reason, MAX_REPORTED))),
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
}

/// Leaves the wait queue when dropped.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
        WitError::Limit(s) => format!("limit: {s}"),
        WitError::Unavailable(s) => format!("unavailable: {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindings::dingtalk::bot::types::Subscription as WitSubscription;

    fn description(version: &str, topics: &[&str]) -> bindings::Description {
        bindings::Description {
            name: "x".into(),
            version: version.into(),
            subscriptions: topics
                .iter()
                .map(|t| WitSubscription {
                    kind: FrameKind::Callback,
                    topic: (*t).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn what_describe_answers_is_bounded_before_it_reaches_a_log() {
        assert!(validate(&description("1.0", &["/t"])).is_ok());
        let huge = "v".repeat(1 << 20);
        assert!(
            validate(&description(&huge, &["/t"]))
                .unwrap_err()
                .contains("at most 256")
        );
        assert!(
            validate(&description("1", &[&huge]))
                .unwrap_err()
                .contains("at most 256")
        );
        let many = vec!["/t"; 33];
        assert!(
            validate(&description("1", &many))
                .unwrap_err()
                .contains("at most 32")
        );
    }

    #[test]
    fn a_pin_is_64_hex_digits() {
        assert!(Sha256Pin::from_hex(&"ab".repeat(32)).is_ok());
        assert!(Sha256Pin::from_hex("ab").is_err());
        assert!(Sha256Pin::from_hex(&"zz".repeat(32)).is_err());
    }
}

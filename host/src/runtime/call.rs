//! One frame through a loaded plugin: a concurrency slot, a fresh store and
//! instance, the `handle` call under the wall-clock timeout, and its outcome (or
//! why it failed) in terms the ACK and the logs can carry, each bounded.
//!
//! What ends a `Store`: the call returning, a trap (including the memory cap and the
//! CPU budget), or the wall-clock timeout dropping the call. Only a warm plugin's
//! store outlives its frame, and only after the handler returned with its memory
//! never refused (`warm.rs`), so a trapped (poisoned) or interrupted instance can
//! never be entered again.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::bindings::{self, FrameKind, Outcome, WitFrame, describe_error};
use super::cache;
use super::capability::Grants;
use super::capability::args::{MAX_REPORTED, cap_text};
use super::capability::tools::{Conversation, Offered, ToolFailure, ToolProvider};
use super::limiter::{Failure, classify};
use super::limits::Limits;
use super::meter::{new_store, rearm};
use super::scope::FrameScope;
use super::state::{PluginContext, State};
use super::warm::{Instances, Parked, Pool};
use crate::stream::frame::Frame;
use crate::stream::{Subscription, SubscriptionKind};

/// Largest callback response a plugin may return. The ACK carries it, and gateway
/// clients limit frames (Java: 256 KiB); 64 KiB leaves room and is plenty for card data.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

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

pub(crate) fn stderr_suffix(stderr: &str) -> String {
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
    /// The interfaces it imports (e.g. `dingtalk:bot/reply@0.3.0`).
    pub imports: Vec<String>,
    /// The component's SHA-256, hex.
    pub sha256: String,
    /// Who vouched for it, when its section names a publisher (it was refused
    /// unless one of the publisher's keys signed it).
    pub signed_by: Option<Signer>,
    /// The manifest it carries (`host build`), or why it is unreadable: information
    /// for the operator and the upgrade rules, never a grant.
    pub declared: Result<Option<Arc<crate::manifest::Manifest>>, String>,
    /// The tools it offers agents.
    pub tools: Arc<[Offered]>,
    pub(super) pre: bindings::PluginPre<State>,
    pub(super) ctx: Arc<PluginContext>,
    pub(super) limits: Limits,
    pub(super) concurrency: Arc<tokio::sync::Semaphore>,
    pub(super) waiting: AtomicUsize,
    pub(super) stats: PluginStats,
    pub(super) ack: AckMode,
    pub(super) instances: Instances,
    /// Parked instances, for a warm plugin.
    pub(super) warm: Option<Arc<Pool>>,
}

/// When a plugin's frames are ACKed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AckMode {
    /// When the handler is done, reporting its outcome (or as accepted once the ACK
    /// deadline passes): the default.
    #[default]
    Outcome,
    /// As soon as the host has the frame for the plugin, before the handler runs
    /// (the official Python SDK's async handler): for handlers that take minutes.
    /// Their outcome is only logged, and DingTalk never pushes such a frame again.
    OnReceipt,
}

/// Who vouched for a loaded plugin: a publisher of `[trust.publishers]` and the key
/// of theirs that signed the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The publisher's name.
    pub publisher: String,
    /// The signing key's fingerprint (`SHA256:...`, as `ssh-keygen -l` prints it).
    pub key: String,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.publisher, self.key)
    }
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

    /// When its frames are ACKed.
    pub fn ack(&self) -> AckMode {
        self.ack
    }

    /// Whether its frames get a fresh instance each or share warm ones.
    pub fn instances(&self) -> &Instances {
        &self.instances
    }

    /// Warm instances parked now (0 for a fresh plugin).
    pub fn parked(&self) -> usize {
        self.warm.as_ref().map_or(0, |w| w.len())
    }

    /// Drop its parked instances and park none again: it was replaced or unloaded.
    pub fn retire(&self) {
        if let Some(warm) = &self.warm {
            warm.retire();
        }
    }

    /// What the operator granted it.
    pub fn grants(&self) -> &Grants {
        &self.ctx.grants
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

    /// Run `frame`, a data frame of `kind`, through the plugin in a fresh instance,
    /// under the limits, with the `scope` dispatch decoded once for every plugin the
    /// frame goes to.
    pub async fn handle(
        &self,
        frame: &Frame,
        kind: SubscriptionKind,
        scope: &FrameScope,
    ) -> Result<PluginOutcome, HandleError> {
        let kind = match kind {
            SubscriptionKind::Callback => FrameKind::Callback,
            SubscriptionKind::Event => FrameKind::Event,
        };
        let (mut store, reused, frames_left) = match self.warm.as_ref().and_then(|w| w.take()) {
            Some(Parked {
                mut store,
                instance,
                frames_left,
                ..
            }) => {
                store.data_mut().begin_frame(scope.clone());
                rearm(&mut store);
                (store, Some(instance), frames_left)
            }
            None => {
                let state = State::new(self.ctx.clone(), scope.clone());
                let frames = self.warm.as_ref().map_or(1, |w| w.draw());
                (new_store(self.pre.engine(), state), None, frames)
            }
        };
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
                let instance = match reused {
                    Some(instance) => instance,
                    None => self.pre.instantiate_async(&mut store).await.map_err(|e| {
                        HandleError::Instantiate(cap_text(format!("{e:#}"), MAX_REPORTED))
                    })?,
                };
                let answer = instance.call_handle(&mut store, wit_frame).await;
                Ok((instance, answer))
            };
            tokio::time::timeout(self.limits.wall_timeout, call).await
        };
        let answer = match result {
            Err(_) => Err(HandleError::Timeout(self.limits.wall_timeout)),
            Ok(Err(e)) => Err(e),
            Ok(Ok((_, Err(e)))) => Err(self.trapped(&store, &e)),
            // Only a handler that returned leaves an instance fit for another frame.
            Ok(Ok((instance, Ok(answer)))) => {
                if let Some(warm) = &self.warm
                    && frames_left > 1
                    && store.data_mut().end_frame()
                {
                    warm.park(Parked::new(store, instance, frames_left - 1));
                }
                Ok(answer)
            }
        };
        match answer? {
            Err(e) => Err(HandleError::Returned(cap_text(
                describe_error(&e),
                MAX_REPORTED,
            ))),
            Ok(outcome) => match outcome {
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

impl Plugin {
    /// Why the guest of `store` trapped, as the ACK and the log say it.
    fn trapped(&self, store: &wasmtime::Store<State>, e: &wasmtime::Error) -> HandleError {
        let stderr = || cap_text(store.data().stderr_text(), MAX_REPORTED);
        match classify(e, store.data().limiter.refused_growth()) {
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
        }
    }

    /// Run `tool` in a fresh instance with this plugin's own grants and limits (a
    /// slot of its own, its CPU budget and memory cap), for at most `timeout` (and
    /// never past its own `timeout_ms`).
    async fn call_tool(
        &self,
        tool: &str,
        arguments: &str,
        conversation: &Conversation,
        timeout: Duration,
    ) -> Result<String, ToolFailure> {
        let timeout = timeout.min(self.limits.wall_timeout);
        let _slot = tokio::time::timeout(timeout, self.slot())
            .await
            .map_err(|_| ToolFailure::Timeout(timeout))?
            .map_err(|e| ToolFailure::Unavailable(format!("plugin {} {e}", self.name)))?;
        let mut store = new_store(self.pre.engine(), State::for_tool(self.ctx.clone()));
        let wit_conversation = bindings::WitConversation {
            id: &conversation.id,
            sender: &conversation.sender,
            is_group: conversation.is_group,
        };
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .call_call_tool(&mut store, tool, arguments, wit_conversation)
                .await
        };
        let result = tokio::time::timeout(timeout, call).await;
        match result {
            Err(_) => Err(ToolFailure::Timeout(timeout)),
            Ok(Err(e)) => Err(ToolFailure::Failed(self.trapped(&store, &e).to_string())),
            Ok(Ok(Err(bindings::WitError::InvalidArgument(why)))) => {
                Err(ToolFailure::Refused(cap_text(why, MAX_REPORTED)))
            }
            Ok(Ok(Err(e))) => Err(ToolFailure::Failed(cap_text(
                describe_error(&e),
                MAX_REPORTED,
            ))),
            Ok(Ok(Ok(text))) => Ok(text),
        }
    }
}

impl ToolProvider for Plugin {
    fn provider(&self) -> &str {
        &self.name
    }

    fn offered(&self) -> Arc<[Offered]> {
        self.tools.clone()
    }

    fn run<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a str,
        conversation: &'a Conversation,
        timeout: Duration,
    ) -> futures_util::future::BoxFuture<'a, Result<String, ToolFailure>> {
        Box::pin(self.call_tool(tool, arguments, conversation, timeout))
    }
}

/// Leaves the wait queue when dropped.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

//! The plugin behind a host call: what every capability's view carries besides its
//! own state.
//!
//! A [`Caller`] is fixed while a plugin is loaded (its name, limits, metrics, the
//! app's DingTalk APIs, and the allowances all its frames share); [`FrameCalls`] is
//! what one frame has used of them; [`Calls`] borrows both for one host call.
//! [`Caller::counted`] is the one place a host call's result is counted and its
//! duration logged.
//!
//! Invariants: a DingTalk call is counted right before it is sent, and refused (with
//! `limit`, counted in `dingtalk_limit_refusals_total`) past its per-frame allowance
//! or the plugin's calls per second; a large result's reservation is held until the
//! frame's next reservation or its end.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::allowance::{ByteBudget, DingtalkCall, Rate, Reservation};
use super::bindings::{HostError, HostResult, WitError, call_result, denied, limit};
use super::limits::Limits;
use crate::audit::Audit;
use crate::metrics::{AppMetrics, CallResult};
use crate::openapi::api::OpenApi;

/// Sees how every host call ended (`host record`).
pub trait CallTap: std::fmt::Debug + Send + Sync + 'static {
    /// `plugin`'s call of `capability` ended as `result`.
    fn called(&self, plugin: &str, capability: &'static str, result: CallResult);
}

/// One loaded plugin, as its host calls see it.
#[derive(Debug)]
pub struct Caller {
    /// Its name, which is its file's stem.
    pub name: String,
    /// Its limits (the defaults with its overrides applied).
    pub limits: Limits,
    /// Where its host calls are counted.
    pub metrics: AppMetrics,
    /// The app's token-authenticated APIs; `None` without credentials.
    api: Option<Arc<OpenApi>>,
    /// Host-side result bytes its frames hold, all together.
    bytes: ByteBudget,
    /// Its DingTalk API calls per second.
    rate: Mutex<Rate>,
    /// Where its denied calls are recorded, and its app's name there.
    audit: (Audit, String),
    /// What sees every call's end, if anything does.
    tap: Option<Arc<dyn CallTap>>,
}

impl Caller {
    /// Plugin `name` under `limits`, with fresh allowances.
    pub fn new(
        name: String,
        limits: Limits,
        metrics: AppMetrics,
        api: Option<Arc<OpenApi>>,
        audit: (Audit, String),
    ) -> Self {
        Self {
            audit,
            bytes: ByteBudget::new(limits.host_buffer_bytes),
            rate: Mutex::new(Rate::new(limits.dingtalk_calls_per_second, Instant::now())),
            name,
            limits,
            metrics,
            api,
            tap: None,
        }
    }

    /// The same caller, with `tap` shown how each call ended.
    pub fn tapped(mut self, tap: Option<Arc<dyn CallTap>>) -> Self {
        self.tap = tap;
        self
    }

    /// The whole host-buffer budget, in bytes.
    pub fn buffer_capacity(&self) -> u64 {
        self.bytes.capacity()
    }

    /// Run host call `call` of `capability`, then count how it ended in
    /// `dingtalk_host_calls_total` (and log its duration at debug level).
    pub async fn counted<T>(
        &self,
        capability: &'static str,
        call: impl Future<Output = HostResult<T>>,
    ) -> HostResult<T> {
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let result = call.await;
        let ended = call_result(&result);
        if let Some(started) = started {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(plugin = %self.name, capability, result = ended.label(), duration_us = micros, "host call");
        }
        self.metrics.host_call(&self.name, capability, ended);
        if let Some(tap) = &self.tap {
            tap.called(&self.name, capability, ended);
        }
        if let Err(HostError::Guest(WitError::Denied(reason))) = &result {
            let (audit, app) = &self.audit;
            audit.denied(app, &self.name, capability, reason);
        }
        result
    }
}

/// What one frame has used of its plugin's allowances.
#[derive(Debug, Default)]
pub struct FrameCalls {
    /// DingTalk API calls so far, by [`DingtalkCall`].
    dingtalk: [u32; DingtalkCall::COUNT],
    /// The reservation of the last large result handed to the guest, kept until
    /// the next one is reserved or the frame ends (it covers the result's lowering).
    held: Option<Reservation>,
}

/// A plugin and its frame's use of its allowances, borrowed for one host call.
#[derive(Debug)]
pub struct Calls<'a> {
    caller: &'a Caller,
    frame: &'a mut FrameCalls,
}

impl<'a> Calls<'a> {
    /// `caller`'s allowances as `frame` has used them.
    pub fn new(caller: &'a Caller, frame: &'a mut FrameCalls) -> Self {
        Self { caller, frame }
    }

    /// The plugin (borrowed for as long as the view, not from it).
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// Count one DingTalk API call of `kind`: refused with `limit` past the frame's
    /// allowance of that kind or the plugin's calls per second.
    pub fn dingtalk(&mut self, kind: DingtalkCall) -> HostResult<()> {
        let caller = self.caller;
        let refused = |bound: &'static str, why: String| {
            caller
                .metrics
                .limit_refused(&caller.name, kind.capability(), bound);
            Err(limit(why))
        };
        let max = kind.per_frame(&caller.limits);
        if self.frame.dingtalk[kind.index()] >= max {
            return refused(
                "per_frame",
                format!("at most {max} {} per frame", kind.what()),
            );
        }
        let taken = caller
            .rate
            .lock()
            .is_ok_and(|mut rate| rate.take(Instant::now()));
        if !taken {
            return refused(
                "per_second",
                format!(
                    "at most {} DingTalk API calls per second for this plugin",
                    caller.limits.dingtalk_calls_per_second
                ),
            );
        }
        self.frame.dingtalk[kind.index()] += 1;
        Ok(())
    }

    /// Reserve `bytes` of the plugin's host-side result budget for a result about to
    /// be built, giving back the frame's previous reservation first.
    pub async fn reserve(&mut self, what: &str, bytes: u64) -> HostResult<()> {
        self.frame.held = None;
        match self.caller.bytes.reserve(bytes).await {
            Ok(r) => {
                self.frame.held = Some(r);
                Ok(())
            }
            Err(capacity) => {
                self.caller
                    .metrics
                    .limit_refused(&self.caller.name, "host_buffer", "bytes");
                Err(limit(format!(
                    "{what} may need {bytes} bytes; a plugin's host calls hold at most {capacity} bytes at once"
                )))
            }
        }
    }

    /// The token-authenticated APIs.
    pub fn api(&self) -> HostResult<Arc<OpenApi>> {
        self.caller
            .api
            .clone()
            .ok_or_else(|| denied("the host has no app credentials for DingTalk APIs"))
    }
}

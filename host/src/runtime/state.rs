//! Per-store state: what one `Store` (one frame, or one canary call) holds.
//!
//! A [`State`] holds the WASI context (no files, env, args or sockets; stderr captured;
//! a small resource table), the memory [`Limiter`], the plugin's shared context, the
//! frame's [`FrameScope`] and the frame's budgets. The host functions that use it live
//! in [`super::capability`], one module per WIT interface.
//!
//! Host functions that wait (HTTP, sleep) check what they need from the state first
//! and then await futures that borrow nothing from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::Limits;
use super::allowance::{ByteBudget, DingtalkCall, Rate, Reservation};
use super::bindings::WitError;
use super::capability::cards::CardOwners;
use super::capability::http::Hooks;
use super::capability::reply::webhook_origins;
use super::capability::{Grants, HostError, HostResult, denied};
use super::limiter::Limiter;
use super::scope::FrameScope;
use crate::config::Endpoints;
use crate::egress::Egress;
use crate::kv::Backend;
use crate::metrics::AppMetrics;
use crate::openapi::Http;
use crate::openapi::api::OpenApi;

/// What every plugin call can use, shared by every plugin of one app.
#[derive(Debug)]
pub struct Services {
    /// The shared DingTalk HTTP client (webhooks need no token).
    pub http: Http,
    /// Token-authenticated APIs; `None` when the host has no credentials.
    pub api: Option<Arc<OpenApi>>,
    /// Origins a session webhook may be on.
    pub(crate) webhook_origins: Vec<(String, String, u16)>,
    /// Which plugin created which card.
    pub(crate) card_owners: CardOwners,
    /// The app's name: its key-value namespace.
    pub app: String,
    /// Outbound HTTP for plugins (resolver, TLS roots, secrets).
    pub egress: Egress,
    /// Key-value state; `None` when the host runs without one.
    pub kv: Option<Arc<dyn Backend>>,
    /// Where host calls, key-value operations and outbound requests are counted.
    pub metrics: AppMetrics,
}

impl Services {
    /// Services for an app at `endpoints`, with its APIs when it has credentials.
    pub fn new(http: Http, endpoints: &Endpoints, api: Option<Arc<OpenApi>>) -> Self {
        Self {
            http,
            api,
            webhook_origins: webhook_origins(&[&endpoints.openapi, &endpoints.oapi]),
            card_owners: CardOwners::default(),
            app: DEFAULT_APP.to_owned(),
            egress: Egress::default(),
            kv: None,
            metrics: AppMetrics::default(),
        }
    }

    /// Serve the app `name`: its key-value namespace and its metrics' `app` label.
    pub fn for_app(mut self, name: &str, metrics: AppMetrics) -> Self {
        self.app = name.to_owned();
        self.metrics = metrics;
        self
    }

    /// Send plugins' outbound HTTP through `egress` (its secrets and resolver).
    pub fn with_egress(mut self, egress: Egress) -> Self {
        self.egress = egress;
        self
    }

    /// Keep plugins' key-value state in `store`.
    pub fn with_kv(mut self, store: Arc<dyn Backend>) -> Self {
        self.kv = Some(store);
        self
    }
}

impl State {
    /// Count a host call of `capability` in `dingtalk_host_calls_total`.
    pub(crate) fn count_call<T>(&self, capability: &'static str, result: &HostResult<T>) {
        let label = match result {
            Ok(_) => "ok",
            Err(super::capability::HostError::Guest(e)) => match e {
                WitError::Dingtalk(_) => "dingtalk",
                WitError::Timeout(_) => "timeout",
                WitError::Network(_) => "network",
                WitError::InvalidArgument(_) => "invalid",
                WitError::Denied(_) => "denied",
                WitError::Plugin(_) => "plugin",
                WitError::Limit(_) => "limit",
                WitError::Unavailable(_) => "unavailable",
            },
            Err(super::capability::HostError::Trap(_)) => "trap",
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            let micros =
                u64::try_from(self.host_call_started.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(plugin = %self.plugin.name, capability, result = label, duration_us = micros, "host call");
        }
        self.plugin
            .services
            .metrics
            .host_call(&self.plugin.name, capability, label);
    }
}

/// The app name of a host serving one app.
pub const DEFAULT_APP: &str = "default";

/// What is fixed for one loaded plugin.
#[derive(Debug)]
pub(crate) struct PluginContext {
    /// Its name, which is its file's stem.
    pub name: String,
    pub grants: Grants,
    pub services: Arc<Services>,
    /// Its limits (the defaults with its overrides applied).
    pub limits: Limits,
    /// The engine's epoch ticks so far.
    pub ticks: Arc<AtomicU64>,
    /// Host-side result bytes its frames hold, all together.
    pub bytes: ByteBudget,
    /// Its DingTalk API calls per second.
    pub rate: Mutex<Rate>,
}

impl PluginContext {
    /// The context of plugin `name` under `limits`: fresh allowances.
    pub fn new(
        name: String,
        grants: Grants,
        services: Arc<Services>,
        limits: Limits,
        ticks: Arc<AtomicU64>,
    ) -> Self {
        Self {
            bytes: ByteBudget::new(limits.host_buffer_bytes),
            rate: Mutex::new(Rate::new(limits.dingtalk_calls_per_second, Instant::now())),
            name,
            grants,
            services,
            limits,
            ticks,
        }
    }
}

/// Bytes of guest stderr kept per call (enough for a panic message and backtrace).
const STDERR_CAPACITY: usize = 16 * 1024;

/// WASI resources (streams, pollables) one instance may hold at once.
const MAX_RESOURCES: usize = 256;

/// What one frame has used of its per-frame allowances.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Log lines so far.
    pub log_lines: u32,
    /// Key-value operations so far.
    pub kv_ops: u32,
    /// DingTalk API calls so far, by [`DingtalkCall`].
    pub dingtalk: [u32; DingtalkCall::COUNT],
}

pub(crate) struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    table: ResourceTable,
    pub limiter: Limiter,
    pub stderr: MemoryOutputPipe,
    pub plugin: Arc<PluginContext>,
    pub scope: FrameScope,
    pub budget: Budget,
    /// Epoch ticks this call may still spend in guest code.
    pub cpu_ticks_left: u64,
    /// The epoch at which the guest's current CPU slice ends.
    pub deadline_epoch: u64,
    /// The epoch when the running host call began.
    pub host_call_epoch: u64,
    /// When the running host call began, taken only while debug logging is on (its
    /// duration goes to the debug log; the hot path pays nothing otherwise).
    pub host_call_started: std::time::Instant,
    /// A host call since the last deadline check waited across a tick.
    pub host_waited: bool,
    /// The byte reservation of the last large result handed to the guest, kept until
    /// the next one is reserved or the frame ends (it covers the result's lowering).
    pub held: Option<Reservation>,
}

impl State {
    /// A fresh state for one call of `plugin`, under its limits.
    pub fn new(plugin: Arc<PluginContext>, scope: FrameScope) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Hooks::new(plugin.clone()),
            table,
            limiter: Limiter::new(plugin.limits.memory_bytes),
            stderr,
            cpu_ticks_left: plugin.limits.cpu_ticks(),
            deadline_epoch: 0,
            host_call_epoch: 0,
            host_call_started: std::time::Instant::now(),
            host_waited: false,
            held: None,
            plugin,
            scope,
            budget: Budget::default(),
        }
    }

    /// The engine's epoch now.
    pub fn epoch(&self) -> u64 {
        self.plugin.ticks.load(Ordering::Relaxed)
    }

    /// What the guest wrote to stderr, trimmed (a panic message, usually).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }

    /// The linear memory this instance may use.
    pub fn memory_limit(&self) -> usize {
        self.limiter.memory_limit()
    }

    /// Count one DingTalk API call of `kind`: refused with `limit` past the frame's
    /// allowance of that kind or the plugin's calls per second.
    pub fn dingtalk_call(&mut self, kind: DingtalkCall) -> HostResult<()> {
        let limits = &self.plugin.limits;
        let max = kind.per_frame(limits);
        let refused = |bound: &'static str, why: String| {
            self.plugin
                .services
                .metrics
                .limit_refused(&self.plugin.name, kind.capability(), bound);
            Err(HostError::Guest(WitError::Limit(why)))
        };
        if self.budget.dingtalk[kind.index()] >= max {
            return refused(
                "per_frame",
                format!("at most {max} {} per frame", kind.what()),
            );
        }
        let taken = self
            .plugin
            .rate
            .lock()
            .is_ok_and(|mut rate| rate.take(Instant::now()));
        if !taken {
            return refused(
                "per_second",
                format!(
                    "at most {} DingTalk API calls per second for this plugin",
                    limits.dingtalk_calls_per_second
                ),
            );
        }
        self.budget.dingtalk[kind.index()] += 1;
        Ok(())
    }

    /// Reserve `bytes` of the plugin's host-side result budget for a result about to
    /// be built, giving back the frame's previous reservation first.
    pub async fn reserve_result(&mut self, what: &str, bytes: u64) -> HostResult<()> {
        self.held = None;
        match self.plugin.bytes.reserve(bytes).await {
            Ok(r) => {
                self.held = Some(r);
                Ok(())
            }
            Err(capacity) => {
                self.plugin.services.metrics.limit_refused(
                    &self.plugin.name,
                    "host_buffer",
                    "bytes",
                );
                Err(HostError::Guest(WitError::Limit(format!(
                    "{what} may need {bytes} bytes; a plugin's host calls hold at most {capacity} bytes at once"
                ))))
            }
        }
    }

    /// The token-authenticated APIs.
    pub fn api(&self) -> HostResult<Arc<OpenApi>> {
        self.plugin
            .services
            .api
            .clone()
            .ok_or_else(|| denied("the host has no app credentials for DingTalk APIs"))
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

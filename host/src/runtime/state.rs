//! Per-store state: what one `Store` (one frame, or one canary call) holds, and how
//! each capability's view of it is projected.
//!
//! A [`State`] only aggregates: the WASI context (no files, env, args or sockets;
//! stderr captured; a small resource table), the memory limiter and CPU meter, the
//! plugin's [`PluginContext`], the frame's [`FrameScope`], and each capability's
//! per-frame state. [`add_to_linker`] links every WIT interface with a closure that
//! borrows the parts its capability may use as that capability's view, so a host
//! function can reach nothing else (wasmtime-wasi's pattern for WASI).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::converts_errors;
use super::bindings::dingtalk::bot as wit;
use super::caller::{CallTap, Caller, Calls, FrameCalls};
use super::capability::Grants;
use super::capability::cards::{self, CardOwners};
use super::capability::tools::{self, Board};
use super::capability::{clock, config, http, kv, log, media, messages, openapi, reply};
use super::limiter::Limiter;
use super::limits::Limits;
use super::meter::{Meter, Metered};
use super::scope::FrameScope;
use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::Endpoints;
use crate::egress::Egress;
use crate::kv::Backend;
use crate::metrics::AppMetrics;
use crate::openapi::Http;
use crate::openapi::api::OpenApi;

/// The app name of a host serving one app.
pub const DEFAULT_APP: &str = "default";

/// What every plugin call can use, shared by every plugin of one app: each
/// capability's app-level state.
#[derive(Debug)]
pub struct Services {
    /// The shared DingTalk HTTP client (webhooks need no token).
    pub http: Http,
    /// Token-authenticated APIs; `None` when the host has no credentials.
    pub api: Option<Arc<OpenApi>>,
    /// Origins a session webhook may be on.
    pub(crate) webhook_origins: reply::Origins,
    /// Which plugin created which card.
    pub(crate) card_owners: Arc<CardOwners>,
    /// The app's name: its key-value namespace.
    pub app: String,
    /// Outbound HTTP for plugins (resolver, TLS roots, secrets).
    pub egress: Egress,
    /// Key-value state; `None` when the host runs without one.
    pub kv: Option<Arc<dyn Backend>>,
    /// Where host calls, key-value operations and outbound requests are counted.
    pub metrics: AppMetrics,
    /// Which plugin offers which tools, approvals waiting, tokens spent.
    pub(crate) tools: Arc<Board>,
    /// Where denied calls and approval decisions are recorded.
    pub audit: Audit,
    /// What plugins read as now, and approvals expire by (the key-value store
    /// keeps its own copy).
    pub clock: Clock,
    /// Where the app keeps the lines its plugins log, beside the host's log.
    pub log_tap: Option<Arc<log::Tap>>,
    /// What sees how every host call ended (`host record`).
    pub call_tap: Option<Arc<dyn CallTap>>,
}

impl Services {
    /// Services for an app at `endpoints`, with its APIs when it has credentials.
    pub fn new(http: Http, endpoints: &Endpoints, api: Option<Arc<OpenApi>>) -> Self {
        Self {
            http,
            api,
            webhook_origins: reply::Origins::new(&[&endpoints.openapi, &endpoints.oapi]),
            card_owners: Arc::default(),
            app: DEFAULT_APP.to_owned(),
            egress: Egress::default(),
            kv: None,
            metrics: AppMetrics::default(),
            tools: Arc::default(),
            audit: Audit::default(),
            clock: Clock::default(),
            log_tap: None,
            call_tap: None,
        }
    }

    /// Record denied calls and approval decisions in `audit`.
    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.audit = audit;
        self
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

    /// Tell plugins the time by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.tools.clock_to(clock.clone());
        self.clock = clock;
        self
    }

    /// Keep the lines plugins log in `tap` too.
    pub fn with_log_tap(mut self, tap: Arc<log::Tap>) -> Self {
        self.log_tap = Some(tap);
        self
    }

    /// Show `tap` how every host call ends.
    pub fn with_call_tap(mut self, tap: Arc<dyn CallTap>) -> Self {
        self.call_tap = Some(tap);
        self
    }

    /// Keep plugins' key-value state in `store`.
    pub fn with_kv(mut self, store: Arc<dyn Backend>) -> Self {
        self.kv = Some(store);
        self
    }

    /// Which plugin of this app created which card.
    pub fn card_owners(&self) -> Arc<CardOwners> {
        self.card_owners.clone()
    }

    /// This app's tools: dispatch publishes each new plugin table to it.
    pub fn tool_board(&self) -> Arc<Board> {
        self.tools.clone()
    }
}

/// What is fixed for one loaded plugin.
#[derive(Debug)]
pub(crate) struct PluginContext {
    /// The plugin as its host calls see it.
    pub caller: Caller,
    pub grants: Grants,
    pub services: Arc<Services>,
    /// The engine's epoch ticks so far.
    pub ticks: Arc<AtomicU64>,
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
            caller: Caller::new(
                name,
                limits,
                services.metrics.clone(),
                services.api.clone(),
                (services.audit.clone(), services.app.clone()),
            )
            .tapped(services.call_tap.clone()),
            grants,
            services,
            ticks,
        }
    }
}

impl http::Outbound for PluginContext {
    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn grant(&self) -> &http::Grant {
        &self.grants.http
    }

    fn egress(&self) -> &Egress {
        &self.services.egress
    }
}

/// Bytes of guest stderr kept per call (enough for a panic message and backtrace).
const STDERR_CAPACITY: usize = 16 * 1024;

/// WASI resources (streams, pollables) one instance may hold at once.
const MAX_RESOURCES: usize = 256;

pub(crate) struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub stderr: MemoryOutputPipe,
    /// Where the current frame's stderr begins.
    stderr_from: usize,
    pub plugin: Arc<PluginContext>,
    /// Everything that starts again with each frame.
    frame: PerFrame,
}

/// What one frame (or one tool call) has to itself: its scope, its host-call counts
/// and budgets, its tool turn and its CPU meter. A warm instance's next frame gets a
/// new one, so nothing of an earlier frame's reaches it.
struct PerFrame {
    scope: FrameScope,
    hooks: http::Hooks,
    meter: Meter,
    calls: FrameCalls,
    log_lines: log::Lines,
    kv_ops: kv::Ops,
    turn: tools::Turn,
}

impl PerFrame {
    fn new(plugin: &Arc<PluginContext>, scope: FrameScope, turn: tools::Turn) -> Self {
        Self {
            scope,
            hooks: http::Hooks::new(plugin.clone()),
            meter: Meter::new(plugin.ticks.clone(), plugin.caller.limits.cpu_ticks()),
            calls: FrameCalls::default(),
            log_lines: log::Lines::default(),
            kv_ops: kv::Ops::default(),
            turn,
        }
    }

    /// The frame of `scope` for `plugin`; an admin it shows is remembered for the
    /// approvals of an agent's tools.
    fn of(plugin: &Arc<PluginContext>, scope: FrameScope) -> Self {
        if !plugin.grants.tools.is_empty()
            && let Some(t) = scope.talk.as_ref().filter(|t| t.is_admin)
        {
            plugin
                .services
                .tools
                .saw_admin(&t.conversation.id, &t.conversation.sender);
        }
        let turn = tools::Turn::new(scope.talk.as_ref());
        Self::new(plugin, scope, turn)
    }
}

impl State {
    /// A fresh state for one call of `plugin`, under its limits.
    pub fn new(plugin: Arc<PluginContext>, scope: FrameScope) -> Self {
        let frame = PerFrame::of(&plugin, scope);
        Self::with_frame(plugin, frame)
    }

    /// A fresh state for one tool call of `plugin`: no frame, and no tools of its own.
    pub fn for_tool(plugin: Arc<PluginContext>) -> Self {
        let frame = PerFrame::new(&plugin, FrameScope::default(), tools::Turn::nested());
        Self::with_frame(plugin, frame)
    }

    /// Start the frame of `scope` in a warm instance's state: only that frame's
    /// webhook, conversation and download codes are in scope, and its host-call
    /// counts, log and key-value budgets, tool turn and CPU budget start from zero.
    /// The store's epoch deadline is the caller's to re-arm (`meter::rearm`).
    pub fn begin_frame(&mut self, scope: FrameScope) {
        self.frame = PerFrame::of(&self.plugin, scope);
    }

    /// End a frame whose handler returned: whether the instance may serve another
    /// (it never had memory growth refused, and its stderr pipe has room for another
    /// frame's panic). The next frame's stderr starts where this one's ended.
    pub fn end_frame(&mut self) -> bool {
        let written = self.stderr.contents().len();
        self.stderr_from = written;
        !self.limiter.refused_growth() && written < STDERR_CAPACITY / 2
    }

    fn with_frame(plugin: Arc<PluginContext>, frame: PerFrame) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table,
            limiter: Limiter::new(plugin.caller.limits.memory_bytes),
            stderr,
            stderr_from: 0,
            plugin,
            frame,
        }
    }

    /// What the guest wrote to stderr, trimmed (a panic message, usually).
    pub fn stderr_text(&self) -> String {
        let contents = self.stderr.contents();
        String::from_utf8_lossy(contents.get(self.stderr_from..).unwrap_or_default())
            .trim()
            .to_owned()
    }

    fn log(&mut self) -> log::View<'_> {
        log::View {
            plugin: &self.plugin.caller.name,
            lines: &mut self.frame.log_lines,
            tap: self.plugin.services.log_tap.as_deref(),
        }
    }

    fn config(&mut self) -> config::View<'_> {
        config::View {
            grant: &self.plugin.grants.config,
        }
    }

    fn clock(&mut self) -> clock::View<'_> {
        clock::View {
            clock: &self.plugin.services.clock,
        }
    }

    fn reply(&mut self) -> reply::View<'_> {
        let plugin = &*self.plugin;
        reply::View {
            calls: Calls::new(&plugin.caller, &mut self.frame.calls),
            origins: &plugin.services.webhook_origins,
            http: &plugin.services.http,
            webhook: self.frame.scope.webhook.as_ref(),
        }
    }

    fn cards(&mut self) -> cards::View<'_> {
        let plugin = &*self.plugin;
        cards::View {
            calls: Calls::new(&plugin.caller, &mut self.frame.calls),
            owners: &plugin.services.card_owners,
            conversation: self.frame.scope.conversation.as_ref(),
        }
    }

    fn media(&mut self) -> media::View<'_> {
        media::View {
            calls: Calls::new(&self.plugin.caller, &mut self.frame.calls),
            download_codes: &self.frame.scope.download_codes,
            memory_limit: self.limiter.memory_limit(),
        }
    }

    fn messages(&mut self) -> messages::View<'_> {
        messages::View {
            calls: Calls::new(&self.plugin.caller, &mut self.frame.calls),
            grant: &self.plugin.grants.messages,
        }
    }

    fn openapi(&mut self) -> openapi::View<'_> {
        openapi::View {
            calls: Calls::new(&self.plugin.caller, &mut self.frame.calls),
            grant: &self.plugin.grants.openapi,
        }
    }

    fn kv(&mut self) -> kv::View<'_> {
        let plugin = &*self.plugin;
        kv::View {
            calls: Calls::new(&plugin.caller, &mut self.frame.calls),
            store: plugin.services.kv.as_ref(),
            app: &plugin.services.app,
            ops: &mut self.frame.kv_ops,
        }
    }
}

impl State {
    fn tools(&mut self) -> tools::View<'_> {
        let plugin = &*self.plugin;
        tools::View {
            agent: &plugin.caller.name,
            grant: &plugin.grants.tools,
            limits: &plugin.caller.limits,
            board: &plugin.services.tools,
            talk: self.frame.scope.talk.as_ref(),
            presser: self.frame.scope.presser.as_deref(),
            turn: &mut self.frame.turn,
        }
    }
}

/// Link WASI, `wasi:http` and every `dingtalk:bot` interface, each on its
/// capability's view.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    wit::types::add_to_linker::<State, HasSelf<State>>(linker, |s| s)?;
    wit::log::add_to_linker::<State, log::HasView>(linker, State::log)?;
    wit::config::add_to_linker::<State, config::HasView>(linker, State::config)?;
    wit::clock::add_to_linker::<State, clock::HasView>(linker, State::clock)?;
    wit::reply::add_to_linker::<State, reply::HasView>(linker, State::reply)?;
    wit::cards::add_to_linker::<State, cards::HasView>(linker, State::cards)?;
    wit::media::add_to_linker::<State, media::HasView>(linker, State::media)?;
    wit::messages::add_to_linker::<State, messages::HasView>(linker, State::messages)?;
    wit::openapi::add_to_linker::<State, openapi::HasView>(linker, State::openapi)?;
    wit::kv::add_to_linker::<State, kv::HasView>(linker, State::kv)?;
    wit::tools::add_to_linker::<State, tools::HasView>(linker, State::tools)?;
    Ok(())
}

converts_errors!(State);

impl Metered for State {
    fn meter(&mut self) -> &mut Meter {
        &mut self.frame.meter
    }

    fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.frame.hooks,
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

//! One WebAssembly engine per process, and the runtime each app runs plugins on.
//!
//! [`Engine`] is what costs memory and threads: the wasmtime engine with its pooling
//! allocator, the one linker, the epoch ticker thread (which stops by itself when the
//! engine is dropped), the artifact cache and the size of a pool slot. A [`Runtime`]
//! is one app's view of it: the app's [`Services`] and default [`Limits`]. Several
//! apps share one engine; no plugin of any of them may be given more memory than a
//! pool slot holds ([`Engine::runtime`] checks it, once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Linker;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache;
use super::capability::cards::CardOwners;
use super::capability::tools::Board;
use super::limits::{EPOCH_TICK, LimitOverrides, Limits};
use super::state::{self, Services, State};
use super::warm::ParkBudget;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Instances that may exist at once across all plugins (frames in flight plus
    /// canaries). Default 256; it sizes the pooling allocator's slots.
    pub max_instances: u32,
    /// Per-call limits, the default for every plugin.
    pub limits: Limits,
    /// The largest memory any plugin may be given (it sizes the pool's slots);
    /// defaults to `limits.memory_bytes` when smaller.
    pub memory_cap: usize,
    /// The compiled-artifact cache.
    pub cache: cache::CacheConfig,
    /// `[trust]`: whether a plugin whose section names no `publisher` is refused,
    /// and what is denied whoever signed it; checked at every load and reload.
    pub trust: crate::trust::Policy,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_instances: 256,
            limits: Limits::default(),
            memory_cap: 0,
            cache: cache::CacheConfig::default(),
            trust: crate::trust::Policy::default(),
        }
    }
}

/// A failure to set up the engine.
#[derive(Debug, thiserror::Error)]
#[error("failed to set up the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The process's engine: pool, linker, epoch ticker, artifact cache.
#[derive(Clone)]
pub struct Engine {
    pub(super) inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("memory_cap", &self.inner.memory_cap)
            .finish_non_exhaustive()
    }
}

pub(super) struct EngineInner {
    pub(super) engine: wasmtime::Engine,
    /// Epoch ticks so far (the engine's epoch, which wasmtime does not expose).
    pub(super) ticks: Arc<AtomicU64>,
    pub(super) linker: Linker<State>,
    pub(super) cache: cache::CacheConfig,
    /// `[trust]`'s file-wide rules; replaced when the config is reloaded.
    pub(super) trust: std::sync::RwLock<Arc<crate::trust::Policy>>,
    /// The largest linear memory a pool slot holds: no plugin may be given more.
    memory_cap: usize,
    /// How many warm instances may wait parked, across every app.
    pub(super) park_budget: Arc<ParkBudget>,
}

impl Engine {
    /// Build the engine and linker; start the epoch ticker.
    pub fn new(config: &RuntimeConfig) -> Result<Self, EngineError> {
        let n = config.max_instances;
        let memory_cap = config.memory_cap.max(config.limits.memory_bytes);
        let mut pool = PoolingAllocationConfig::default();
        // A Rust wasm32-wasip2 component holds a handful of core instances, two or
        // three memories and tables; size the pool for that, times `n`.
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(memory_cap)
            // Keeping a little memory resident between instances avoids an madvise
            // per teardown, which serialises on the mm lock (wasm-hosting.md 9.14).
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 16)
            // Without PAGEMAP_SCAN (Linux 6.7+) the whole resident megabyte is memset
            // at every teardown; with it only the pages the instance dirtied are reset
            // (one frame 55 -> 14 us, BENCHMARKS.md). Auto falls back elsewhere.
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut cfg = Config::new();
        // Reserve only what the memory cap allows instead of wasmtime's default 4 GiB
        // per memory: with hundreds of pool slots the default reserves terabytes of
        // address space per host. The price is explicit bounds checks, which cost a
        // few percent of guest speed that message handlers never notice.
        cfg.epoch_interruption(true)
            .memory_reservation(memory_cap as u64)
            .memory_guard_size(64 << 10)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = wasmtime::Engine::new(&cfg).map_err(|e| EngineError(format!("{e:#}")))?;
        let weak = engine.weak();
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = ticks.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    counter.fetch_add(1, Ordering::Relaxed);
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| EngineError(format!("cannot start the epoch ticker: {e}")))?;
        let mut linker = Linker::new(&engine);
        state::add_to_linker(&mut linker).map_err(|e| EngineError(format!("{e:#}")))?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                ticks,
                linker,
                cache: config.cache.clone(),
                trust: std::sync::RwLock::new(Arc::new(config.trust.clone())),
                memory_cap,
                park_budget: ParkBudget::for_pool(n as usize),
            }),
        })
    }

    /// Judge loads from now on by `policy` (a reloaded `[trust]`); plugins already
    /// serving are checked against it at their app's next rescan.
    pub fn set_trust(&self, policy: crate::trust::Policy) {
        *self
            .inner
            .trust
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policy);
    }

    pub(super) fn trust(&self) -> Arc<crate::trust::Policy> {
        self.inner
            .trust
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The largest memory limit a plugin on this engine may have.
    pub fn memory_cap(&self) -> usize {
        self.inner.memory_cap
    }

    /// A runtime for one app on this engine: its services, its default limits, and
    /// its plugins' overrides of them (checked against the pool's slots).
    pub fn runtime<'a>(
        &self,
        services: Services,
        limits: Limits,
        overrides: impl IntoIterator<Item = &'a LimitOverrides>,
    ) -> Result<Runtime, EngineError> {
        let needed = limits.memory_needed(overrides);
        if needed > self.inner.memory_cap {
            return Err(EngineError(format!(
                "a plugin's memory limit ({} MiB) is above the {} MiB the engine's pool was sized for at start; restart the host to raise it",
                needed >> 20,
                self.inner.memory_cap >> 20
            )));
        }
        Ok(Runtime {
            engine: self.clone(),
            services: Arc::new(services),
            limits,
        })
    }
}

/// One app's plugins' runtime: the shared engine with the app's services and limits.
#[derive(Clone)]
pub struct Runtime {
    pub(super) engine: Engine,
    pub(super) services: Arc<Services>,
    pub(super) limits: Limits,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("app", &self.services.app)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// An engine of its own for one app (tools and benchmarks; a host shares one).
    pub fn new(config: &RuntimeConfig, services: Services) -> Result<Self, EngineError> {
        Engine::new(config)?.runtime(services, config.limits.clone(), [])
    }

    /// The engine it runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Why the loaded `plugin` is denied by the trust policy now, if it is: its
    /// digest is listed, or the key that signed it (when a publisher was checked).
    pub fn denied(&self, plugin: &super::call::Plugin) -> Option<String> {
        self.engine.trust().denied_loaded(
            &plugin.sha256,
            plugin.signed_by.as_ref().map(|s| s.key.as_str()),
        )
    }

    /// Which plugin of this app created which card.
    pub fn card_owners(&self) -> Arc<CardOwners> {
        self.services.card_owners()
    }

    /// This app's tools, for dispatch to publish its plugins to.
    pub fn tool_board(&self) -> Arc<Board> {
        self.services.tool_board()
    }
}

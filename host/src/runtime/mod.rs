//! The only code that touches wasmtime: the engine, plugin loading, limits, calls.
//!
//! Lifecycle, in order:
//! 1. [`Runtime::new`] builds one engine (pooling allocator, epoch interruption) and
//!    one linker (WASI p2 plus the `dingtalk:bot` imports), and starts the epoch
//!    ticker thread, which stops by itself when the engine is dropped.
//! 2. [`Runtime::load`] compiles a component once (off the async executor), pre-links
//!    it, and runs a canary: a throwaway instance whose `describe` must answer. Only
//!    then does a [`Plugin`] exist, so a broken file never reaches dispatch.
//! 3. [`Plugin::handle`] runs one frame in a fresh `Store`, instantiated from the
//!    pre-linked component.
//!
//! What ends a `Store`: the call returning, a trap (including the memory cap and the
//! CPU budget), or the wall-clock timeout dropping the call. A store is never reused,
//! so a trapped (poisoned) instance can never be entered again.
//!
//! Limits and what they do not cover: the memory cap counts linear memory only (not
//! tables, not host-side buffers of host calls, which every import bounds by checking
//! argument sizes first and its result's size before building it: see [`capability`];
//! the large results of all of a plugin's frames share one budget, and its DingTalk
//! calls are counted per frame and per second: see [`allowance`]); the CPU budget
//! counts epoch ticks seen while guest code runs: a tick is charged only when the guest
//! was running as its slice ended (the deadline check came on time, and no host call
//! since the last check waited across a tick). Waiting, in a host call or for a worker,
//! is not charged, however many waits a frame makes; a guest computing, or calling
//! cheap host functions in a loop, pays for every tick. (A guest alternating tick-long
//! waits with tick-long work gets that work free: at most half the wall-clock timeout.)
//! Time blocked in host calls is bounded by the wall-clock timeout, host work per call
//! by the argument limits.

pub mod allowance;
mod bindings;
pub mod cache;
pub mod capability;
mod limiter;
mod plugin;
pub(crate) mod reload;
pub(crate) mod scope;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use crate::stream::{Subscription, SubscriptionKind};
pub use capability::Grants;
pub use plugin::{
    HandleError, LoadError, Plugin, PluginConfigs, PluginOutcome, PluginSettings, PluginStats,
    Sha256Pin, describe_error, file_stem,
};
use state::State;
pub use state::{DEFAULT_APP, Services};

/// How often the epoch ticks; the unit of the CPU budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory one instance may grow to. Default 64 MiB: a message handler
    /// needs a few MiB; the cap keeps a leaking plugin from taking the host down.
    pub memory_bytes: usize,
    /// Guest CPU time one call may use. Default 1 s: arithmetic and JSON take
    /// microseconds, so only a runaway loop gets near it.
    pub cpu_budget: Duration,
    /// Wall-clock time one call may take, host calls included. Default 30 s: three
    /// HTTP calls at their 10 s timeout.
    pub wall_timeout: Duration,
    /// Frames of one plugin handled at once. Default 16: a quarter of the host's
    /// in-flight bound, so one slow plugin cannot take every slot.
    pub max_concurrency: usize,
    /// Frames of one plugin waiting for a slot at once; more are failed at once.
    /// Default 1024: a burst DingTalk pushes waits (each waiter is a small task, and
    /// none waits longer than the timeout), a flood does not pile up without bound.
    pub max_queue: usize,
    /// Outbound HTTP requests per frame. Default 16.
    pub http_requests: u32,
    /// Response body bytes per frame, all requests together. Default 16 MiB.
    pub http_response_bytes: u64,
    /// Resolving, connecting and the TLS handshake of one request. Default 5 s.
    pub http_connect_timeout: Duration,
    /// From a request sent to its response head, and between two body chunks.
    /// Default 60 s (a language model may think that long before its first token).
    pub http_first_byte_timeout: Duration,
    /// Longest key-value key. Default 512 bytes.
    pub kv_key_bytes: usize,
    /// Largest key-value value. Default 1 MiB.
    pub kv_value_bytes: usize,
    /// Key-value bytes (keys plus values) one plugin may store. Default 64 MiB.
    pub kv_total_bytes: u64,
    /// Key-value keys one plugin may store. Default 100000.
    pub kv_keys: u64,
    /// Key-value operations per frame. Default 1000: each is host work (and, for the
    /// embedded store, a disk write) the CPU budget does not see.
    pub kv_ops: u32,
    /// Host-side bytes of large host-call results (`kv.get-many`, `media.download`)
    /// one plugin's frames may hold at once, all together. Default 64 MiB: three
    /// downloads of DingTalk's largest file, sixteen full `get-many`s.
    pub host_buffer_bytes: u64,
    /// Replies per frame. Default 10: an answer is one to three.
    pub replies_per_frame: u32,
    /// Card sends, creations, deliveries and updates per frame. Default 50.
    pub card_calls_per_frame: u32,
    /// AI card stream updates per frame. Default 500: a long answer streamed at a
    /// few updates a second for two minutes.
    pub card_streams_per_frame: u32,
    /// Media uploads and downloads per frame. Default 20.
    pub media_calls_per_frame: u32,
    /// Proactive messages per frame. Default 20.
    pub messages_per_frame: u32,
    /// Generic OpenAPI calls per frame. Default 50.
    pub openapi_calls_per_frame: u32,
    /// DingTalk API calls of all kinds per second, per plugin (a token bucket of one
    /// second). Default 1000: DingTalk throttles an app as a whole (about 60 card
    /// updates a second), so one plugin must not spend what its app shares.
    pub dingtalk_calls_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            cpu_budget: Duration::from_secs(1),
            wall_timeout: Duration::from_secs(30),
            max_concurrency: 16,
            max_queue: 1024,
            http_requests: 16,
            http_response_bytes: 16 << 20,
            http_connect_timeout: Duration::from_secs(5),
            http_first_byte_timeout: Duration::from_secs(60),
            kv_key_bytes: 512,
            kv_value_bytes: 1 << 20,
            kv_total_bytes: 64 << 20,
            kv_keys: 100_000,
            kv_ops: 1000,
            host_buffer_bytes: 64 << 20,
            replies_per_frame: 10,
            card_calls_per_frame: 50,
            card_streams_per_frame: 500,
            media_calls_per_frame: 20,
            messages_per_frame: 20,
            openapi_calls_per_frame: 50,
            dingtalk_calls_per_second: 1000,
        }
    }
}

/// Per-plugin changes to the default [`Limits`]; unset fields keep the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Linear memory cap.
    pub memory_bytes: Option<usize>,
    /// CPU budget per frame.
    pub cpu_budget: Option<Duration>,
    /// Wall-clock timeout per frame.
    pub wall_timeout: Option<Duration>,
    /// Frames at once.
    pub max_concurrency: Option<usize>,
    /// Frames waiting at once.
    pub max_queue: Option<usize>,
    /// Outbound requests per frame.
    pub http_requests: Option<u32>,
    /// Response bytes per frame.
    pub http_response_bytes: Option<u64>,
    /// Connect timeout.
    pub http_connect_timeout: Option<Duration>,
    /// First-byte timeout.
    pub http_first_byte_timeout: Option<Duration>,
    /// Longest key.
    pub kv_key_bytes: Option<usize>,
    /// Largest value.
    pub kv_value_bytes: Option<usize>,
    /// Stored bytes.
    pub kv_total_bytes: Option<u64>,
    /// Stored keys.
    pub kv_keys: Option<u64>,
    /// Operations per frame.
    pub kv_ops: Option<u32>,
    /// Host-side result bytes held at once.
    pub host_buffer_bytes: Option<u64>,
    /// Replies per frame.
    pub replies_per_frame: Option<u32>,
    /// Card calls per frame.
    pub card_calls_per_frame: Option<u32>,
    /// Card stream updates per frame.
    pub card_streams_per_frame: Option<u32>,
    /// Media calls per frame.
    pub media_calls_per_frame: Option<u32>,
    /// Proactive messages per frame.
    pub messages_per_frame: Option<u32>,
    /// OpenAPI calls per frame.
    pub openapi_calls_per_frame: Option<u32>,
    /// DingTalk API calls per second.
    pub dingtalk_calls_per_second: Option<u32>,
}

impl Limits {
    /// These limits with `o` applied.
    pub fn with(&self, o: &LimitOverrides) -> Limits {
        Limits {
            memory_bytes: o.memory_bytes.unwrap_or(self.memory_bytes),
            cpu_budget: o.cpu_budget.unwrap_or(self.cpu_budget),
            wall_timeout: o.wall_timeout.unwrap_or(self.wall_timeout),
            max_concurrency: o.max_concurrency.unwrap_or(self.max_concurrency).max(1),
            max_queue: o.max_queue.unwrap_or(self.max_queue),
            http_requests: o.http_requests.unwrap_or(self.http_requests),
            http_response_bytes: o.http_response_bytes.unwrap_or(self.http_response_bytes),
            http_connect_timeout: o.http_connect_timeout.unwrap_or(self.http_connect_timeout),
            http_first_byte_timeout: o
                .http_first_byte_timeout
                .unwrap_or(self.http_first_byte_timeout),
            kv_key_bytes: o.kv_key_bytes.unwrap_or(self.kv_key_bytes),
            kv_value_bytes: o.kv_value_bytes.unwrap_or(self.kv_value_bytes),
            kv_total_bytes: o.kv_total_bytes.unwrap_or(self.kv_total_bytes),
            kv_keys: o.kv_keys.unwrap_or(self.kv_keys),
            kv_ops: o.kv_ops.unwrap_or(self.kv_ops),
            host_buffer_bytes: o.host_buffer_bytes.unwrap_or(self.host_buffer_bytes),
            replies_per_frame: o.replies_per_frame.unwrap_or(self.replies_per_frame),
            card_calls_per_frame: o.card_calls_per_frame.unwrap_or(self.card_calls_per_frame),
            card_streams_per_frame: o
                .card_streams_per_frame
                .unwrap_or(self.card_streams_per_frame),
            media_calls_per_frame: o
                .media_calls_per_frame
                .unwrap_or(self.media_calls_per_frame),
            messages_per_frame: o.messages_per_frame.unwrap_or(self.messages_per_frame),
            openapi_calls_per_frame: o
                .openapi_calls_per_frame
                .unwrap_or(self.openapi_calls_per_frame),
            dingtalk_calls_per_second: o
                .dingtalk_calls_per_second
                .unwrap_or(self.dingtalk_calls_per_second),
        }
    }

    pub(crate) fn cpu_ticks(&self) -> u64 {
        (self.cpu_budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}

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
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_instances: 256,
            limits: Limits::default(),
            memory_cap: 0,
            cache: cache::CacheConfig::default(),
        }
    }
}

/// A failure to set up the engine.
#[derive(Debug, thiserror::Error)]
#[error("failed to set up the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The engine, the linker and the services host calls use.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("app", &self.inner.services.app)
            .field("memory_cap", &self.inner.memory_cap)
            .finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    /// Epoch ticks so far (the engine's epoch, which wasmtime does not expose).
    ticks: Arc<AtomicU64>,
    linker: Linker<State>,
    services: Arc<Services>,
    limits: Limits,
    cache: cache::CacheConfig,
    /// The largest linear memory a pool slot holds: no plugin may be given more.
    memory_cap: usize,
}

impl Runtime {
    /// Build the engine and linker; start the epoch ticker.
    pub fn new(config: &RuntimeConfig, services: Services) -> Result<Self, EngineError> {
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
        let engine = Engine::new(&cfg).map_err(|e| EngineError(format!("{e:#}")))?;
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
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| EngineError(format!("{e:#}")))?;
        capability::add_types_to_linker(&mut linker)
            .and_then(|()| capability::add_to_linker(&mut linker))
            .map_err(|e| EngineError(format!("{e:#}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                ticks,
                linker,
                services: Arc::new(services),
                limits: config.limits.clone(),
                cache: config.cache.clone(),
                memory_cap,
            }),
        })
    }

    /// A runtime on this one's engine (one pool, one ticker, one artifact cache) with
    /// another app's services and default limits: how several apps share a process.
    pub fn share(&self, services: Services, limits: Limits) -> Result<Self, EngineError> {
        if limits.memory_bytes > self.inner.memory_cap {
            return Err(EngineError(format!(
                "a memory limit of {} MiB is above the {} MiB the engine's pool was sized for at start; restart the host to raise it",
                limits.memory_bytes >> 20,
                self.inner.memory_cap >> 20
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                engine: self.inner.engine.clone(),
                ticks: self.inner.ticks.clone(),
                linker: self.inner.linker.clone(),
                services: Arc::new(services),
                limits,
                cache: self.inner.cache.clone(),
                memory_cap: self.inner.memory_cap,
            }),
        })
    }

    /// The largest memory limit a plugin on this engine may have.
    pub fn memory_cap(&self) -> usize {
        self.inner.memory_cap
    }
}

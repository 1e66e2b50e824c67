//! The only code that touches wasmtime: the engine, plugin loading, limits, calls.
//!
//! Lifecycle, in order:
//! 1. [`Engine::new`] builds one engine per process (pooling allocator, epoch
//!    interruption) and one linker (WASI p2, `wasi:http` and the `dingtalk:bot`
//!    imports), and starts the epoch ticker thread ([`engine`]); each app gets a
//!    [`Runtime`] on it with its services and limits.
//! 2. [`Runtime::load`] compiles a component once (off the async executor), pre-links
//!    it, and runs a canary: a throwaway instance whose `describe` must answer. Only
//!    then does a [`Plugin`] exist, so a broken file never reaches dispatch ([`load`]).
//! 3. [`Plugin::handle`] runs one frame in a fresh `Store`, instantiated from the
//!    pre-linked component ([`call`]), metered by [`meter`]; a warm plugin's store
//!    may serve its next frames too ([`warm`]).
//!
//! Layers, lowest first (no module imports one above it): `limits`, `allowance`,
//! `limiter`, `cache`, `scope` → `bindings` → `caller` → `capability/*` → `state`
//! (aggregates the capabilities' states and links their views) → `meter` → `warm` → `call` →
//! `load`, `engine`. This module only declares and re-exports.
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
mod call;
mod caller;
pub mod capability;
mod engine;
mod limiter;
pub mod limits;
mod load;
mod meter;
pub mod scope;
mod state;
pub mod warm;

pub use crate::stream::{Subscription, SubscriptionKind};
pub use call::{AckMode, HandleError, Plugin, PluginOutcome, PluginStats, Signer};
pub use caller::CallTap;
pub use capability::Grants;
pub use engine::{Engine, EngineError, Runtime, RuntimeConfig};
pub use limits::{LimitOverrides, Limits};
pub use load::{LoadError, PluginConfigs, PluginSettings, Publisher, Sha256Pin, file_stem};
pub use scope::FrameScope;
pub use state::{DEFAULT_APP, Services};
pub use warm::{Instances, WarmPolicy};

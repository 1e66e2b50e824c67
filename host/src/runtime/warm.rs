//! Warm instances (`[plugins.<name>] instances = "warm"`): a plugin's instance serves
//! several of its frames, one at a time, instead of one.
//!
//! Invariants:
//! - An instance is parked only after a frame that ended cleanly (the handler
//!   returned), never after a trap, a timeout, a refused memory growth or a spent CPU
//!   budget: the caller decides, [`Pool::park`] only stores.
//! - It serves at most N frames, N drawn at random per instance from the plugin's
//!   range, so a plugin cannot count on a number; at most `max_concurrency` wait
//!   parked, each for at most the idle time.
//! - Across the engine, parked instances hold at most half the pool's instance
//!   slots ([`ParkBudget`]), so warm plugins can never starve fresh ones of a slot.
//! - A retired pool (its plugin replaced by a reload, or unloaded) holds nothing and
//!   parks nothing again.
//! - A pool belongs to one loaded plugin of one app: instances are never shared
//!   between plugins or apps.
//!
//! What each frame starts with in a reused store (scope, host-call counts, budgets)
//! is `State::begin_frame`'s job; this module only keeps and hands out stores.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Store;

use super::bindings;
use super::state::State;

/// How a plugin's frames get their instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Instances {
    /// A fresh instance per frame: nothing survives a frame (the default).
    #[default]
    Fresh,
    /// An instance serves up to N of the plugin's frames, one at a time.
    Warm(WarmPolicy),
}

/// How long a warm instance lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarmPolicy {
    /// N is drawn from this range for each instance (`warm_frames`).
    #[serde(serialize_with = "bounds")]
    pub frames: RangeInclusive<u32>,
    /// A parked instance unused this long is dropped (`warm_idle_ms`).
    #[serde(rename = "idle_ms", serialize_with = "millis")]
    pub idle: Duration,
}

fn bounds<S: serde::Serializer>(r: &RangeInclusive<u32>, s: S) -> Result<S::Ok, S::Error> {
    [*r.start(), *r.end()].serialize(s)
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl WarmPolicy {
    /// Default range of frames per instance (`warm_frames`).
    pub const FRAMES: RangeInclusive<u32> = 1..=128;
    /// Default idle time (`warm_idle_ms`).
    pub const IDLE: Duration = Duration::from_secs(30);
    /// Most frames one instance may be given.
    pub const MAX_FRAMES: u32 = 100_000;

    /// How many frames a new instance serves.
    pub fn draw(&self) -> u32 {
        rand::random_range(self.frames.clone())
    }
}

impl Default for WarmPolicy {
    fn default() -> Self {
        Self {
            frames: Self::FRAMES,
            idle: Self::IDLE,
        }
    }
}

impl std::fmt::Display for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fresh => write!(f, "fresh, one per frame"),
            Self::Warm(p) => write!(
                f,
                "warm, each serves {}-{} frames (drawn at random), dropped after {:?} idle or any failure",
                p.frames.start(),
                p.frames.end(),
                p.idle
            ),
        }
    }
}

/// How many instances may wait parked across one engine: half its pool's instance
/// slots, the rest always free for fresh instances.
#[derive(Debug)]
pub struct ParkBudget {
    limit: usize,
    used: AtomicUsize,
}

impl ParkBudget {
    /// A budget of half of `pool_slots`.
    pub fn for_pool(pool_slots: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: pool_slots / 2,
            used: AtomicUsize::new(0),
        })
    }

    /// One parking place, or none when every one is taken.
    fn claim(self: &Arc<Self>) -> Option<ParkSlot> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.limit).then_some(used + 1)
            })
            .ok()
            .map(|_| ParkSlot(self.clone()))
    }
}

/// A parking place of the [`ParkBudget`], given back when dropped.
struct ParkSlot(Arc<ParkBudget>);

impl Drop for ParkSlot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An instance between two frames.
pub(super) struct Parked {
    pub store: Store<State>,
    pub instance: bindings::Plugin,
    /// Frames it may still serve (at least 1).
    pub frames_left: u32,
    since: Instant,
    /// Its place in the engine's budget while it is parked.
    slot: Option<ParkSlot>,
}

impl Parked {
    /// `instance` in `store`, with `frames_left` frames to go.
    pub fn new(store: Store<State>, instance: bindings::Plugin, frames_left: u32) -> Self {
        Self {
            store,
            instance,
            frames_left,
            since: Instant::now(),
            slot: None,
        }
    }
}

/// One plugin's parked instances.
pub(super) struct Pool {
    policy: WarmPolicy,
    capacity: usize,
    budget: Arc<ParkBudget>,
    parked: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    instances: Vec<Parked>,
    retired: bool,
    /// A sweeper task runs (it ends when nothing is parked).
    sweeping: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("policy", &self.policy)
            .field("parked", &self.len())
            .finish()
    }
}

impl Pool {
    /// A pool for `policy` holding at most `capacity` instances, each also taking a
    /// place of the engine's `budget`.
    pub fn new(policy: WarmPolicy, capacity: usize, budget: Arc<ParkBudget>) -> Arc<Self> {
        Arc::new(Self {
            policy,
            capacity,
            budget,
            parked: Mutex::default(),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many frames a new instance serves.
    pub fn draw(&self) -> u32 {
        self.policy.draw()
    }

    /// The most recently parked instance, unless it has been idle too long (then
    /// every parked one has: they are parked in order).
    pub fn take(&self) -> Option<Parked> {
        let (newest, older) = {
            let mut inner = self.inner();
            let mut newest = inner.instances.pop()?;
            if newest.since.elapsed() < self.policy.idle {
                newest.slot = None;
                return Some(newest);
            }
            (newest, std::mem::take(&mut inner.instances))
        };
        drop((newest, older));
        None
    }

    /// Keep `parked` for the plugin's next frame, unless the pool is retired or full,
    /// or the engine's budget is spent (then it is dropped). Starts the idle sweeper
    /// when it is not running.
    pub fn park(self: &Arc<Self>, mut parked: Parked) {
        parked.since = Instant::now();
        let start_sweeper = {
            let mut inner = self.inner();
            if inner.retired || inner.instances.len() >= self.capacity {
                return;
            }
            let Some(slot) = self.budget.claim() else {
                return;
            };
            parked.slot = Some(slot);
            inner.instances.push(parked);
            !std::mem::replace(&mut inner.sweeping, true)
        };
        if start_sweeper {
            tokio::spawn(sweep(Arc::downgrade(self), self.policy.idle));
        }
    }

    /// Drop every parked instance and park none again.
    pub fn retire(&self) {
        let dropped = {
            let mut inner = self.inner();
            inner.retired = true;
            std::mem::take(&mut inner.instances)
        };
        drop(dropped);
    }

    /// Instances parked now.
    pub fn len(&self) -> usize {
        self.inner().instances.len()
    }
}

/// Drop the instances of `pool` idle for `idle` or longer, until none is parked (or
/// the pool is gone with its plugin).
async fn sweep(pool: Weak<Pool>, idle: Duration) {
    loop {
        tokio::time::sleep(idle / 2).await;
        let Some(pool) = pool.upgrade() else { return };
        // Dropped after the lock is released: a store's teardown returns its pool
        // slot, which is not free.
        let (expired, done): (Vec<Parked>, bool) = {
            let mut inner = pool.inner();
            let (old, kept) = std::mem::take(&mut inner.instances)
                .into_iter()
                .partition(|p| p.since.elapsed() >= idle);
            inner.instances = kept;
            inner.sweeping = !inner.instances.is_empty();
            (old, !inner.sweeping)
        };
        drop(expired);
        if done {
            return;
        }
    }
}

/// The pool of a plugin whose frames get `instances`: none for fresh ones.
pub(super) fn pool_for(
    instances: &Instances,
    capacity: usize,
    budget: &Arc<ParkBudget>,
) -> Option<Arc<Pool>> {
    match instances {
        Instances::Fresh => None,
        Instances::Warm(policy) => Some(Pool::new(policy.clone(), capacity, budget.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawn_frame_count_stays_in_its_range_and_varies() {
        let policy = WarmPolicy {
            frames: 3..=9,
            idle: WarmPolicy::IDLE,
        };
        let drawn: std::collections::BTreeSet<u32> = (0..500).map(|_| policy.draw()).collect();
        assert!(drawn.iter().all(|n| (3..=9).contains(n)), "{drawn:?}");
        assert!(drawn.len() > 1, "always {drawn:?}");
    }

    #[test]
    fn the_park_budget_gives_out_half_the_pool_and_takes_back_what_is_dropped() {
        let budget = ParkBudget::for_pool(5);
        let first = budget.claim().expect("one place");
        let second = budget.claim().expect("two places");
        assert!(budget.claim().is_none(), "half of 5 slots is 2");
        drop(first);
        let third = budget.claim().expect("a place given back");
        assert!(budget.claim().is_none());
        drop((second, third));
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
    }

    #[test]
    fn warm_is_shown_with_its_range_and_idle_time() {
        let shown = Instances::Warm(WarmPolicy::default()).to_string();
        assert!(shown.contains("1-128 frames"), "{shown}");
        assert!(shown.contains("30s idle"), "{shown}");
        assert_eq!(
            serde_json::to_value(Instances::Warm(WarmPolicy::default())).expect("serialises"),
            serde_json::json!({"mode": "warm", "frames": [1, 128], "idle_ms": 30000})
        );
    }
}

//! The CPU meter and the store every call runs in.
//!
//! [`new_store`] makes a `Store` that yields to tokio at every epoch tick, charges a
//! tick to the guest only when guest code was running as its slice ended, and
//! interrupts the guest once its budget is spent. Waiting (in a host call, or for a
//! worker) is never charged: a tick is charged only when the deadline check came on
//! time and no host call since the last check waited across a tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{CallHook, Store, UpdateDeadline};

use super::limiter::Limiter;

/// One call's CPU budget and what the meter needs to charge it.
#[derive(Debug)]
pub struct Meter {
    /// The engine's epoch ticks so far.
    ticks: Arc<AtomicU64>,
    /// Epoch ticks this call may still spend in guest code.
    cpu_ticks_left: u64,
    /// The epoch at which the guest's current CPU slice ends.
    deadline_epoch: u64,
    /// The epoch when the running host call began.
    host_call_epoch: u64,
    /// A host call since the last deadline check waited across a tick.
    host_waited: bool,
}

impl Meter {
    /// A budget of `cpu_ticks` on the engine whose epoch `ticks` counts.
    pub fn new(ticks: Arc<AtomicU64>, cpu_ticks: u64) -> Self {
        Self {
            ticks,
            cpu_ticks_left: cpu_ticks,
            deadline_epoch: 0,
            host_call_epoch: 0,
            host_waited: false,
        }
    }

    fn epoch(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
}

/// A store's state that can be metered.
pub trait Metered: Send + Sized + 'static {
    /// Its CPU meter.
    fn meter(&mut self) -> &mut Meter;
    /// Its memory limiter.
    fn limiter(&mut self) -> &mut Limiter;
}

/// Start the guest's first CPU slice in `store` (new, or reused for another frame
/// with a new meter): it yields to tokio at every tick, so a busy guest never
/// starves other tasks on its worker, and is interrupted once the budget is spent.
pub fn rearm<T: Metered>(store: &mut Store<T>) {
    let meter = store.data_mut().meter();
    meter.deadline_epoch = meter.epoch() + 1;
    store.set_epoch_deadline(1);
}

/// A store for one call with `state`, metered and memory-limited.
pub fn new_store<T: Metered>(engine: &wasmtime::Engine, state: T) -> Store<T> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| s.limiter());
    rearm(&mut store);
    store.epoch_deadline_callback(|mut cx| {
        let meter = cx.data_mut().meter();
        let now = meter.epoch();
        // Charge a tick only if the guest was running when its slice ended: the check
        // came on time and no host call since the last check waited across a tick.
        // Otherwise it was waiting (in a host call, or for a worker): not CPU.
        let waited = now > meter.deadline_epoch || meter.host_waited;
        meter.host_waited = false;
        if !waited {
            if meter.cpu_ticks_left == 0 {
                return Ok(UpdateDeadline::Interrupt);
            }
            meter.cpu_ticks_left -= 1;
        }
        meter.deadline_epoch = now + 1;
        Ok(UpdateDeadline::Yield(1))
    });
    store.call_hook(|mut cx, hook| {
        let meter = cx.data_mut().meter();
        match hook {
            CallHook::CallingHost => meter.host_call_epoch = meter.epoch(),
            CallHook::ReturningFromHost => {
                meter.host_waited |= meter.epoch() > meter.host_call_epoch;
            }
            _ => {}
        }
        Ok(())
    });
    store
}

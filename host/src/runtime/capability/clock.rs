//! Time that never blocks the host: the wall clock, and a sleep that yields the
//! worker (counted against the frame's wall-clock timeout, not its CPU budget).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::runtime::bindings::dingtalk::bot::clock;
use crate::runtime::bindings::linked_view;

/// Longest single sleep a plugin may ask for; the wall-clock limit bounds the total.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The clock reads no state.
pub struct View;

linked_view!(static View);

impl clock::Host for View {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0))
    }

    async fn sleep_ms(&mut self, ms: u32) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms.into()).min(MAX_SLEEP)).await;
        Ok(())
    }
}

//! Time that never blocks the host: the app's clock (the system's, or the one a
//! `host test` moves forward), and a sleep that yields the worker (counted against
//! the frame's wall-clock timeout, not its CPU budget, and never skewed).

use std::time::Duration;

use crate::clock::Clock;
use crate::runtime::bindings::dingtalk::bot::clock;
use crate::runtime::bindings::linked_view;

/// Longest single sleep a plugin may ask for; the wall-clock limit bounds the total.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What the clock interface reads.
pub struct View<'a> {
    /// The app's clock.
    pub clock: &'a Clock,
}

linked_view!(View);

impl clock::Host for View<'_> {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(self.clock.now_ms())
    }

    async fn sleep_ms(&mut self, ms: u32) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms.into()).min(MAX_SLEEP)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::dingtalk::bot::clock::Host as _;

    #[tokio::test]
    async fn plugins_read_the_apps_clock_once_a_test_moves_it() {
        let clock = Clock::adjustable();
        let mut view = View { clock: &clock };
        let before = view.now_ms().await.unwrap();
        clock.advance(Duration::from_secs(86_400));
        assert!(view.now_ms().await.unwrap() >= before + 86_400_000);
    }
}

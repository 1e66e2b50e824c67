//! The host's "now" for what expires: key-value TTLs and the time plugins read.
//!
//! The system clock, or one that a test moves forward (`host test`'s `wait_ms`
//! step) so an hour's expiry is checked in no time. Invariants: a clock never goes
//! back; each host has its own (no global state), shared by its plugins' clock
//! capability and its key-value store; real waits (sleeps, timeouts, a session
//! webhook's expiry, which DingTalk judges by its own clock) are never skewed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, by the system clock plus any skew.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// How far a test moved this clock forward, in ms; `None` for the system's.
    skew: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A clock that [`Clock::advance`] moves forward.
    pub fn adjustable() -> Self {
        Self {
            skew: Some(Arc::default()),
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let skew = self.skew.as_ref().map_or(0, |s| s.load(Ordering::Relaxed));
        system.saturating_add(skew)
    }

    /// Move an adjustable clock `by` forward (saturating: it never wraps round to
    /// the past); false (and no change) for the system's.
    pub fn advance(&self, by: Duration) -> bool {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        match &self.skew {
            Some(skew) => {
                let _ = skew.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                    Some(s.saturating_add(by))
                });
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_moves_forward_and_its_copies_with_it() {
        let clock = Clock::adjustable();
        let copy = clock.clone();
        let before = copy.now_ms();
        assert!(clock.advance(Duration::from_secs(3600)));
        assert!(copy.now_ms() >= before + 3_600_000);
    }

    #[test]
    fn huge_advances_saturate_and_never_wrap_back() {
        let clock = Clock::adjustable();
        let max = Duration::from_millis(u64::MAX);
        assert!(clock.advance(max));
        let once = clock.now_ms();
        assert!(clock.advance(max) && clock.advance(Duration::MAX));
        assert!(clock.now_ms() >= once, "the clock went back");
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::default();
        let before = clock.now_ms();
        assert!(!clock.advance(Duration::from_secs(3600)));
        assert!(clock.now_ms() < before + 3_600_000);
    }
}

//! Quarantine for plugins that keep failing: after `after` consecutive failures
//! (each within `window` of the previous), a plugin's frames get an immediate error
//! ACK instead of burning CPU, for `base` at first, doubling on each repeat up to
//! `cap`. It comes back by itself when the period ends; one success resets it.
//! Time is passed in, so the rules are tested without waiting.

use std::time::{Duration, Instant};

/// Quarantine settings.
#[derive(Debug, Clone)]
pub struct QuarantineConfig {
    /// Consecutive failures that trigger it. Default 5.
    pub after: u32,
    /// Failures further apart than this do not count as consecutive. Default 60 s.
    pub window: Duration,
    /// First quarantine period. Default 30 s.
    pub base: Duration,
    /// Longest quarantine period. Default 10 min.
    pub cap: Duration,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        Self {
            after: 5,
            window: Duration::from_secs(60),
            base: Duration::from_secs(30),
            cap: Duration::from_secs(600),
        }
    }
}

/// One plugin's recent record.
#[derive(Debug, Default, Clone)]
pub struct Health {
    failures: u32,
    last_failure: Option<Instant>,
    until: Option<Instant>,
    times_quarantined: u32,
}

impl Health {
    /// If quarantined at `now`, for how much longer.
    pub fn quarantined(&self, now: Instant) -> Option<Duration> {
        self.until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Whether it was ever quarantined since its last success.
    pub fn failing(&self) -> bool {
        self.times_quarantined > 0
    }

    /// Record a success: everything resets.
    pub fn success(&mut self) {
        *self = Health::default();
    }

    /// Record a failure at `now`; returns the new quarantine period if this one
    /// starts one.
    pub fn failure(&mut self, now: Instant, config: &QuarantineConfig) -> Option<Duration> {
        let consecutive = self
            .last_failure
            .is_some_and(|t| now.saturating_duration_since(t) <= config.window);
        self.failures = if consecutive { self.failures + 1 } else { 1 };
        self.last_failure = Some(now);
        if self.failures < config.after.max(1) {
            return None;
        }
        let factor = 1u32
            .checked_shl(self.times_quarantined.min(16))
            .unwrap_or(u32::MAX);
        let period = config.base.saturating_mul(factor).min(config.cap);
        self.times_quarantined += 1;
        self.failures = 0;
        self.until = Some(now + period);
        Some(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn five_quick_failures_quarantine_and_the_plugin_comes_back_by_itself() {
        let c = QuarantineConfig::default();
        let mut h = Health::default();
        let t = Instant::now();
        for i in 0..4 {
            assert_eq!(h.failure(t + S * i, &c), None);
        }
        assert_eq!(h.failure(t + S * 4, &c), Some(Duration::from_secs(30)));
        assert_eq!(h.quarantined(t + S * 5), Some(Duration::from_secs(29)));
        assert_eq!(h.quarantined(t + S * 34), None);
    }

    #[test]
    fn repeated_quarantines_double_up_to_the_cap_and_a_success_resets() {
        let c = QuarantineConfig {
            after: 1,
            ..QuarantineConfig::default()
        };
        let mut h = Health::default();
        let t = Instant::now();
        let periods: Vec<u64> = (0..7)
            .map(|i| h.failure(t + S * i, &c).unwrap().as_secs())
            .collect();
        assert_eq!(periods, [30, 60, 120, 240, 480, 600, 600]);
        h.success();
        assert_eq!(h.failure(t, &c), Some(Duration::from_secs(30)));
    }

    #[test]
    fn failures_far_apart_are_not_consecutive() {
        let c = QuarantineConfig::default();
        let mut h = Health::default();
        let t = Instant::now();
        for i in 0..10 {
            assert_eq!(h.failure(t + Duration::from_secs(61) * i, &c), None);
        }
    }
}

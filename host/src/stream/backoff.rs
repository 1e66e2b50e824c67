//! Reconnect delays: exponential with jitter, capped.

use std::time::Duration;

/// Delay before reconnect attempt `attempt` (0 = first retry): `base * 2^attempt`,
/// capped at `cap`, plus up to `jitter` (0.0..=1.0, from the caller's RNG) of a base
/// step so a fleet of hosts does not reconnect in lock-step.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX));
    let spread = base.mul_f64(jitter.clamp(0.0, 1.0));
    exp.min(cap).saturating_add(spread).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn delays_double_from_the_base_until_the_cap() {
        let d: Vec<u64> = (0..9).map(|a| backoff(a, S, CAP, 0.0).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX, S, CAP, 0.0), CAP);
    }

    #[test]
    fn jitter_adds_at_most_one_base_step_and_never_passes_the_cap() {
        assert_eq!(backoff(0, S, CAP, 0.5), Duration::from_millis(1500));
        assert_eq!(backoff(10, S, CAP, 1.0), CAP);
        assert_eq!(backoff(0, S, CAP, 7.0), Duration::from_secs(2));
    }
}

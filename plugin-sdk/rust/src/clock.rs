//! Time that never blocks the host.

use std::time::Duration;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    crate::bindings::dingtalk::bot::clock::now_ms()
}

/// Wait without holding up the host (other frames keep flowing). Counts against the
/// call's wall-clock limit, not its CPU budget.
pub fn sleep(duration: Duration) {
    let ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
    crate::bindings::dingtalk::bot::clock::sleep_ms(ms);
}

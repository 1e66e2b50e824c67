//! What every DingTalk HTTP call is sent with: its timeouts and `User-Agent`.

use std::time::Duration;

/// Timeouts of every DingTalk HTTP call.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// TCP + TLS connect. Default 5 s: DingTalk answers in well under a second,
    /// and a hung connect must not stall a reconnect (protocol.md G.9).
    pub connect_timeout: Duration,
    /// Whole request. Default 10 s, like py-HEAD's fix for the SDK's missing timeouts.
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The `User-Agent` of every DingTalk call.
pub(super) const USER_AGENT: &str = concat!("dingtalk-wasm-host/", env!("CARGO_PKG_VERSION"));

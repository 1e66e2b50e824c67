//! Key-value state for plugins: one [`Backend`] trait, two backends.
//!
//! - [`embedded::Embedded`] (the default): one redb file under the state folder.
//! - [`redis::Redis`]: a Redis server shared by several host replicas, which also
//!   keeps their frame claims ([`claims::Claims`], over the same connection).
//!
//! Invariants every backend keeps ([`conformance`] checks them on both):
//! - A [`Namespace`] (app and plugin) is a separate key space: no operation reads,
//!   lists or counts another namespace's keys.
//! - A key past its TTL is invisible at once to every operation; backends sweep it
//!   later.
//! - Each operation is atomic, including the quota check ([`Quota`]) that may refuse
//!   a write with [`KvError::Limit`], which leaves the store unchanged.
//! - A backend that cannot be reached answers [`KvError::Unavailable`]; it never
//!   panics or blocks the async workers.
//!
//! Argument sizes (key, value, counts) are checked by the capability before a
//! backend sees them.

pub mod claims;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod embedded;
pub mod redis;

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

/// Whose keys: an app and one of its plugins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    app: String,
    plugin: String,
}

impl Namespace {
    /// The key space of `plugin` in `app`.
    pub fn new(app: &str, plugin: &str) -> Self {
        Self {
            app: app.to_owned(),
            plugin: plugin.to_owned(),
        }
    }

    /// A prefix no other namespace's prefix starts with (lengths are spelled out,
    /// so `a:bc` and `ab:c` differ).
    pub fn prefix(&self) -> String {
        format!(
            "{}:{}:{}:{}:",
            self.app.len(),
            self.app,
            self.plugin.len(),
            self.plugin
        )
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.plugin)
    }
}

/// What one namespace may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes of keys plus values.
    pub total_bytes: u64,
    /// Keys.
    pub keys: u64,
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// A quota would be exceeded; nothing changed.
    #[error("{0}")]
    Limit(String),
    /// The operation does not apply to the stored value (e.g. increment of text).
    #[error("{0}")]
    Invalid(String),
    /// The backend is down or failed; nothing is known to have changed.
    #[error("{0}")]
    Unavailable(String),
}

/// One page of keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys in byte order.
    pub keys: Vec<String>,
    /// The last key of this page when more may follow.
    pub cursor: Option<String>,
}

/// A result of a backend.
pub type KvResult<T> = Result<T, KvError>;

/// A key-value backend. Futures own their arguments, so callers need not keep
/// anything borrowed across the await.
pub trait Backend: Send + Sync + fmt::Debug {
    /// The value, if set and not expired.
    fn get(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>>;

    /// Set a value with an optional TTL.
    fn set(
        &self,
        ns: Namespace,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<()>>;

    /// Remove; true when it was set.
    fn delete(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<bool>>;

    /// Keys starting with `prefix`, in byte order, after `after`, at most `limit`.
    fn list(
        &self,
        ns: Namespace,
        prefix: String,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, KvResult<KeyPage>>;

    /// Add `delta` to the decimal integer at `key` (missing counts as 0), keeping
    /// its TTL; the new value.
    fn increment(
        &self,
        ns: Namespace,
        key: String,
        delta: i64,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<i64>>;

    /// Set `key` to `value` only if its value is `expected` (`None`: not set).
    fn compare_and_swap(
        &self,
        ns: Namespace,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<bool>>;

    /// Several values, in order; [`KvError::Limit`] when the live values (a repeated
    /// key counted each time) add up to more than `max_bytes`, decided from their
    /// stored sizes before any value is copied.
    fn get_many(
        &self,
        ns: Namespace,
        keys: Vec<String>,
        max_bytes: u64,
    ) -> BoxFuture<'static, KvResult<Vec<Option<Vec<u8>>>>>;
}

/// When a value set at `now` with `ttl` expires, in ms since the epoch (0: never).
pub(crate) fn expiry(now: u64, ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| now.saturating_add(t.as_millis().max(1) as u64))
}

/// `current + delta` for an increment, as the stored text's new value.
pub(crate) fn add(current: Option<&[u8]>, delta: i64) -> KvResult<i64> {
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| KvError::Invalid("the value is not a decimal integer".to_owned()))?,
    };
    current
        .checked_add(delta)
        .ok_or_else(|| KvError::Invalid("the increment overflows a 64-bit integer".to_owned()))
}

/// The error for a `get-many` whose values are larger than one call returns.
pub(crate) fn too_many_bytes(total: u64, max: u64) -> KvError {
    KvError::Limit(format!(
        "the values of these keys add up to {total} bytes; one get-many returns at most {max}"
    ))
}

/// The error for a write that would pass a quota.
pub(crate) fn over_quota(what: &str, limit: u64) -> KvError {
    KvError::Limit(format!(
        "the plugin's key-value store would exceed its {what} quota of {limit}"
    ))
}

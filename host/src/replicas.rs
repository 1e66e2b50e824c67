//! The store replicas of one app share frame claims through (Redis implements it):
//! the contract between dispatch's shared dedup (`dispatch::replicas`) and a backend,
//! below both.

use std::time::Duration;

use futures_util::future::BoxFuture;

/// What the shared store says about a frame's keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This process has the lease: handle it.
    Mine,
    /// Another process holds a live lease.
    Leased,
    /// Handled; its ACK `(code, message, data)`.
    Done(u16, String, String),
}

/// Why the shared store could not answer (it is down, or answered nonsense).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A store of frame claims shared by replicas.
pub trait Replicas: Send + Sync + std::fmt::Debug + 'static {
    /// Claim every key for `owner` for `lease`, unless one is already claimed or done.
    fn claim(
        &self,
        keys: Vec<String>,
        owner: String,
        lease: Duration,
    ) -> BoxFuture<'static, Result<Claim, StoreError>>;

    /// Extend `owner`'s lease on the keys.
    fn renew(
        &self,
        keys: Vec<String>,
        owner: String,
        lease: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Record the frame's ACK under every key for `ttl`.
    fn finish(
        &self,
        keys: Vec<String>,
        ack: (u16, String, String),
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
}

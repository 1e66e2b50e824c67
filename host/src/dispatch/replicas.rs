//! Dedup shared by host replicas (several `host run` processes with one app's
//! credentials): DingTalk pushes each frame to one connection at random and re-pushes
//! slow-ACKed ones to any of them, so a frame must be handled once across processes.
//!
//! Each frame key is claimed in a [`Replicas`] store (Redis: one script, set-if-absent
//! with a TTL) with a lease naming this process. Then:
//! - claimed: this process handles the frame, renewing the lease while it runs, and
//!   stores the ACK under the keys when done;
//! - done elsewhere: the stored ACK is sent again, the frame is not handled;
//! - leased elsewhere: the frame is being handled by another replica, or was, by one
//!   that died. Wait for the ACK to appear or the lease to lapse (a dead replica's
//!   lapses within one lease), then take it over.
//! - store unreachable: dedup falls back to this process alone, with a warning (at
//!   most one per [`WARN_EVERY`]), and frames keep being answered.
//!
//! The local table (`dedup`) is always consulted first, so a re-push to the same
//! process costs no round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::replicas::{Claim, Replicas, StoreError};

/// At most one "shared dedup unavailable" warning per this long.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// How often a waiting replica looks again at a frame leased elsewhere.
const POLL: Duration = Duration::from_millis(100);

/// One app's use of the shared store.
#[derive(Clone)]
pub struct Shared {
    store: Arc<dyn Replicas>,
    /// Prefix of this app's claim keys.
    prefix: String,
    /// This process's lease name.
    owner: String,
    lease: Duration,
    ttl: Duration,
    degraded: Arc<AtomicBool>,
    last_warning: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// What to do with a frame after asking the store.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Handle it (claimed, or the store is unreachable).
    Handle,
    /// Another replica handled it: ACK with this.
    Done(u16, String, String),
    /// Another replica is still handling it after a whole lease: ACK as accepted.
    Elsewhere,
}

impl Shared {
    /// Claims for app `app` in `store`, leased for `lease`, remembered for `ttl`.
    pub fn new(store: Arc<dyn Replicas>, app: &str, lease: Duration, ttl: Duration) -> Self {
        let owner = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Self {
            store,
            prefix: format!("dtwh:dedup:{}:{app}:", app.len()),
            owner,
            lease,
            ttl,
            degraded: Arc::default(),
            last_warning: Arc::default(),
        }
    }

    fn keys(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|k| format!("{}{k}", self.prefix)).collect()
    }

    fn unavailable(&self, e: &StoreError) {
        self.degraded.store(true, Ordering::Relaxed);
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                "shared dedup unavailable, deduplicating in this process only (a frame re-pushed to another replica may be answered twice): {e}"
            );
        }
    }

    fn available(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("shared dedup is back");
        }
    }

    /// Claim the frame with `keys`, waiting out another replica's lease (at most about
    /// two leases).
    pub async fn claim(&self, keys: &[String]) -> Verdict {
        let keys = self.keys(keys);
        let give_up = Instant::now() + self.lease * 2;
        loop {
            match self
                .store
                .claim(keys.clone(), self.owner.clone(), self.lease)
                .await
            {
                Ok(Claim::Mine) => {
                    self.available();
                    return Verdict::Handle;
                }
                Ok(Claim::Done(code, message, data)) => {
                    self.available();
                    return Verdict::Done(code, message, data);
                }
                Ok(Claim::Leased) if Instant::now() < give_up => {
                    self.available();
                    tokio::time::sleep(POLL).await;
                }
                Ok(Claim::Leased) => return Verdict::Elsewhere,
                Err(e) => {
                    self.unavailable(&e);
                    return Verdict::Handle;
                }
            }
        }
    }

    /// Keep the lease on `keys` until the returned guard is dropped.
    pub fn hold(&self, keys: &[String]) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let keys = self.keys(keys);
        tokio::spawn(async move {
            let every = this.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = this
                    .store
                    .renew(keys.clone(), this.owner.clone(), this.lease)
                    .await
                {
                    this.unavailable(&e);
                }
            }
        })
    }

    /// Record the ACK the frame with `keys` got, in the background.
    pub fn finish(&self, keys: &[String], ack: (u16, String, String)) {
        let this = self.clone();
        let keys = self.keys(keys);
        tokio::spawn(async move {
            if let Err(e) = this.store.finish(keys, ack, this.ttl).await {
                this.unavailable(&e);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::BoxFuture;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory store with the Redis script's semantics (no expiry).
    #[derive(Debug, Default)]
    struct Memory {
        values: Mutex<HashMap<String, String>>,
        down: AtomicBool,
    }

    impl Replicas for Memory {
        fn claim(
            &self,
            keys: Vec<String>,
            owner: String,
            _: Duration,
        ) -> BoxFuture<'static, Result<Claim, StoreError>> {
            let result = if self.down.load(Ordering::Relaxed) {
                Err(StoreError("connection refused".to_owned()))
            } else {
                let mut v = self.values.lock().unwrap();
                match keys.iter().find_map(|k| v.get(k).cloned()) {
                    Some(d) if d.starts_with("D") => Ok(Claim::Done(200, "OK".into(), d)),
                    Some(_) => Ok(Claim::Leased),
                    None => {
                        for k in keys {
                            v.insert(k, owner.clone());
                        }
                        Ok(Claim::Mine)
                    }
                }
            };
            Box::pin(async move { result })
        }

        fn renew(
            &self,
            _: Vec<String>,
            _: String,
            _: Duration,
        ) -> BoxFuture<'static, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }

        fn finish(
            &self,
            keys: Vec<String>,
            _: (u16, String, String),
            _: Duration,
        ) -> BoxFuture<'static, Result<(), StoreError>> {
            let mut v = self.values.lock().unwrap();
            for k in keys {
                v.insert(k, "D".into());
            }
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_frame_is_handled_by_the_first_replica_and_acked_again_by_the_others() {
        let store = Arc::new(Memory::default());
        let lease = Duration::from_millis(300);
        let a = Shared::new(store.clone(), "app", lease, Duration::from_secs(60));
        let b = Shared::new(store.clone(), "app", lease, Duration::from_secs(60));
        let other_app = Shared::new(store.clone(), "app2", lease, Duration::from_secs(60));
        let keys = vec!["m:1".to_owned()];
        assert_eq!(a.claim(&keys).await, Verdict::Handle);
        assert_eq!(other_app.claim(&keys).await, Verdict::Handle);
        let started = Instant::now();
        assert_eq!(b.claim(&keys).await, Verdict::Elsewhere);
        assert!(started.elapsed() >= lease * 2, "b waited out the lease");
        a.finish(&keys, (200, "OK".into(), "{}".into()));
        tokio::task::yield_now().await;
        assert!(matches!(b.claim(&keys).await, Verdict::Done(200, _, _)));
    }

    #[tokio::test]
    async fn an_unreachable_store_means_handling_in_this_process() {
        let store = Arc::new(Memory::default());
        store.down.store(true, Ordering::Relaxed);
        let a = Shared::new(
            store.clone(),
            "app",
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        assert_eq!(a.claim(&["m:1".to_owned()]).await, Verdict::Handle);
        assert!(a.degraded.load(Ordering::Relaxed));
        store.down.store(false, Ordering::Relaxed);
        assert_eq!(a.claim(&["m:2".to_owned()]).await, Verdict::Handle);
        assert!(!a.degraded.load(Ordering::Relaxed));
    }
}

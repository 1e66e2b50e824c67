//! What the connections of one app look like now, for readiness, `/status` and the
//! `dingtalk_connections` gauge. The supervisor is the only writer: a connection is
//! listed from the moment its socket is up until its task ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::metrics::AppMetrics;

/// One live connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    /// The supervisor's id for it (1, 2, ... per app).
    pub id: u64,
    /// When its socket opened, ms since the Unix epoch.
    pub opened_unix_ms: u64,
    /// Data frames it delivered.
    pub frames: u64,
}

struct Entry {
    opened_unix_ms: u64,
    frames: Arc<AtomicU64>,
}

/// The app's live connections.
#[derive(Default)]
pub struct LinkStatus {
    live: Mutex<BTreeMap<u64, Entry>>,
    metrics: AppMetrics,
}

impl LinkStatus {
    /// A status that also keeps `dingtalk_connections` in `metrics`.
    pub fn new(metrics: AppMetrics) -> Self {
        Self {
            live: Mutex::default(),
            metrics,
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connection `id` is up; the counter it bumps per data frame.
    pub(crate) fn opened(&self, id: u64) -> Arc<AtomicU64> {
        let frames = Arc::new(AtomicU64::new(0));
        let opened_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut live = self.live();
        live.insert(
            id,
            Entry {
                opened_unix_ms,
                frames: frames.clone(),
            },
        );
        self.metrics.connections(live.len());
        frames
    }

    /// Connection `id` is gone.
    pub(crate) fn closed(&self, id: u64) {
        let mut live = self.live();
        live.remove(&id);
        self.metrics.connections(live.len());
    }

    /// Whether at least one connection is up.
    pub fn connected(&self) -> bool {
        !self.live().is_empty()
    }

    /// The live connections, oldest first.
    pub fn connections(&self) -> Vec<ConnectionStatus> {
        self.live()
            .iter()
            .map(|(id, e)| ConnectionStatus {
                id: *id,
                opened_unix_ms: e.opened_unix_ms,
                frames: e.frames.load(Ordering::Relaxed),
            })
            .collect()
    }
}

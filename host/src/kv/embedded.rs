//! The embedded backend: one redb file, the default.
//!
//! Why redb: pure Rust (no C toolchain, nothing to install), ACID with copy-on-write
//! B-trees and a checksummed commit, so a crash mid-write leaves the last committed
//! state; one file; ordered keys, which `list-keys` needs. (sled is unmaintained,
//! RocksDB and LMDB bring C builds, SQLite a schema for what is a sorted map.)
//!
//! Layout, three tables in one file, every write one transaction:
//! - `data`: namespace prefix + key → expiry (8 bytes, big-endian ms, 0 = never) + value
//! - `expiry`: expiry (big-endian) + namespace prefix + key → (), for the sweeper
//! - `usage`: namespace prefix → (bytes, keys), what the quota checks read
//!
//! An expired entry is ignored by every read and replaced by every write; the
//! sweeper ([`Embedded::sweep`], every [`SWEEP_EVERY`]) deletes it and its usage.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};

use super::{
    Backend, KeyPage, KvError, KvResult, Namespace, Quota, add, expiry, over_quota, too_many_bytes,
};
use crate::clock::Clock;

const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("expiry");
const USAGE: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("usage");

/// How often expired keys are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Expired entries deleted per sweep transaction (bounds how long one write waits).
const SWEEP_BATCH: usize = 10_000;

/// The redb-backed store.
#[derive(Debug, Clone)]
pub struct Embedded {
    db: Arc<Database>,
    path: PathBuf,
    clock: Clock,
}

fn unavailable(e: impl std::fmt::Display) -> KvError {
    KvError::Unavailable(format!("the embedded key-value store failed: {e}"))
}

impl Embedded {
    /// Open (or create) the store at `path`, creating its folder (mode 0700), and
    /// start its sweeper on the current tokio runtime.
    pub fn open(path: &Path) -> Result<Self, String> {
        Self::open_with_clock(path, Clock::default())
    }

    /// [`Embedded::open`], with TTLs judged by `clock`.
    pub fn open_with_clock(path: &Path, clock: Clock) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)
                .map_err(|e| format!("cannot create the state folder {}: {e}", dir.display()))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => format!(
                "cannot open the key-value store {}: another process has it open (give each host its own --state-dir, or share state with --state redis://…)",
                path.display()
            ),
            e => format!("cannot open the key-value store {}: {e}", path.display()),
        })?;
        let store = Self {
            db: Arc::new(db),
            path: path.to_owned(),
            clock,
        };
        store
            .write(|txn| {
                txn.open_table(DATA)?;
                txn.open_table(EXPIRY)?;
                txn.open_table(USAGE)?;
                Ok(())
            })
            .map_err(|e| format!("cannot open the key-value store {}: {e}", path.display()))?;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweeper(Arc::downgrade(&store.db), store.clock.clone()));
        }
        Ok(store)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> KvResult<T>) -> KvResult<T> {
        write(&self.db, f)
    }

    /// Delete expired entries now; how many were deleted.
    pub fn sweep(&self) -> KvResult<u64> {
        sweep(&self.db, self.clock.now_ms())
    }

    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database, u64) -> KvResult<T> + Send + 'static,
    ) -> BoxFuture<'static, KvResult<T>> {
        let db = self.db.clone();
        let now = self.clock.now_ms();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&db, now))
                .await
                .map_err(unavailable)?
        })
    }
}

fn write<T>(db: &Database, f: impl FnOnce(&WriteTransaction) -> KvResult<T>) -> KvResult<T> {
    let txn = db.begin_write().map_err(unavailable)?;
    let out = f(&txn)?;
    txn.commit().map_err(unavailable)?;
    Ok(out)
}

impl From<redb::TableError> for KvError {
    fn from(e: redb::TableError) -> Self {
        unavailable(e)
    }
}

impl From<redb::StorageError> for KvError {
    fn from(e: redb::StorageError) -> Self {
        unavailable(e)
    }
}

fn full_key(ns: &Namespace, key: &str) -> Vec<u8> {
    let mut k = ns.prefix().into_bytes();
    k.extend_from_slice(key.as_bytes());
    k
}

/// A stored entry's expiry and value, `None` when absent or expired at `now`.
fn live(raw: &[u8], now: u64) -> Option<(u64, &[u8])> {
    let (exp, value) = raw.split_at_checked(8)?;
    let exp = u64::from_be_bytes(exp.try_into().ok()?);
    (exp == 0 || exp > now).then_some((exp, value))
}

struct Tables<'t> {
    data: Table<'t, &'static [u8], &'static [u8]>,
    expiry: Table<'t, &'static [u8], ()>,
    usage: Table<'t, &'static [u8], (u64, u64)>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> KvResult<Self> {
        Ok(Self {
            data: txn.open_table(DATA)?,
            expiry: txn.open_table(EXPIRY)?,
            usage: txn.open_table(USAGE)?,
        })
    }

    /// Remove `key` (live or expired) and its usage; its live value, if any.
    fn remove(&mut self, ns: &[u8], key: &[u8], now: u64) -> KvResult<Option<Vec<u8>>> {
        let Some(old) = self.data.remove(key)? else {
            return Ok(None);
        };
        let raw = old.value().to_vec();
        drop(old);
        let exp = u64::from_be_bytes(raw[..8].try_into().unwrap_or_default());
        if exp != 0 {
            let mut ek = exp.to_be_bytes().to_vec();
            ek.extend_from_slice(key);
            self.expiry.remove(ek.as_slice())?;
        }
        let (bytes, keys) = self.usage.get(ns)?.map_or((0, 0), |g| g.value());
        let size = (key.len() - ns.len() + raw.len() - 8) as u64;
        self.usage
            .insert(ns, (bytes.saturating_sub(size), keys.saturating_sub(1)))?;
        Ok(live(&raw, now).map(|(_, v)| v.to_vec()))
    }

    /// Store `value` at `key` (already removed), checking the quota.
    fn put(&mut self, ns: &[u8], key: &[u8], value: &[u8], exp: u64, quota: Quota) -> KvResult<()> {
        let (bytes, keys) = self.usage.get(ns)?.map_or((0, 0), |g| g.value());
        let size = (key.len() - ns.len() + value.len()) as u64;
        if bytes + size > quota.total_bytes {
            return Err(over_quota("bytes", quota.total_bytes));
        }
        if keys + 1 > quota.keys {
            return Err(over_quota("keys", quota.keys));
        }
        let mut raw = Vec::with_capacity(8 + value.len());
        raw.extend_from_slice(&exp.to_be_bytes());
        raw.extend_from_slice(value);
        self.data.insert(key, raw.as_slice())?;
        if exp != 0 {
            let mut ek = exp.to_be_bytes().to_vec();
            ek.extend_from_slice(key);
            self.expiry.insert(ek.as_slice(), ())?;
        }
        self.usage.insert(ns, (bytes + size, keys + 1))?;
        Ok(())
    }

    /// The live expiry of `key` (0 when it never expires), `None` when absent.
    fn expiry_of(&self, key: &[u8], now: u64) -> KvResult<Option<u64>> {
        Ok(self
            .data
            .get(key)?
            .and_then(|g| live(g.value(), now).map(|(e, _)| e)))
    }
}

impl Backend for Embedded {
    fn get(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>> {
        self.blocking(move |db, now| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DATA)?;
            Ok(table
                .get(full_key(&ns, &key).as_slice())?
                .and_then(|g| live(g.value(), now).map(|(_, v)| v.to_vec())))
        })
    }

    fn set(
        &self,
        ns: Namespace,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<()>> {
        self.blocking(move |db, now| {
            write(db, |txn| {
                let mut t = Tables::open(txn)?;
                let prefix = ns.prefix();
                let exp = expiry(now, ttl);
                for (key, value) in &entries {
                    let k = full_key(&ns, key);
                    t.remove(prefix.as_bytes(), &k, now)?;
                    t.put(prefix.as_bytes(), &k, value, exp, quota)?;
                }
                Ok(())
            })
        })
    }

    fn delete(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<bool>> {
        self.blocking(move |db, now| {
            write(db, |txn| {
                let mut t = Tables::open(txn)?;
                let removed = t.remove(ns.prefix().as_bytes(), &full_key(&ns, &key), now)?;
                Ok(removed.is_some())
            })
        })
    }

    fn list(
        &self,
        ns: Namespace,
        prefix: String,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, KvResult<KeyPage>> {
        self.blocking(move |db, now| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DATA)?;
            let ns_prefix = ns.prefix();
            let start = full_key(&ns, &prefix);
            let mut keys = Vec::new();
            let after = after.map(|a| full_key(&ns, &a));
            for entry in table.range(start.as_slice()..)? {
                let (k, v) = entry?;
                let k = k.value();
                if !k.starts_with(&start) {
                    break;
                }
                if after.as_deref().is_some_and(|a| k <= a) || live(v.value(), now).is_none() {
                    continue;
                }
                if keys.len() == limit {
                    let cursor = keys.last().cloned();
                    return Ok(KeyPage { keys, cursor });
                }
                let key = String::from_utf8_lossy(&k[ns_prefix.len()..]).into_owned();
                keys.push(key);
            }
            Ok(KeyPage { keys, cursor: None })
        })
    }

    fn increment(
        &self,
        ns: Namespace,
        key: String,
        delta: i64,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<i64>> {
        self.blocking(move |db, now| {
            write(db, |txn| {
                let mut t = Tables::open(txn)?;
                let prefix = ns.prefix();
                let k = full_key(&ns, &key);
                let exp = t.expiry_of(&k, now)?.unwrap_or(0);
                let old = t.remove(prefix.as_bytes(), &k, now)?;
                let new = add(old.as_deref(), delta)?;
                t.put(
                    prefix.as_bytes(),
                    &k,
                    new.to_string().as_bytes(),
                    exp,
                    quota,
                )?;
                Ok(new)
            })
        })
    }

    fn compare_and_swap(
        &self,
        ns: Namespace,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<bool>> {
        self.blocking(move |db, now| {
            let txn = db.begin_write().map_err(unavailable)?;
            let swapped = {
                let mut t = Tables::open(&txn)?;
                let prefix = ns.prefix();
                let k = full_key(&ns, &key);
                let current = t
                    .data
                    .get(k.as_slice())?
                    .and_then(|g| live(g.value(), now).map(|(_, v)| v.to_vec()));
                if current != expected {
                    false
                } else {
                    t.remove(prefix.as_bytes(), &k, now)?;
                    t.put(prefix.as_bytes(), &k, &value, expiry(now, ttl), quota)?;
                    true
                }
            };
            if swapped {
                txn.commit().map_err(unavailable)?;
            }
            Ok(swapped)
        })
    }

    fn get_many(
        &self,
        ns: Namespace,
        keys: Vec<String>,
        max_bytes: u64,
    ) -> BoxFuture<'static, KvResult<Vec<Option<Vec<u8>>>>> {
        self.blocking(move |db, now| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(DATA)?;
            // Each key looked up once; the guards borrow the stored pages, so the sizes
            // are summed before any value is copied.
            let guards = keys
                .iter()
                .map(|key| table.get(full_key(&ns, key).as_slice()))
                .collect::<Result<Vec<_>, _>>()?;
            let live_value = |g: &Option<redb::AccessGuard<'_, &[u8]>>| {
                g.as_ref()
                    .and_then(|g| live(g.value(), now).map(|(_, v)| v.to_vec()))
            };
            let total: u64 = guards
                .iter()
                .flatten()
                .map(|g| live(g.value(), now).map_or(0, |(_, v)| v.len() as u64))
                .sum();
            if total > max_bytes {
                return Err(too_many_bytes(total, max_bytes));
            }
            Ok(guards.iter().map(live_value).collect())
        })
    }
}

fn sweep(db: &Database, now: u64) -> KvResult<u64> {
    let mut total = 0;
    loop {
        let n = write(db, |txn| {
            let mut t = Tables::open(txn)?;
            let due: Vec<Vec<u8>> = t
                .expiry
                .range(..now.to_be_bytes().as_slice())?
                .take(SWEEP_BATCH)
                .map(|e| e.map(|(k, _)| k.value().to_vec()))
                .collect::<Result<_, _>>()?;
            for ek in &due {
                let key = &ek[8..];
                let ns_len = namespace_len(key);
                t.remove(&key[..ns_len], key, now)?;
                t.expiry.remove(ek.as_slice())?;
            }
            Ok(due.len())
        })?;
        total += n as u64;
        if n < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

/// The length of the namespace prefix `<n>:<app>:<m>:<plugin>:` at the start of `key`.
fn namespace_len(key: &[u8]) -> usize {
    let mut at = 0;
    for _ in 0..2 {
        let colon = key[at..].iter().position(|&b| b == b':').unwrap_or(0);
        let n: usize = std::str::from_utf8(&key[at..at + colon])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        at += colon + 1 + n + 1;
    }
    at.min(key.len())
}

async fn sweeper(db: Weak<Database>, clock: Clock) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let Some(db) = db.upgrade() else { return };
        let now = clock.now_ms();
        match tokio::task::spawn_blocking(move || sweep(&db, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(deleted = n, "expired keys swept"),
            Ok(Err(e)) => tracing::warn!(error = %e, "key-value sweep failed"),
            Err(e) => tracing::warn!(error = %e, "key-value sweep failed"),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTableMetadata;

    fn temp_store(name: &str) -> (Embedded, PathBuf) {
        let dir = std::env::temp_dir().join(format!("host-kv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Embedded::open(&dir.join("kv.redb")).unwrap(), dir)
    }

    #[tokio::test]
    async fn the_embedded_store_passes_the_conformance_suite() {
        let (store, dir) = temp_store("conf");
        crate::kv::conformance::run(&store).await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn values_survive_reopening_the_file() {
        let (store, dir) = temp_store("reopen");
        let ns = Namespace::new("app", "p");
        let quota = Quota {
            total_bytes: 1 << 20,
            keys: 10,
        };
        store
            .set(ns.clone(), vec![("k".into(), b"v".to_vec())], None, quota)
            .await
            .unwrap();
        let path = store.path().to_owned();
        drop(store);
        let store = Embedded::open(&path).unwrap();
        assert_eq!(
            store.get(ns, "k".into()).await.unwrap(),
            Some(b"v".to_vec())
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_sweeper_deletes_expired_keys_and_gives_back_their_quota() {
        let (store, dir) = temp_store("sweep");
        let ns = Namespace::new("app", "p");
        let quota = Quota {
            total_bytes: 1 << 20,
            keys: 2,
        };
        let ttl = Some(Duration::from_millis(20));
        store
            .set(
                ns.clone(),
                vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
                ttl,
                quota,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(store.sweep().unwrap(), 2);
        let db = store.db.clone();
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(DATA).unwrap().len().unwrap(), 0);
        assert_eq!(
            txn.open_table(USAGE)
                .unwrap()
                .get(ns.prefix().as_bytes())
                .unwrap()
                .unwrap()
                .value(),
            (0, 0)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_store_another_process_holds_is_refused_saying_what_to_do() {
        let (store, dir) = temp_store("locked");
        let err = Embedded::open(store.path()).unwrap_err();
        assert!(
            err.contains("another process has it open") && err.contains("--state-dir"),
            "{err}"
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_namespace_prefix_is_found_in_a_stored_key() {
        let ns = Namespace::new("a:b", "p:1");
        let key = full_key(&ns, "x:y");
        assert_eq!(namespace_len(&key), ns.prefix().len());
    }
}

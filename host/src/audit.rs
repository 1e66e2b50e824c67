//! The audit log (`--audit-log FILE`): what the host decided about plugins, as JSON
//! lines an operator or a SIEM reads later: every load, refusal, hold and unload
//! (name, digest, publisher, version, grants, reason), every grant change, denied
//! host calls, and every approval decision.
//!
//! Invariants:
//! - the file is opened append-only, created `0600` (an existing one is narrowed to
//!   `0600`), never through a symlink, and must be a regular file; every line is
//!   written whole and `fsync`ed before the next;
//! - a plugin cannot flood it: denied host calls are aggregated per app, plugin and
//!   capability per window (one line at the first denial, then one with the count at
//!   the window's end), their reasons cut; events queue in a bounded channel and
//!   past its bound are counted and reported as dropped, never block a host call;
//! - without a file, [`Audit`] is a no-op but still remembers each plugin's last
//!   events for `/status`;
//! - it knows nothing of plugins or the runtime: callers pass names and fields.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How many recent events `/status` keeps per plugin.
pub const RECENT: usize = 8;
/// Events queued for the writer before further ones are counted as dropped.
const QUEUE: usize = 1024;
/// The longest denial reason kept.
const MAX_REASON: usize = 256;
/// How long denials are aggregated.
const WINDOW: Duration = Duration::from_secs(60);

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What happened: `load`, `refused`, `held`, `unloaded`, `grants`, `denied`,
    /// `approval`, `dropped`.
    pub event: &'static str,
    /// The app.
    pub app: String,
    /// The plugin (or the file, when it never got a name).
    pub plugin: String,
    /// The event's own fields.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

type Key = (String, String);

/// What the writer thread is sent.
enum Msg {
    Line(Event),
    /// Every line before it is written: stop.
    Stop,
}
type DenialKey = (String, String, String);

struct Denials {
    count: u64,
    reason: String,
    since: Instant,
}

struct Inner {
    /// `None` without a file.
    tx: Option<mpsc::SyncSender<Msg>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    recent: Mutex<BTreeMap<Key, VecDeque<Event>>>,
    denials: Mutex<BTreeMap<DenialKey, Denials>>,
    dropped: AtomicU64,
    window: Duration,
}

/// The audit log handle; clones share one file.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("file", &self.inner.tx.is_some())
            .finish()
    }
}

impl Default for Audit {
    /// No file: events are only remembered for `/status`.
    fn default() -> Self {
        Self::with(None, WINDOW)
    }
}

impl Audit {
    /// Append to `path` (see the module's invariants for how it is opened).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with_window(path, WINDOW)
    }

    /// As [`Audit::open`], aggregating denials over `window`.
    pub fn open_with_window(path: &Path, window: Duration) -> anyhow::Result<Self> {
        let file = open_append(path)?;
        let (tx, rx) = mpsc::sync_channel::<Msg>(QUEUE);
        let shown = path.display().to_string();
        let audit = Self::with(Some(tx), window);
        // The writer also ends denial windows nobody adds to; it holds no strong
        // reference, so dropping every handle still stops it.
        let weak = Arc::downgrade(&audit.inner);
        let writer = std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || write_lines(file, rx, &shown, weak, window))?;
        *lock(&audit.inner.writer) = Some(writer);
        Ok(audit)
    }

    fn with(tx: Option<mpsc::SyncSender<Msg>>, window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                tx,
                writer: Mutex::new(None),
                recent: Mutex::default(),
                denials: Mutex::default(),
                dropped: AtomicU64::new(0),
                window,
            }),
        }
    }

    /// Record `event` about `plugin` of `app` with `fields` (a JSON object; anything
    /// else is recorded under `detail`).
    pub fn record(&self, event: &'static str, app: &str, plugin: &str, fields: serde_json::Value) {
        self.flush_due(false);
        self.emit(Event {
            at: now(),
            event,
            app: app.to_owned(),
            plugin: plugin.to_owned(),
            fields: match fields {
                serde_json::Value::Object(m) => m,
                serde_json::Value::Null => serde_json::Map::new(),
                other => serde_json::Map::from_iter([("detail".to_owned(), other)]),
            },
        });
    }

    /// A host call of `capability` by `plugin` was denied: the first in a window is
    /// written at once, the rest counted and written when the window ends.
    pub fn denied(&self, app: &str, plugin: &str, capability: &str, reason: &str) {
        self.flush_due(false);
        let reason = cut(reason);
        let key = (app.to_owned(), plugin.to_owned(), capability.to_owned());
        let first = {
            let mut denials = lock(&self.inner.denials);
            match denials.get_mut(&key) {
                Some(d) => {
                    d.count += 1;
                    false
                }
                None => {
                    denials.insert(
                        key,
                        Denials {
                            count: 0,
                            reason: reason.clone(),
                            since: Instant::now(),
                        },
                    );
                    true
                }
            }
        };
        if first {
            self.record(
                "denied",
                app,
                plugin,
                serde_json::json!({
                    "capability": capability,
                    "count": 1,
                    "reason": reason,
                }),
            );
        }
    }

    /// The last events about `plugin` of `app`, oldest first.
    pub fn recent(&self, app: &str, plugin: &str) -> Vec<Event> {
        lock(&self.inner.recent)
            .get(&(app.to_owned(), plugin.to_owned()))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Write the counts of every denial window (due or not) and wait until every
    /// queued line is on disk. Later events are still remembered, not written.
    pub fn close(&self) {
        self.flush_due(true);
        let dropped = self.inner.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            self.emit(Event {
                at: now(),
                event: "dropped",
                app: String::new(),
                plugin: String::new(),
                fields: serde_json::Map::from_iter([("count".to_owned(), dropped.into())]),
            });
        }
        let writer = lock(&self.inner.writer).take();
        if let (Some(tx), Some(writer)) = (&self.inner.tx, writer) {
            // The channel keeps its order: every line before `Stop` is written.
            let _ = tx.send(Msg::Stop);
            let _ = writer.join();
        }
    }

    fn flush_due(&self, all: bool) {
        flush_due(&self.inner, all);
    }

    fn emit(&self, event: Event) {
        emit(&self.inner, event);
    }
}

/// Write the aggregated counts of windows that ended (all of them with `all`).
fn flush_due(inner: &Inner, all: bool) {
    let due: Vec<(DenialKey, Denials)> = {
        let mut denials = lock(&inner.denials);
        let keys: Vec<DenialKey> = denials
            .iter()
            .filter(|(_, d)| all || d.since.elapsed() >= inner.window)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| denials.remove(&k).map(|d| (k, d)))
            .collect()
    };
    for ((app, plugin, capability), d) in due {
        if d.count == 0 {
            continue;
        }
        let fields = serde_json::json!({
            "capability": capability,
            "count": d.count,
            "reason": d.reason,
            "window_s": inner.window.as_secs_f64(),
        });
        emit(
            inner,
            Event {
                at: now(),
                event: "denied",
                app,
                plugin,
                fields: match fields {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                },
            },
        );
    }
}

fn emit(inner: &Inner, event: Event) {
    {
        let mut recent = lock(&inner.recent);
        let q = recent
            .entry((event.app.clone(), event.plugin.clone()))
            .or_default();
        if q.len() == RECENT {
            q.pop_front();
        }
        q.push_back(event.clone());
    }
    if let Some(tx) = &inner.tx
        && tx.try_send(Msg::Line(event)).is_err()
    {
        inner.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `reason` cut to [`MAX_REASON`] bytes on a character boundary.
fn cut(reason: &str) -> String {
    if reason.len() <= MAX_REASON {
        return reason.to_owned();
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... (cut)", &reason[..end])
}

fn write_lines(
    mut file: std::fs::File,
    rx: mpsc::Receiver<Msg>,
    shown: &str,
    inner: std::sync::Weak<Inner>,
    window: Duration,
) {
    loop {
        let event = match rx.recv_timeout(window) {
            Ok(Msg::Line(event)) => event,
            Ok(Msg::Stop) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                match inner.upgrade() {
                    Some(inner) => flush_due(&inner, false),
                    None => break,
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut line = match serde_json::to_vec(&event) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("audit log {shown}: cannot encode an event: {e}");
                continue;
            }
        };
        line.push(b'\n');
        if let Err(e) = file.write_all(&line).and_then(|()| file.sync_data()) {
            tracing::error!("audit log {shown}: cannot write: {e}");
        }
    }
}

#[cfg(unix)]
fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .with_context(|| {
            format!(
                "cannot open the audit log {} (it must be a regular file, not a symlink)",
                path.display()
            )
        })?;
    let meta = file.metadata()?;
    anyhow::ensure!(
        meta.is_file(),
        "the audit log {} is not a regular file",
        path.display()
    );
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot narrow {} to 0600", path.display()))?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open the audit log {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn events_are_appended_as_json_lines_to_a_file_only_its_owner_reads() {
        let dir = scratch("lines");
        let path = dir.join("audit.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let audit = Audit::open(&path).unwrap();
        audit.record(
            "load",
            "support",
            "crm",
            serde_json::json!({"version": "1.0.0", "sha256": "ab"}),
        );
        audit.close();
        let got = lines(&path);
        assert_eq!(got[0]["earlier"], true, "appended, never truncated");
        assert_eq!(got[1]["event"], "load");
        assert_eq!(got[1]["plugin"], "crm");
        assert_eq!(got[1]["version"], "1.0.0");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(audit.recent("support", "crm").len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_where_the_log_goes_is_refused() {
        let dir = scratch("symlink");
        let target = dir.join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("audit.jsonl")).unwrap();
        let err = Audit::open(&dir.join("audit.jsonl")).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_flood_of_denials_is_one_line_then_one_count_per_window() {
        let dir = scratch("flood");
        let path = dir.join("audit.jsonl");
        let audit = Audit::open_with_window(&path, Duration::from_millis(50)).unwrap();
        for i in 0..10_000 {
            audit.denied(
                "a",
                "hostile",
                "openapi",
                &format!("route /x/{i} is not granted"),
            );
        }
        std::thread::sleep(Duration::from_millis(60));
        audit.denied("a", "hostile", "openapi", "once more, in a new window");
        audit.close();
        let got = lines(&path);
        let counts: Vec<u64> = got.iter().map(|l| l["count"].as_u64().unwrap()).collect();
        assert_eq!(counts, [1, 9_999, 1], "{got:?}");
        assert!(got[0]["reason"].as_str().unwrap().contains("/x/0"));
        assert!(audit.recent("a", "hostile").len() <= RECENT);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_long_denial_reason_is_cut() {
        let audit = Audit::default();
        audit.denied("a", "p", "http", &"x".repeat(10_000));
        let recent = audit.recent("a", "p");
        assert!(recent[0].fields["reason"].as_str().unwrap().len() <= MAX_REASON + 16);
    }
}

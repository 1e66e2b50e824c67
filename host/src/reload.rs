//! Hot reload: watch the plugin paths, load what changed, swap it in.
//!
//! Each change goes through the same stages as a first load (read, compile or cached
//! artifact, pre-link, canary `describe`, grants); only a plugin that passed them all
//! replaces the old version, in one swap of the routing table. Frames already
//! dispatched finish on the version they started with; frames that arrive after the
//! swap go to the new one. A file that fails any stage leaves the old version serving
//! and the log says why; so does one the upgrade rules hold (`upgrade.rs`: another
//! signing key, a rollback, more requested than granted), which `/status` also shows
//! until the file changes again. A deleted file is unloaded (its in-flight frames finish). If
//! the set of subscriptions changes, the supervisor opens a connection with the new
//! set before retiring the old one.
//!
//! Paths are files, or patterns with one `*` in the file name (`'plugins/*.wasm'`,
//! quoted so the shell leaves it): only a pattern picks up files created later.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument as _;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::audit::Audit;
use crate::dispatch::Dispatcher;
use crate::runtime::{LoadError, Plugin, PluginConfigs, Runtime};
use crate::stream::SupervisorControl;
use crate::upgrade;

/// How long to wait for a burst of file events to settle.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// A path given to `host run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    /// One file.
    File(PathBuf),
    /// Every file in `dir` whose name is `prefix` + anything + `suffix`.
    Pattern {
        /// The folder.
        dir: PathBuf,
        /// Before the `*`.
        prefix: String,
        /// After the `*`.
        suffix: String,
    },
}

impl PathSpec {
    /// A file, or a pattern when the file name holds a `*`.
    pub fn parse(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.split_once('*') {
            Some((prefix, suffix)) if !suffix.contains('*') => PathSpec::Pattern {
                dir: path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from(".")),
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            },
            _ => PathSpec::File(path.to_path_buf()),
        }
    }

    /// The folder to watch.
    pub fn dir(&self) -> PathBuf {
        match self {
            PathSpec::File(f) => match f.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            },
            PathSpec::Pattern { dir, .. } => dir.clone(),
        }
    }

    /// The files it names now.
    pub fn expand(&self) -> Vec<PathBuf> {
        match self {
            PathSpec::File(f) => f.is_file().then(|| f.clone()).into_iter().collect(),
            PathSpec::Pattern {
                dir,
                prefix,
                suffix,
            } => {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    return Vec::new();
                };
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file()
                            && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                                n.len() >= prefix.len() + suffix.len()
                                    && n.starts_with(prefix.as_str())
                                    && n.ends_with(suffix.as_str())
                                    && !n.starts_with('.')
                            })
                    })
                    .collect();
                files.sort();
                files
            }
        }
    }
}

/// What identifies a version of a file on disk.
type Fingerprint = (u64, Option<SystemTime>);

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

struct State {
    loaded: BTreeMap<PathBuf, (Option<Fingerprint>, Arc<Plugin>)>,
}

/// An upgrade the rules hold, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Held {
    /// The held version.
    pub version: String,
    /// Its component's SHA-256.
    pub sha256: String,
    /// Why it is held.
    pub reason: String,
}

/// Held upgrades by plugin name; read by `/status` while a rescan runs.
type HeldTable = Arc<std::sync::Mutex<BTreeMap<String, Held>>>;

/// Reloads plugins into a running host.
#[derive(Clone)]
pub struct Reloader {
    specs: Arc<Vec<PathSpec>>,
    runtime: Runtime,
    configs: Arc<PluginConfigs>,
    dispatcher: Arc<Dispatcher>,
    control: SupervisorControl,
    state: Arc<Mutex<State>>,
    held: HeldTable,
    /// Where loads, refusals, holds and unloads are recorded, and the app's name.
    audit: (Audit, String),
}

/// Record a loaded plugin (replacing `old_version`, on a reload).
pub(crate) fn record_loaded(audit: &Audit, app: &str, plugin: &Plugin, old_version: Option<&str>) {
    audit.record(
        "load",
        app,
        &plugin.name,
        serde_json::json!({
            "version": plugin.version,
            "replaces": old_version,
            "sha256": plugin.sha256,
            "publisher": plugin.signed_by.as_ref().map(ToString::to_string),
            "grants": plugin.grants_shown(),
            "path": plugin.path.display().to_string(),
        }),
    );
}

/// Record a file refused at load or reload (named by its stem, or its path).
pub(crate) fn record_refused(audit: &Audit, app: &str, path: &Path, error: &LoadError) {
    let name =
        crate::runtime::file_stem(path).map_or_else(|| path.display().to_string(), str::to_owned);
    audit.record(
        "refused",
        app,
        &name,
        serde_json::json!({
            "path": path.display().to_string(),
            "reason": error.to_string(),
        }),
    );
}

impl Reloader {
    pub(crate) fn new(
        specs: Vec<PathSpec>,
        runtime: Runtime,
        configs: PluginConfigs,
        dispatcher: Arc<Dispatcher>,
        control: SupervisorControl,
        audit: (Audit, String),
    ) -> Self {
        let loaded = dispatcher
            .plugins()
            .into_iter()
            .map(|p| (p.path.clone(), (fingerprint(&p.path), p)))
            .collect();
        Self {
            specs: Arc::new(specs),
            runtime,
            configs: Arc::new(configs),
            dispatcher,
            control,
            state: Arc::new(Mutex::new(State { loaded })),
            held: HeldTable::default(),
            audit,
        }
    }

    /// The upgrade of `plugin` the rules hold, if any.
    pub fn held(&self, plugin: &str) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(plugin)
            .cloned()
    }

    fn set_held(&self, plugin: &str, held: Option<Held>) {
        let mut table = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match held {
            Some(h) => table.insert(plugin.to_owned(), h),
            None => table.remove(plugin),
        };
    }

    /// Bring the served plugins in line with the files: load new and changed ones
    /// (all of them with `force`), unload deleted ones.
    pub async fn rescan(&self, force: bool) {
        let mut state = self.state.lock().await;
        let desired: BTreeSet<PathBuf> = self.specs.iter().flat_map(PathSpec::expand).collect();
        let mut next = BTreeMap::new();
        let mut changed = false;
        for path in desired {
            let fp = fingerprint(&path);
            let old = state.loaded.get(&path);
            if let Some((old_fp, plugin)) = old
                && *old_fp == fp
                && !force
            {
                next.insert(path, (fp, plugin.clone()));
                continue;
            }
            let started = Instant::now();
            let loaded = self
                .runtime
                .load(&path, &self.configs)
                .await
                .and_then(|plugin| {
                    let other = state
                        .loaded
                        .iter()
                        .chain(next.iter())
                        .find(|(p, (_, o))| **p != path && o.name == plugin.name);
                    match other {
                        Some((other, _)) => Err(LoadError::Duplicate {
                            path: path.clone(),
                            name: plugin.name,
                            other: other.clone(),
                        }),
                        None => Ok(plugin),
                    }
                });
            let held = match (&loaded, old) {
                (Ok(candidate), Some((_, serving))) => {
                    upgrade::judge(&upgrade::Facts::of(serving), &upgrade::Facts::of(candidate))
                }
                _ => None,
            };
            if let (Some(hold), Ok(candidate), Some((_, serving))) = (held, &loaded, old) {
                tracing::error!(
                    plugin = %serving.name,
                    serving_version = %serving.version,
                    held_version = %candidate.version,
                    "upgrade held, the old version keeps serving: {hold}"
                );
                let (audit, app) = &self.audit;
                audit.record(
                    "held",
                    app,
                    &serving.name,
                    serde_json::json!({
                        "version": candidate.version,
                        "serving_version": serving.version,
                        "sha256": candidate.sha256,
                        "publisher": candidate.signed_by.as_ref().map(ToString::to_string),
                        "grants": candidate.grants_shown(),
                        "reason": hold.to_string(),
                    }),
                );
                self.set_held(
                    &serving.name,
                    Some(Held {
                        version: candidate.version.clone(),
                        sha256: candidate.sha256.clone(),
                        reason: hold.to_string(),
                    }),
                );
                next.insert(path, (fp, serving.clone()));
                continue;
            }
            if let Some((_, serving)) = old {
                self.set_held(&serving.name, None);
            }
            match loaded {
                Ok(plugin) => {
                    tracing::info!(
                        plugin = %plugin.name,
                        old_version = old.map(|(_, p)| p.version.as_str()).unwrap_or("-"),
                        new_version = %plugin.version,
                        took_ms = started.elapsed().as_millis() as u64,
                        path = %path.display(),
                        "plugin reloaded"
                    );
                    record_loaded(
                        &self.audit.0,
                        &self.audit.1,
                        &plugin,
                        old.map(|(_, p)| p.version.as_str()),
                    );
                    next.insert(path, (fp, Arc::new(plugin)));
                    changed = true;
                }
                Err(e) => {
                    record_refused(&self.audit.0, &self.audit.1, &path, &e);
                    // Remember the new fingerprint: the same broken file is not
                    // retried until it changes again.
                    match old {
                        Some((_, plugin)) => {
                            tracing::error!(plugin = %plugin.name, "reload failed, the old version keeps serving: {e}");
                            next.insert(path, (fp, plugin.clone()));
                        }
                        None => tracing::error!("new plugin not loaded: {e}"),
                    }
                }
            }
        }
        // A plugin the trust policy denies now (a reloaded deny list) stops serving,
        // whether its file changed or not: its frames go as if it were absent.
        let denied: Vec<(PathBuf, String)> = next
            .iter()
            .filter_map(|(p, (_, plugin))| self.runtime.denied(plugin).map(|why| (p.clone(), why)))
            .collect();
        for (path, _) in &denied {
            next.remove(path);
        }
        for (path, (_, plugin)) in &state.loaded {
            if !next.contains_key(path) {
                let reason = denied
                    .iter()
                    .find(|(p, _)| p == path)
                    .map_or_else(|| "its file is gone".to_owned(), |(_, why)| why.clone());
                self.set_held(&plugin.name, None);
                self.audit.0.record(
                    "unloaded",
                    &self.audit.1,
                    &plugin.name,
                    serde_json::json!({
                        "version": plugin.version,
                        "sha256": plugin.sha256,
                        "reason": reason,
                    }),
                );
                tracing::info!(plugin = %plugin.name, path = %path.display(), "plugin unloaded: {reason}");
                changed = true;
            }
        }
        if changed {
            let before = self.dispatcher.subscriptions();
            self.dispatcher
                .replace(next.values().map(|(_, p)| p.clone()).collect());
            let after = self.dispatcher.subscriptions();
            if before != after {
                if after.is_empty() {
                    tracing::warn!(
                        "no plugins left; keeping the connection, frames get 404 until one is added"
                    );
                } else {
                    self.control.resubscribe(after);
                }
            }
        }
        state.loaded = next;
    }

    /// Watch the paths' folders until `shutdown`; reload on changes (debounced).
    /// (SIGHUP belongs to `host run`, which reloads the configuration and then every
    /// plugin.)
    pub fn watch(self, shutdown: CancellationToken) -> notify::Result<tokio::task::JoinHandle<()>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    let _ = tx.send(());
                }
            })?;
        let dirs: BTreeSet<PathBuf> = self.specs.iter().map(PathSpec::dir).collect();
        for dir in &dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        let span = tracing::Span::current();
        Ok(tokio::spawn(
            async move {
                let _watcher = watcher;
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        Some(()) = rx.recv() => {
                            tokio::time::sleep(DEBOUNCE).await;
                            while rx.try_recv().is_ok() {}
                            self.rescan(false).await;
                        }
                    }
                }
            }
            .instrument(span),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_in_the_file_name_makes_a_pattern() {
        assert_eq!(
            PathSpec::parse(Path::new("plugins/*.wasm")),
            PathSpec::Pattern {
                dir: "plugins".into(),
                prefix: String::new(),
                suffix: ".wasm".into()
            }
        );
        assert_eq!(
            PathSpec::parse(Path::new("a.wasm")),
            PathSpec::File("a.wasm".into())
        );
        assert_eq!(
            PathSpec::parse(Path::new("a.wasm")).dir(),
            PathBuf::from(".")
        );
    }
}

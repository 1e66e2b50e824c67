//! `host run`: connect every app and serve until Ctrl-C or SIGTERM; SIGHUP (and,
//! with `--watch-config`, a change of the config file) reloads the configuration.
//! `host record --out FILE` is `host run` that also records what it receives and
//! does ([`crate::record`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::options::HostOptions;
use crate::apps::{AppSpec, Fleet, Shared};
use crate::egress::Egress;
use crate::metrics::Metrics;
use crate::openapi::HttpConfig;
use crate::reload::PathSpec;
use crate::settings::ConfigFile;
use crate::stream::StreamConfig;

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    pub options: HostOptions,
    /// Plugin components (`.wasm`); shell globs such as `plugins/*.wasm` work. Quote
    /// a pattern (`'plugins/*.wasm'`) to also load files created later. Not with
    /// `[apps]` in the config file, where each app lists its own.
    #[arg(value_name = "PLUGIN.wasm")]
    pub plugins: Vec<PathBuf>,
    /// Do not reload plugins when their files change.
    #[arg(long)]
    pub no_watch: bool,
    /// Serve /metrics, /healthz, /readyz and /status on this address (e.g.
    /// 127.0.0.1:9464). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Reload the config file when it changes, as on SIGHUP.
    #[arg(long, requires = "config")]
    pub watch_config: bool,
    /// Append every load, refusal, hold, grant change, denied host call (counted per
    /// minute) and approval decision to this file as JSON lines (created 0600).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

/// `host record`: `host run`'s arguments, and where the recording goes.
#[derive(Debug, Args)]
pub(super) struct RecordArgs {
    /// The recording (JSON lines; must not exist yet, created 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Keep message texts, rich-text parts, file names, nicknames and group titles
    /// (masked by default; access tokens and ids are masked always).
    #[arg(long)]
    pub keep_text: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Serve as `host run` does, recording into `args.out`.
pub(super) async fn record(args: RecordArgs) -> anyhow::Result<()> {
    let recorder = crate::record::Recorder::create(&args.out, args.keep_text)?;
    tracing::info!(path = %args.out.display(), keep_text = args.keep_text, "recording frames, ACKs and host calls");
    let result = serve(args.run, Some(recorder.clone())).await;
    recorder.close();
    result
}

/// The config file read and resolved: what a reload applies.
struct Loaded {
    specs: Vec<AppSpec>,
    trust: crate::trust::Policy,
    egress: Egress,
    file: ConfigFile,
}

fn load(args: &RunArgs) -> anyhow::Result<Loaded> {
    let opts = &args.options;
    for path in &args.plugins {
        if let PathSpec::File(f) = PathSpec::parse(path)
            && !f.is_file()
            && !f.to_str().is_some_and(crate::oci::OciRef::is)
        {
            anyhow::bail!("cannot load the plugin {}: no such file", f.display());
        }
    }
    let file = opts.file()?;
    let egress = opts.egress(&file)?;
    let policy = file.runtime_config()?.trust;
    let mut specs = file.apps(opts.credentials()?, &args.plugins, egress.secrets())?;
    for spec in &mut specs {
        spec.plugins = super::oci::resolve_locked(
            &spec.plugins,
            opts.config.as_deref(),
            &policy,
            &spec.plugin_configs,
        )
        .with_context(|| format!("app {}", spec.name))?;
    }
    Ok(Loaded {
        specs,
        trust: policy,
        egress,
        file,
    })
}

pub(super) async fn run(args: RunArgs) -> anyhow::Result<()> {
    serve(args, None).await
}

async fn serve(args: RunArgs, recorder: Option<crate::record::Recorder>) -> anyhow::Result<()> {
    let opts = &args.options;
    let loaded = load(&args)?;
    let metrics = if args.admin.is_some() {
        Metrics::enabled()
    } else {
        Metrics::default()
    };
    let admin_token = loaded.file.admin_token(loaded.egress.secrets())?;
    let (kv, replicas) = opts.state.open(&loaded.file)?;
    let shutdown = CancellationToken::new();
    // Read once at start: a reload changes plugins and apps, not these connections.
    let remote_tools = crate::mcp::client::start(
        loaded.file.mcp_servers(loaded.egress.secrets())?,
        &loaded.egress,
        &shutdown,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let audit = match &args.audit_log {
        Some(path) => crate::audit::Audit::open(path)?,
        None => crate::audit::Audit::default(),
    };
    let shared = Shared {
        audit: audit.clone(),
        endpoints: opts.endpoints(),
        runtime: opts.runtime_config(&loaded.file)?,
        dispatch: loaded.file.dispatch_config(),
        stream: StreamConfig::default(),
        http: HttpConfig::default(),
        kv: Some(kv),
        replicas,
        egress: loaded.egress,
        metrics: metrics.clone(),
        watch_plugins: !args.no_watch,
        remote_tools,
        recorder,
    };
    let fleet = Arc::new(
        Fleet::start(shared, loaded.specs)
            .await
            .context("cannot connect to DingTalk")?,
    );
    if let Some(addr) = args.admin {
        crate::admin::serve(addr, fleet.clone(), metrics, admin_token, shutdown.clone())
            .await
            .with_context(|| format!("cannot serve the admin endpoint on {addr}"))?;
    }
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<&'static str>();
    spawn_hangup(reload_tx.clone());
    let _watcher = match (&opts.config, args.watch_config) {
        (Some(path), true) => Some(watch_file(path, reload_tx)?),
        _ => None,
    };
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight frames");
        stop.cancel();
    });
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(why) = reload_rx.recv() => {
                // Coalesce a burst of events (editors write files in several steps).
                tokio::time::sleep(Duration::from_millis(200)).await;
                while reload_rx.try_recv().is_ok() {}
                tracing::info!("{why}: reloading the configuration");
                match load(&args) {
                    Ok(next) => {
                        fleet.set_trust(next.trust);
                        fleet.apply(next.specs, next.egress).await;
                        tracing::info!(apps = ?fleet.serving().await, "configuration reloaded");
                    }
                    Err(e) => tracing::error!("configuration not reloaded, everything keeps running as it was: {e:#}"),
                }
            }
        }
    }
    fleet.shutdown().await;
    audit.close();
    tracing::info!("stopped");
    Ok(())
}

/// Send a reload request on every SIGHUP.
fn spawn_hangup(tx: mpsc::UnboundedSender<&'static str>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        if tx.send("SIGHUP").is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot listen for SIGHUP: {e}"),
        }
    }
    #[cfg(not(unix))]
    drop(tx);
}

/// Send a reload request whenever the config file changes. The folder is watched,
/// not the file, so a file replaced by rename (how editors and ConfigMaps write) is
/// still seen.
fn watch_file(
    path: &Path,
    tx: mpsc::UnboundedSender<&'static str>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let file = std::path::absolute(path)?;
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = file.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.kind.is_modify() | event.kind.is_create()
            && event
                .paths
                .iter()
                .any(|p| p.file_name().map(ToOwned::to_owned) == name)
        {
            let _ = tx.send("the config file changed");
        }
    })
    .context("cannot watch the config file")?;
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    tracing::info!(path = %file.display(), "watching the config file; a change reloads it");
    Ok(watcher)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

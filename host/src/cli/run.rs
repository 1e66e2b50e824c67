//! `host run`: connect and serve until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::HostOptions;
use crate::Host;

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    pub options: HostOptions,
    /// Plugin components (`.wasm`); shell globs such as `plugins/*.wasm` work. Quote
    /// a pattern (`'plugins/*.wasm'`) to also load files created later.
    #[arg(required = true, value_name = "PLUGIN.wasm")]
    pub plugins: Vec<PathBuf>,
    /// Do not reload plugins when their files change.
    #[arg(long)]
    pub no_watch: bool,
}

pub(super) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let opts = &args.options;
    let Some(credentials) = opts.credentials()? else {
        anyhow::bail!(
            "no credentials: set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (or DINGTALK_CLIENT_SECRET_FILE), or pass --client-id and --client-secret-file"
        );
    };
    let file = opts.file()?;
    let host = Host::builder()
        .credentials(credentials)
        .endpoints(opts.endpoints())
        .plugins(&args.plugins)
        .plugin_configs(file.plugin_configs()?)
        .runtime_config(opts.runtime_config(&file))
        .egress(opts.egress(&file)?)
        .kv(opts.state.open(&file)?)
        .build()
        .await?;
    let running = host.start().await.context("cannot connect to DingTalk")?;
    if !args.no_watch {
        running.watch()?;
    }
    let stop = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight frames");
        stop.cancel();
    });
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
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

//! `host mcp`: load plugins as `run` would and serve the tools `[mcp_server]` names
//! to MCP clients over Streamable HTTP until Ctrl-C (see [`crate::mcp`]). No DingTalk
//! connection is made; plugins keep their own grants, limits and key-value state.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::options::HostOptions;
use crate::mcp::McpServer;
use crate::openapi::{Http, HttpConfig};
use crate::runtime::capability::tools::{Board, ToolProvider};
use crate::runtime::{Runtime, Services};

#[derive(Debug, Args)]
pub(super) struct McpArgs {
    #[command(flatten)]
    pub options: HostOptions,
    /// Plugin components (`.wasm`) whose tools may be served.
    #[arg(value_name = "PLUGIN.wasm", required = true)]
    pub plugins: Vec<PathBuf>,
}

pub(super) async fn mcp(args: McpArgs) -> anyhow::Result<()> {
    let file = args.options.file()?;
    let egress = args.options.egress(&file)?;
    let section = file
        .mcp_server
        .as_ref()
        .context("host mcp needs an [mcp_server] section in the config file (--config): its `tools` say what is served")?;
    let server =
        McpServer::parse(section, &file.limits, egress.secrets()).map_err(anyhow::Error::msg)?;
    let configs = file.plugin_configs()?;
    let (store, _) = args.options.state.open(&file)?;
    let runtime = Runtime::new(
        &args.options.runtime_config(&file)?,
        Services::new(
            Http::new(&HttpConfig::default())?,
            &args.options.endpoints(),
            None,
        )
        .with_egress(egress.clone())
        .with_kv(store),
    )?;
    let mut providers: Vec<Arc<dyn ToolProvider>> = Vec::new();
    for path in &args.plugins {
        let plugin = runtime.load(path, &configs).await?;
        providers.push(Arc::new(plugin));
    }
    let board = Arc::new(Board::default());
    board.publish(providers);
    let served = server.served(&board);
    if served.is_empty() {
        anyhow::bail!("[mcp_server] tools: no loaded plugin offers a tool it lists");
    }
    let listener = tokio::net::TcpListener::bind(server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", server.listen))?;
    let url = format!("http://{}{}", listener.local_addr()?, server.path);
    for t in &served {
        let note = if t.needs_approval {
            " (needs approval: refused to MCP clients)"
        } else {
            ""
        };
        println!("serving {} as {}{note}", t.qualified, t.name);
    }
    println!("MCP clients connect to {url}");
    let stop = CancellationToken::new();
    let serving = tokio::spawn(server.serve(listener, board, stop.clone()));
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    stop.cancel();
    serving.await.context("the MCP server task")??;
    Ok(())
}

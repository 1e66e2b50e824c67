//! `sim`: run the DingTalk simulator as a process, for clients in other languages.

use std::net::SocketAddr;

use clap::Parser;

/// A local DingTalk Stream gateway, OpenAPI and webhook simulator.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Client id the simulator accepts.
    #[arg(long, default_value = "dingsimclientid")]
    client_id: String,
    /// Client secret the simulator accepts.
    #[arg(long, default_value = "sim-client-secret")]
    client_secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let sim = sim::Sim::builder()
        .bind(args.listen)
        .credentials(&args.client_id, &args.client_secret)
        .start()
        .await?;
    println!(
        "sim listening on {} (DINGTALK_OPENAPI_ENDPOINT={})",
        sim.addr(),
        sim.url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

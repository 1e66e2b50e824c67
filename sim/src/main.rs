//! `sim`: run the DingTalk simulator as a process (for clients in other languages),
//! or drive a benchmark of any client against it (`sim bench -- <command>`).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

// The benchmark driver shares the machine with the client it measures: every cycle
// it spends in glibc's contended malloc is taken from the client.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A local DingTalk Stream gateway, OpenAPI and webhook simulator.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Push N text messages to a client (W un-replied at most) and report
    /// messages/s, ACK and reply latencies, errors, and the client's RSS and CPU.
    Bench {
        /// Messages measured.
        #[arg(long, short = 'n', default_value_t = 20_000)]
        messages: usize,
        /// Most un-replied messages in flight.
        #[arg(long, short = 'w', default_value_t = 64)]
        window: usize,
        /// Unmeasured messages first.
        #[arg(long, default_value_t = 500)]
        warmup: usize,
        /// Text put before every message (e.g. `py ` for pycalc).
        #[arg(long, default_value = "")]
        prefix: String,
        /// The client under test, given DINGTALK_OPENAPI_ENDPOINT, DINGTALK_CLIENT_ID and
        /// DINGTALK_CLIENT_SECRET.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(Command::Bench {
        messages,
        window,
        warmup,
        prefix,
        command,
    }) = args.command
    {
        let config = sim::bench::BenchConfig {
            messages,
            window,
            warmup,
            command,
            prefix,
        };
        // Dropping the run on Ctrl-C or SIGTERM kills the client (kill_on_drop), so
        // an interrupted benchmark leaves no client behind reconnecting forever.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let report = tokio::select! {
            report = sim::bench::run(&config) => report?,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            _ = terminate.recv() => anyhow::bail!("terminated"),
        };
        println!("{}", report.json_line());
        eprintln!("{}", report.table());
        return Ok(());
    }
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

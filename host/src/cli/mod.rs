//! The command line: `host run`, `host demo`. One file per subcommand; the options
//! they share live in [`options`].
//!
//! Precedence for every setting: flag, then environment variable, then config file.

pub mod build;
mod check;
#[cfg(feature = "dev-tools")]
mod demo;
#[cfg(feature = "dev-tools")]
mod dev;
mod grant;
mod inspect;
mod mcp;
mod new;
mod oci;
mod options;
mod replace;
#[cfg(feature = "dev-tools")]
mod replay;
mod run;
mod sign;
#[cfg(feature = "dev-tools")]
mod simulated;
#[cfg(feature = "dev-tools")]
pub mod test;
#[cfg(feature = "dev-tools")]
mod web;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::settings::ConfigFile;

/// Run DingTalk Stream-mode bots whose handlers are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "host", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to DingTalk and serve frames with the given plugins.
    Run(run::RunArgs),
    /// Serve as `run` does, recording every frame in, ACK out and host call's end
    /// (access tokens and ids masked; texts and names too unless `--keep-text`).
    Record(run::RecordArgs),
    /// Run a recording's frames again through the given plugins against the
    /// embedded simulator; `--to-test FILE` writes them as a conversation test.
    #[cfg(feature = "dev-tools")]
    Replay(replay::ReplayArgs),
    /// Build the example plugins, run them against the embedded simulator and print
    /// a scripted conversation.
    #[cfg(feature = "dev-tools")]
    Demo(demo::DemoArgs),
    /// Load plugins exactly as `run` would and report what each is, or why it would
    /// be refused.
    Check(check::CheckArgs),
    /// Build plugin crates into components (`plugins/<name>.wasm`).
    Build(build::BuildArgs),
    /// Create a plugin crate from the template.
    New(new::NewArgs),
    /// Serve the tools `[mcp_server]` names from the given plugins to MCP clients.
    Mcp(mcp::McpArgs),
    /// Print what a component declares (its manifest) and imports, without running it.
    Inspect(inspect::InspectArgs),
    /// Write what a plugin's manifest requests into its config section (after
    /// showing it; `--yes` for scripts).
    Grant(grant::GrantArgs),
    /// Push a component to an OCI registry (`oci://host/repo:tag`).
    Push(oci::PushArgs),
    /// Pull plugins from OCI registries into the lock file beside the config
    /// (`host.lock`); `--update` moves tags where the upgrade rules allow.
    Pull(oci::PullArgs),
    /// Run conversation tests (TOML) against the embedded simulator with the real
    /// host: a project's `tests/*.toml`, or the files given after a component.
    #[cfg(feature = "dev-tools")]
    Test(test::TestArgs),
    /// Make a publisher key pair (Ed25519) for signing plugins.
    Keygen(sign::KeygenArgs),
    /// Sign a component with a publisher key (tool-conventions format).
    Sign(sign::SignArgs),
    /// Check a component's signature against trusted public keys.
    Verify(sign::VerifyArgs),
    /// Build, run against the embedded simulator, rebuild and reload on source
    /// change, and chat with the bot from a prompt.
    #[cfg(feature = "dev-tools")]
    Dev(dev::DevArgs),
}

/// Logging to stderr (`RUST_LOG`, default `info`), plus `extra` (the dev chat's log
/// layer) when given, which sees `info` and the host's `debug` events (host calls).
fn init_tracing<L>(extra: Option<L>)
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: journald, files and pipes get plain text.
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let extra = extra.map(|l| l.with_filter(tracing_subscriber::EnvFilter::new("info,host=debug")));
    let _ = tracing_subscriber::registry()
        .with(extra)
        .with(stderr)
        .try_init();
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "dev-tools")]
    let web_log = match &cli.command {
        Command::Dev(args) if args.web.is_some() => Some(web::LogSink::new()),
        Command::Demo(args) if args.web.is_some() => Some(web::LogSink::new()),
        _ => None,
    };
    #[cfg(feature = "dev-tools")]
    init_tracing(web_log.as_ref().map(web::LogSink::layer));
    #[cfg(not(feature = "dev-tools"))]
    init_tracing(None::<tracing_subscriber::layer::Identity>);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Record(args) => run::record(args).await,
            #[cfg(feature = "dev-tools")]
            Command::Replay(args) => replay::replay(args).await,
            #[cfg(feature = "dev-tools")]
            Command::Demo(args) => demo::demo(args, web_log).await,
            Command::Check(args) => check::check(args).await,
            Command::Build(args) => build::build(args),
            Command::New(args) => new::new(args),
            Command::Mcp(args) => mcp::mcp(args).await,
            Command::Inspect(args) => inspect::inspect(args).await,
            Command::Grant(args) => grant::grant(args),
            Command::Push(args) => oci::push(args).await,
            Command::Pull(args) => oci::pull(args).await,
            #[cfg(feature = "dev-tools")]
            Command::Test(args) => test::test(args).await,
            Command::Keygen(args) => sign::keygen(args),
            Command::Sign(args) => sign::sign(args),
            Command::Verify(args) => sign::verify(args),
            #[cfg(feature = "dev-tools")]
            Command::Dev(args) => dev::dev(args, web_log).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_environment() {
        let cli = Cli::try_parse_from([
            "host",
            "run",
            "--client-id",
            "flag-id",
            "--openapi-endpoint",
            "http://127.0.0.1:1",
            "a.wasm",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.options.client_id.as_deref(), Some("flag-id"));
        assert_eq!(args.options.endpoints().openapi, "http://127.0.0.1:1");
    }

    #[test]
    fn the_client_secret_can_come_from_a_file_kept_out_of_the_process_list() {
        let file = std::env::temp_dir().join(format!("host-secret-{}", std::process::id()));
        std::fs::write(&file, "s3cr3t\n").unwrap();
        let cli = Cli::try_parse_from([
            "host",
            "run",
            "--client-id",
            "id",
            "--client-secret-file",
            file.to_str().unwrap(),
            "a.wasm",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let credentials = args.options.credentials().unwrap().unwrap();
        assert_eq!(credentials.client_secret.expose(), "s3cr3t");
        let _ = std::fs::remove_file(file);
    }
}

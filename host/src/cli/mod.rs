//! The command line: `host run`, `host demo`. One file per subcommand; the options
//! they share live in [`HostOptions`].
//!
//! Precedence for every setting: flag, then environment variable, then config file.

pub mod build;
mod check;
#[cfg(feature = "dev-tools")]
mod demo;
#[cfg(feature = "dev-tools")]
mod dev;
mod new;
mod run;
#[cfg(feature = "dev-tools")]
mod simulated;
#[cfg(feature = "dev-tools")]
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::{Credentials, DEFAULT_OAPI_ENDPOINT, DEFAULT_OPENAPI_ENDPOINT, Endpoints};
use crate::egress::Egress;
use crate::kv::Backend;
use crate::kv::embedded::Embedded;
use crate::kv::redis::Redis;
use crate::replicas::Replicas;
use crate::runtime::RuntimeConfig;
use crate::runtime::cache::CacheConfig;
use crate::secrets::Secrets;
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
    /// Build, run against the embedded simulator, rebuild and reload on source
    /// change, and chat with the bot from a prompt.
    #[cfg(feature = "dev-tools")]
    Dev(dev::DevArgs),
}

/// Options every subcommand that talks to DingTalk shares.
#[derive(Debug, Clone, Args)]
pub struct HostOptions {
    /// The app's client id (AppKey).
    #[arg(long, env = "DINGTALK_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The app's client secret (AppSecret). As a flag it is visible to every user in
    /// the process list: prefer DINGTALK_CLIENT_SECRET or --client-secret-file.
    #[arg(long, env = "DINGTALK_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A file holding the app's client secret (e.g. a mounted secret).
    #[arg(
        long,
        value_name = "FILE",
        env = "DINGTALK_CLIENT_SECRET_FILE",
        conflicts_with = "client_secret"
    )]
    pub client_secret_file: Option<PathBuf>,
    /// Base URL of the DingTalk OpenAPI.
    #[arg(long, env = "DINGTALK_OPENAPI_ENDPOINT", default_value = DEFAULT_OPENAPI_ENDPOINT)]
    pub openapi_endpoint: String,
    /// Base URL of the legacy DingTalk OpenAPI (media upload).
    #[arg(long, env = "DINGTALK_OAPI_ENDPOINT", default_value = DEFAULT_OAPI_ENDPOINT)]
    pub oapi_endpoint: String,
    /// Host config file (TOML): limits, grants and config values per plugin.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where compiled plugins are cached (default: the user's cache directory).
    #[arg(long, value_name = "DIR", env = "DINGTALK_HOST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every plugin at every start instead of caching.
    #[arg(long)]
    pub no_cache: bool,
    /// Where plugins' key-value state lives.
    #[command(flatten)]
    pub state: StateOptions,
}

/// Where plugins' key-value state lives.
#[derive(Debug, Clone, Default, Args)]
pub struct StateOptions {
    /// Folder of the embedded key-value store, `kv.redb` (default:
    /// $XDG_STATE_HOME/dingtalk-wasm-host, or ~/.local/state/dingtalk-wasm-host).
    #[arg(long, value_name = "DIR", env = "DINGTALK_HOST_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The key-value backend: `redis://host:port/db` to share state between host
    /// replicas; without it (or `state` in the config file), the embedded store.
    #[arg(long, value_name = "URL", env = "DINGTALK_HOST_STATE")]
    pub state: Option<String>,
}

/// The state backend, and with Redis the dedup store replicas share.
pub type Stores = (Arc<dyn Backend>, Option<Arc<dyn Replicas>>);

impl StateOptions {
    /// Open the backend these options (then the config file's `state`) name.
    pub fn open(&self, file: &ConfigFile) -> anyhow::Result<Stores> {
        match self.state.as_deref().or(file.state.as_deref()) {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let store = Arc::new(Redis::connect(url).map_err(anyhow::Error::msg)?);
                tracing::info!(
                    url = store.shown_url(),
                    "key-value state and dedup shared in Redis"
                );
                let claims: Arc<dyn Replicas> = Arc::new(store.claims());
                Ok((store, Some(claims)))
            }
            Some(other) => anyhow::bail!(
                "unknown state backend {other:?}: give a redis:// URL, or leave it out for the embedded store"
            ),
            None => {
                let dir = match &self.state_dir {
                    Some(dir) => dir.clone(),
                    None => default_state_dir()
                        .context("no state folder: set --state-dir (or XDG_STATE_HOME or HOME)")?,
                };
                let store = Embedded::open(&dir.join("kv.redb")).map_err(anyhow::Error::msg)?;
                tracing::info!(path = %store.path().display(), "key-value state in the embedded store");
                Ok((Arc::new(store), None))
            }
        }
    }
}

fn default_state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("dingtalk-wasm-host"))
}

impl HostOptions {
    /// The app's credentials, the secret read from its file when one is given.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(file)) => Some(std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the client secret file {}", file.display())
            })?),
            (None, None) => None,
        };
        Ok(match (&self.client_id, secret) {
            (Some(id), Some(secret)) => Some(Credentials::new(id, secret)),
            _ => None,
        })
    }

    /// The endpoints these options name.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            openapi: self.openapi_endpoint.clone(),
            oapi: self.oapi_endpoint.clone(),
        }
    }

    /// The artifact cache these options ask for.
    pub fn cache(&self) -> CacheConfig {
        if self.no_cache {
            return CacheConfig::off();
        }
        let default = CacheConfig::default();
        CacheConfig {
            dir: self.cache_dir.clone().or(default.dir),
            ..default
        }
    }

    /// The engine settings: limits from the config file, the cache from the flags.
    pub fn runtime_config(&self, file: &ConfigFile) -> RuntimeConfig {
        RuntimeConfig {
            cache: self.cache(),
            ..file.runtime_config()
        }
    }

    /// Outbound HTTP with the config file's `[secrets]`, read now.
    pub fn egress(&self, file: &ConfigFile) -> anyhow::Result<Egress> {
        Ok(Egress::new(Secrets::load(&file.secrets)?))
    }

    /// The config file's contents, or the defaults when none was given.
    pub fn file(&self) -> anyhow::Result<ConfigFile> {
        match &self.config {
            Some(path) => Ok(ConfigFile::load(path)?),
            None => Ok(ConfigFile::default()),
        }
    }
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
            #[cfg(feature = "dev-tools")]
            Command::Demo(args) => demo::demo(args, web_log).await,
            Command::Check(args) => check::check(args).await,
            Command::Build(args) => build::build(args),
            Command::New(args) => new::new(args),
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
